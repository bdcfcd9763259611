"""What hiding a fraction p of the pixels costs the ``holdout`` criterion → ``holdout.md``.

For 256² centre crops of odd-position CBSD68 images (the development sweep's) with Gaussian
noise, the default network runs ``--iters`` steps fitting all but a random fraction p of the
pixels (the ``holdout`` criterion's objective), p ∈ {0.05, 0.1, 0.2}, recording the whole
trajectory. For each run: the peak PSNR (against the plain run's peak over the same steps, from
the development sweep's cache: the cost of the changed objective), the PSNR where the holdout
criterion stops (S = 300), and the PSNR at that stop on the hidden and on the fitted pixels
apart (the hidden pixels are predicted, not fitted: how much worse they are). *Hidden pixels'
share* is PSNR on the fitted pixels − PSNR at the stop: what the whole image would gain if its
hidden pixels were as good as the fitted ones, the most that repairing them afterwards (a short
final phase fitting them too, or filling them from the final estimate) could recover.

Runs are cached in ``--cache`` (one JSON per run), so the script resumes. Usage::

    python benchmarks/holdout_fraction.py [--images 3] [--sigmas 25] [--iters 1500]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autodip.api import restore
from autodip.bench.analyse import criterion_stop, history_peak
from autodip.bench.provenance import provenance, write_report
from autodip.bench.run import degrade, load_clean
from autodip.bench.sweep import Degradation, Job
from autodip.physics.operators import Denoise
from autodip.stopping import create_criterion
from common import SHARED_DATA, cached

IMAGES = ("101087.png", "103070.png", "106024.png", "108070.png")
FRACTIONS = (0.05, 0.1, 0.2)
PATIENCE = 300


def measurement(name: str, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The noisy and clean 256² crop, made exactly as the development sweep makes them."""
    job = Job("dip", str(SHARED_DATA / "cbsd68" / name), Degradation("gaussian", sigma), 0,
              crop=256, gray=False)  # fmt: skip
    clean = load_clean(job)
    noisy, _, reference = degrade(clean, job)
    return noisy, reference


def _psnr_on(estimate: np.ndarray, clean: np.ndarray, where: np.ndarray) -> float:
    mse = float(np.mean(((estimate - clean) ** 2)[:, where]))
    return 10 * math.log10(1 / mse)


def run_one(name: str, sigma: float, fraction: float, iters: int) -> dict[str, Any]:
    noisy, clean = measurement(name, sigma)
    images: dict[int, np.ndarray] = {}

    def keep(report: Any) -> None:  # the estimate at every monitored step, to score it later
        images[report.step] = report.estimate[0].cpu().numpy().copy()

    result = restore(
        noisy, Denoise(), net="hourglass", width=32, iters=iters, seed=0, device="cpu",
        reference=clean, stop="holdout", patience=10 * iters, monitors=[keep],
        criterion_options={"holdout": {"fraction": fraction}}, ensemble=1,
    )  # fmt: skip
    run = {"history": result.history, "criteria": result.criteria, "seconds": result.seconds,
           "iterations": result.iterations}  # fmt: skip
    run["criteria"]["holdout"]["default_patience"] = PATIENCE
    stop = criterion_stop(run, "holdout", PATIENCE)
    hidden = 1 - create_criterion("holdout", fraction=fraction).loss_weights(
        torch.from_numpy(noisy)[None], seed=0
    )
    where = hidden[0, 0].numpy() > 0
    estimate = images[stop["stop"]]
    return {
        "image": name,
        "sigma": sigma,
        "fraction": fraction,
        "peak": history_peak(result.history)[0],
        "stop": stop["stop"],
        "psnr_at_stop": stop["psnr"],
        "psnr_hidden": _psnr_on(estimate, clean, where),
        "psnr_fitted": _psnr_on(estimate, clean, ~where),
        "seconds": result.seconds,
    }


def plain_peak(sweep: Path, name: str, sigma: float, iters: int) -> float | None:
    """The plain default run's peak over its first ``iters`` steps (development sweep cache)."""
    for path in (sweep / "runs").glob("*.json.gz"):
        with gzip.open(path, "rt") as handle:
            run = json.load(handle)
        job = run["job"]
        if (job["kind"], job["network"], job["image"], job["level"]) == (
            "dip", "hourglass-w32", name, sigma
        ):  # fmt: skip
            return history_peak(run["history"], until=iters)[0]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--sigmas", default="25")
    parser.add_argument("--iters", type=int, default=1500)
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/results/holdout-runs"))
    parser.add_argument("--sweep", type=Path, default=Path("benchmarks/results/dev256"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/holdout.md"))
    args = parser.parse_args()
    rows = []
    for name in IMAGES[: args.images]:
        for sigma in map(float, args.sigmas.split(",")):
            for fraction in FRACTIONS:
                path = args.cache / f"{Path(name).stem}-s{sigma:g}-p{fraction:g}-{args.iters}.json"
                row = cached(path, partial(run_one, name, sigma, fraction, args.iters))
                row["plain_peak"] = plain_peak(args.sweep, name, sigma, args.iters)
                rows.append(row)
                print(f"{name} σ={sigma:g} p={fraction:g}: stop {row['psnr_at_stop']:.2f} dB")
    out = [
        "# What hiding pixels costs the holdout criterion",
        "",
        f"- {args.images} images, σ ∈ {{{args.sigmas}}}, {args.iters} iterations; runs cached in "
        f"`{args.cache}`",
        "- default network (hourglass, width 32), 256² centre crops, the development sweep's "
        f"noise; holdout stop with S = {PATIENCE}; *plain peak*: the plain run's peak over the "
        "same steps (development sweep), *cost*: plain peak − holdout run's peak",
        "",
        "| image | σ | p | plain peak | holdout run's peak | cost | PSNR at the holdout stop "
        "| stop step | PSNR on hidden pixels | PSNR on fitted pixels | hidden pixels' share |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        plain = r["plain_peak"]
        cost = f"{plain - r['peak']:.2f}" if plain is not None else "–"
        out.append(
            f"| {r['image']} | {r['sigma']:g} | {r['fraction']:g} | "
            f"{'–' if plain is None else f'{plain:.2f}'} | {r['peak']:.2f} | {cost} | "
            f"{r['psnr_at_stop']:.2f} | {r['stop']} | {r['psnr_hidden']:.2f} | "
            f"{r['psnr_fitted']:.2f} | {r['psnr_fitted'] - r['psnr_at_stop']:.2f} |"
        )
    out += [
        "",
        "Mean over the rows, per p: cost (plain peak − holdout run's peak) and the hidden "
        "pixels' share (the most a repair of the hidden pixels could recover).",
        "",
    ]
    for fraction in FRACTIONS:
        chosen = [r for r in rows if r["fraction"] == fraction and r["plain_peak"] is not None]
        if chosen:
            cost = np.mean([r["plain_peak"] - r["peak"] for r in chosen])
            share = np.mean([r["psnr_fitted"] - r["psnr_at_stop"] for r in chosen])
            out.append(f"- p = {fraction:g}: cost {cost:.2f} dB, hidden pixels' share {share:.2f}")
    settings = {"images": args.images, "sigmas": args.sigmas, "iters": args.iters}
    write_report(args.out, "\n".join(out), {"settings": settings, "rows": rows}, provenance())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
