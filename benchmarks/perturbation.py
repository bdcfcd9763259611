"""Does a shifted Gaussian bank change what DIP returns, against fresh draws? → ``perturbation.md``.

Issue 16 asks for the per-step overhead at ≤ 15 % of a step at 256²; drawing DIP's input
perturbation (one Gaussian value per code value per step) was 15 % of a width-64 step on its own
(``profile-amx.md``). :mod:`autodip.core.perturbation` can instead add a shifted, sign-flipped
view of one Gaussian bank drawn once (``reg_noise_draw="shifted"``): no draw per step, but a
different random stream, so the runs it returns differ from today's. This script measures by how
much, against the only yardstick that means anything here — how much two *fresh* runs differ when
only their seed does:

for the first ``--images`` 256² development crops of ``--sweep`` at ``--sigma`` (noise seeded as
the sweep seeds it), ``restore`` with every default, ``fresh`` at each of ``--seeds`` and
``shifted`` at the first, recording the PSNR at the stop, the run's peak, the stop step and
whether the stop was confirmed. The report sets ``shifted − fresh`` (same seed) beside
``fresh(seed 1) − fresh(seed 0)``. Seconds are recorded but not compared (the runs may share the
CPU: the two draws' speed is measured by ``benchmarks/step_profile.py``). Each run is cached in
``--cache``; ``--workers 2`` runs two at a time, one thread each. Usage::

    python benchmarks/perturbation.py --images 4 --sigma 25 --workers 2
"""

from __future__ import annotations

import argparse
import statistics
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from autodip.bench.provenance import provenance, write_report
from common import cached
from time_to_stop import jobs

DRAWS = ("fresh", "shifted")


def run_one(job: Any, draw: str, seed: int, threads: int) -> dict[str, Any]:
    """``restore`` with every default but ``reg_noise_draw`` and ``seed`` on the job's crop."""
    import time

    import torch

    from autodip.api import restore
    from autodip.bench.run import degrade, load_clean
    from autodip.metrics.full_reference import psnr
    from autodip.physics.operators import Denoise

    torch.set_num_threads(threads)
    noisy, _, reference = degrade(load_clean(job), job)
    started = time.perf_counter()
    result = restore(
        noisy,
        Denoise(),
        seed=seed,
        reference=reference,
        fit_options={"reg_noise_draw": draw},
        ensemble=1,
    )
    return {
        "image": job.image,
        "sigma": job.degradation.level,
        "draw": draw,
        "seed": seed,
        "noisy_psnr": psnr(noisy, reference),
        "psnr": psnr(result.image[0].numpy(), reference),
        "peak": max(h["psnr"] for h in result.history if "psnr" in h),
        "stop_step": result.stop_step,
        "iterations": result.iterations,
        "confirmed": result.confirmed,
        "width": result.config["net"]["options"].get("width"),
        "seconds": time.perf_counter() - started,
    }


def markdown(rows: list[dict[str, Any]], seeds: list[int]) -> list[str]:
    """Per-image PSNR at the stop for each draw and seed, and the two differences' means."""
    by = {(r["image"], r["draw"], r["seed"]): r for r in rows}
    images = list(dict.fromkeys(r["image"] for r in rows))
    first, second = seeds[0], seeds[-1]
    runs = [("fresh", s) for s in seeds] + [("shifted", first)]
    head = " | ".join(f"{d} s{s} dB (stop/steps)" for d, s in runs)
    lines = [
        f"| image | σ | noisy dB | {head} | shifted − fresh (s{first}) | "
        f"fresh s{second} − fresh s{first} | peak: shifted − fresh (s{first}) |",
        "|---|---|---|" + "---|" * len(runs) + "---|---|---|",
    ]
    shifted_gap, seed_gap, peak_gap = [], [], []
    for image in images:
        cells = []
        for draw, seed in runs:
            r = by.get((image, draw, seed))
            cells.append(
                "–"
                if r is None
                else f"{r['psnr']:.2f} ({r['stop_step']}/{r['iterations']}"
                + ("" if r["confirmed"] else ", unconfirmed")
                + ")"
            )
        fresh, shifted = by.get((image, "fresh", first)), by.get((image, "shifted", first))
        other = by.get((image, "fresh", second))
        d_shift = shifted["psnr"] - fresh["psnr"] if fresh and shifted else None
        d_seed = other["psnr"] - fresh["psnr"] if fresh and other and second != first else None
        d_peak = shifted["peak"] - fresh["peak"] if fresh and shifted else None
        for gaps, d in ((shifted_gap, d_shift), (seed_gap, d_seed), (peak_gap, d_peak)):
            if d is not None:
                gaps.append(d)
        any_row = next(r for r in rows if r["image"] == image)
        lines.append(
            f"| {Path(image).name} | {any_row['sigma']:g} | {any_row['noisy_psnr']:.2f} | "
            + " | ".join(cells)
            + " | "
            + " | ".join("–" if d is None else f"{d:+.2f}" for d in (d_shift, d_seed, d_peak))
            + " |"
        )

    def summary(gaps: list[float]) -> str:
        if not gaps:
            return "–"
        return (
            f"mean {statistics.fmean(gaps):+.2f} dB, mean |·| "
            f"{statistics.fmean(abs(g) for g in gaps):.2f} dB over {len(gaps)} image(s)"
        )

    lines += [
        "",
        f"- shifted − fresh, same seed, PSNR at the stop: {summary(shifted_gap)}",
        f"- fresh − fresh, seed {second} against seed {first} (the run-to-run drift): "
        f"{summary(seed_gap)}",
        f"- shifted − fresh, same seed, the runs' peaks: {summary(peak_gap)}",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=Path("benchmarks/sweeps/dev256.json"))
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/results/perturbation-runs"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/perturbation.md"))
    parser.add_argument(
        "--analyse-only", action="store_true", help="write the report from the cached runs"
    )
    args = parser.parse_args()
    # fresh at every seed (their spread is the yardstick), shifted at the first seed
    todo = [
        (job, draw, seed)
        for job in jobs(args.sweep, args.sigma, args.images)
        for seed in args.seeds
        for draw in DRAWS
        if draw == "fresh" or seed == args.seeds[0]
    ]
    threads = 1 if args.workers > 1 else 2

    def path(job: Any, draw: str, seed: int) -> Path:
        return args.cache / f"{Path(job.image).stem}-s{args.sigma:g}-{draw}-seed{seed}.json"

    if args.analyse_only:
        rows = [cached(path(*t), dict) for t in todo if path(*t).exists()]
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [
                pool.submit(
                    cached, path(job, draw, seed), partial(run_one, job, draw, seed, threads)
                )
                for job, draw, seed in todo
            ]
            rows = []
            for future in futures:
                rows.append(future.result())
                r = rows[-1]
                print(f"{Path(r['image']).name} {r['draw']} seed {r['seed']}: "
                      f"{r['psnr']:.2f} dB", flush=True)  # fmt: skip
    lines = [
        f"- the first {args.images} crops of `{args.sweep}`, σ = {args.sigma:g}, every default "
        "(network, budget, criteria, placement) but the perturbation's draw and the seed; "
        f"{'two runs at a time, one thread each' if args.workers > 1 else 'one run at a time'}",
        "",
        *markdown(rows, args.seeds),
    ]
    write_report(
        args.out,
        "# Shifted-bank perturbation against fresh draws\n\n" + "\n".join(lines) + "\n",
        rows,
        provenance(sigma=args.sigma, images=args.images, seeds=args.seeds),
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
