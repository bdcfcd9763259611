"""``autodip bench``: sweep images × degradations × networks × criteria; write the papers' tables.

:func:`run_sweep` expands a :class:`~autodip.bench.sweep.Sweep` into jobs, runs those not cached
(:mod:`autodip.bench.execute`) and writes the results (:mod:`autodip.bench.results`);
:func:`rebuild_report` rewrites rows and report from the cached histories for other patiences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autodip.bench.execute import Cache, execute
from autodip.bench.results import write_results
from autodip.bench.sweep import Job, Sweep, expand

__all__ = ["Sweep", "rebuild_report", "run_sweep"]


def run_sweep(
    sweep: Sweep,
    folder: Path,
    *,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    checkpoint_every: int = 0,
    log: Any = None,
) -> tuple[Path, dict[str, int]]:
    """Run ``sweep`` into ``folder`` (resumable); return the report's path and the job counts.

    ``checkpoint_every``: each DIP run saves its state that often, and a rerun continues an
    unfinished run from it (:func:`autodip.bench.execute.execute`).
    """
    jobs = expand(sweep)  # checks every name and finds the images before anything is written
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    saved = folder / "sweep.json"
    free = {"patience", "device"}  # neither changes what a run computes
    previous = json.loads(saved.read_text()) if saved.exists() else None
    changed = sorted(
        k for k in (previous or {}) if k not in free and previous[k] != sweep.to_dict().get(k)
    )
    if changed and not _extends(previous, jobs):
        raise ValueError(
            f"'{folder}' holds another sweep (it differs in {', '.join(changed)}); use another "
            "folder, or settings whose jobs include all of its jobs to continue it"
        )
    from autodip.reporting.files import write_json

    write_json(saved, sweep.to_dict())
    cache = Cache(folder / "runs")
    options = {
        "workers": workers,
        "backend": backend,
        "address": address,
        "checkpoint_every": checkpoint_every,
    }
    counts = (
        execute(jobs, cache, **options) if log is None else execute(jobs, cache, log=log, **options)
    )
    return _write(folder, sweep, jobs, cache, sweep.patience), counts


def _extends(previous: dict[str, Any], jobs: list[Job]) -> bool:
    """Whether ``jobs`` include every job of the saved sweep ``previous``, in any order.

    Reordering a sweep's lists (images, degradations, …) changes only the order its jobs run in,
    and adding an image or a noise level only adds jobs: the folder's cache still holds runs of
    this sweep, each under its own key. Anything that changes a job already run (the steps, the
    criteria a trajectory records, …) makes another sweep.
    """
    try:
        before = expand(Sweep(**previous))
    except (TypeError, ValueError, FileNotFoundError):
        return False
    return {job.key for job in before} <= {job.key for job in jobs}


def rebuild_report(folder: Path, patiences: list[int] | None = None) -> Path:
    """Rewrite rows and report of ``folder`` from its cached runs (nothing is run)."""
    folder = Path(folder)
    if not (folder / "sweep.json").exists():
        raise FileNotFoundError(f"'{folder}' holds no sweep (no sweep.json)")
    sweep = Sweep(**json.loads((folder / "sweep.json").read_text()))
    return _write(folder, sweep, expand(sweep), Cache(folder / "runs"), patiences or sweep.patience)


def _write(folder: Path, sweep: Sweep, jobs: list[Job], cache: Cache, patiences: list[int]) -> Path:
    runs = [cache.load(job) for job in jobs if cache.has(job)]
    if not runs:
        raise ValueError(f"no finished runs in '{folder}' yet")
    return write_results(folder, sweep.to_dict(), runs, list(patiences))
