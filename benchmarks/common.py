"""Helpers shared by the benchmark scripts: result caching, the locks that share a sweep, the data.

What the scripts compute comes from the library: stop replay and peaks from
:mod:`autodip.bench.analyse`, degradations from :mod:`autodip.physics.noise`, and the command,
machine, versions and date of every result, with the writer of its ``X.md`` and ``X.json``, from
:mod:`autodip.bench.provenance`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The project's shared data folder (``../shared/data`` beside the repository).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def cached(path: Path, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Load ``path`` if a finished run left it there, else run ``make`` and store its result.

    The file is written atomically, so an interrupted benchmark never leaves a partial entry and
    a rerun resumes where it stopped.
    """
    if path.exists():
        return json.loads(path.read_text())
    from autodip.reporting.files import write_json

    data = make()
    write_json(path, data)
    return data


def claim(lock: Path) -> bool:
    """Take ``lock`` for this process (False if another benchmark instance holds it).

    Several instances can share one sweep: each runs the items it claims, the cache collects the
    results, and a last ``--analyse-only`` pass writes the report from all of them.
    """
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def defaults_beside_cbm3d(
    job: Any, *, record_psnr: bool, checkpoint: Path | None = None
) -> dict[str, Any]:
    """Restore a sweep job's noisy image with every default, then CBM3D (σ̂) on the same file.

    Each is timed by the wall clock from its call to its return. ``record_psnr`` passes the clean
    image to :func:`autodip.api.restore` as ``reference`` (PSNR at the monitored steps, for the
    run's peak; it does not steer the run). Returns the noisy image, the reference, the run's
    result and estimate, their seconds, and ``run`` (network, placement, stop, steps,
    confirmation, the adaptive budget's cap) and ``bm3d`` (σ used, PSNR, SSIM, seconds) records.

    ``checkpoint``: a file where the run saves its state every
    :data:`autodip.defaults.BENCH_CHECKPOINT_EVERY` steps and, when it is there, resumes from
    (:mod:`autodip.core.checkpoint`: the same result as an uninterrupted run), so that a long run
    goes on across sessions; deleted once the run is done. A checkpoint that cannot serve (another
    run's, or saved on another device) is deleted and the run starts afresh. A resumed run's
    ``seconds`` are the run's own clock summed over its segments (``run["resumed"]``), since the
    wall clock saw only the last. A run ended by Ctrl-C raises :class:`KeyboardInterrupt` again
    rather than return its unfinished estimate as a result.
    """
    import time

    from autodip.api import restore
    from autodip.bench.baselines import denoise_baseline
    from autodip.bench.run import degrade, fit_resuming, load_clean
    from autodip.core.checkpoint import Checkpointing
    from autodip.defaults import BENCH_CHECKPOINT_EVERY
    from autodip.metrics.full_reference import psnr, ssim
    from autodip.physics.operators import Denoise

    noisy, _, reference = degrade(load_clean(job), job)

    def fit(resume: bool) -> Any:
        return restore(
            noisy,
            Denoise(),
            reference=reference if record_psnr else None,
            ensemble=1,  # these tables are of single runs; ensembles have their own
            checkpoint=None
            if checkpoint is None
            else Checkpointing(checkpoint, every=BENCH_CHECKPOINT_EVERY, resume=resume),
        )

    started = time.perf_counter()
    result = fit_resuming(fit, checkpoint, log=lambda line: print(line, flush=True))
    resumed = "resumed_from_step" in result.config
    seconds = result.seconds if resumed else time.perf_counter() - started
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    started = time.perf_counter()
    denoised, sigma_used, _ = denoise_baseline("bm3d", noisy, None)
    bm3d_seconds = time.perf_counter() - started
    return {
        "noisy": noisy,
        "reference": reference,
        "result": result,
        "estimate": result.image[0].numpy(),
        "seconds": seconds,
        "run": {
            "net": result.config["net"]["name"],
            "width": result.config["net"]["options"].get("width"),
            "placement": result.config["placement"],
            "stop_step": result.stop_step,
            "iterations": result.iterations,
            "confirmed": result.confirmed,
            "confirmed_by": result.config.get("confirmed_by"),
            "cap": result.config["budget"]["cap"],  # the adaptive budget's (None: a hard budget)
            "patience": result.config["task"]["default_patience"],  # the stop's S for this size
            **({"resumed": True} if resumed else {}),
        },
        "bm3d": {
            "sigma": sigma_used,
            "psnr": psnr(denoised, reference),
            "ssim": ssim(denoised, reference),
            "seconds": bm3d_seconds,
        },
    }
