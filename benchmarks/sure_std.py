"""How large ``sure``'s pseudo-noise should be → ``sure_std.md``.

``sure`` (:mod:`autodip.stopping.sure`) reads the divergence of the run from the projection of
the estimate on a pseudo-noise ``p`` of std ``s`` that the network fits with the image (OSC's,
``s = 1/25`` by default). Stein's lemma holds for any ``s``, but ``p`` is noise the network fits
too: it lowers the peak, by more the larger ``s`` is against the real noise σ, while a smaller
``s`` leaves the projection noisier. This probe runs, per image and σ, the plain run (no
pseudo-noise, no stop: its peak is what the others are measured against) and one ``sure`` run
per ``s`` (patience so long that nothing stops it: the whole trajectory is recorded), and reports
each ``s``'s peak and the PSNR where the shared rule (S = 300) stops it within the budget.

A probe at 128² (width 32, the size's default network) to choose ``s`` before 256² runs; the
numbers that judge ``sure`` at real sizes are ``osc_window.md``'s.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/sure_std.py [--images 4] [--sigmas 15 25] [--iters 2000]
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.bench.analyse import peak, replay_stop
from autodip.bench.provenance import provenance, write_report
from autodip.stopping.sure import SteinRisk
from common import cached

#: The first development images (odd CBSD68 positions, as the 256² sweeps).
IMAGES = ["101087", "103070", "106024", "108070"]
#: Pseudo-noise stds tried (0: the plain run), on the [0, 1] scale.
STDS = [0.0, 1 / 25, 3 / 255, 1 / 255]
CACHE = Path("benchmarks/results/sure-std-runs")


def noisy_crop(image: str, sigma: float, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """The development sweep's centre crop of ``image`` and its noisy copy (the sweep's draw)."""
    from autodip.bench.run import degrade, load_clean
    from autodip.bench.sweep import Job, parse_degradations

    job = Job("dip", f"../shared/data/cbsd68/{image}.png",
              parse_degradations([f"gaussian:{sigma:g}"])[0], 0, crop, False)  # fmt: skip
    clean = load_clean(job)
    measured, _, _ = degrade(clean, job)
    return np.asarray(clean), np.asarray(measured)


def one_run(image: str, sigma: float, std: float, crop: int, iters: int) -> dict[str, Any]:
    """A run of ``iters`` steps: plain (``std`` 0) or fitted with ``sure``'s pseudo-noise."""
    import autodip

    clean, noisy = noisy_crop(image, sigma, crop)
    options: dict[str, Any] = {"stop": None}
    if std > 0:
        options = {"stop": "sure", "patience": 10**9, "criterion_options": {"sure": {"std": std}}}
    result = autodip.restore(noisy, autodip.Denoise(), iters=iters, reference=clean, ensemble=1,
                             also_confirm=None, **options)  # fmt: skip
    history = result.history
    out: dict[str, Any] = {
        "image": image,
        "sigma": sigma,
        "std": std,
        "steps": [h["step"] for h in history],
        "psnr": [h["psnr"] for h in history],
    }
    if std > 0:
        record = result.criteria["sure"]
        out.update(score_steps=record["steps"], scores=record["scores"])
    return out


def summarise(runs: list[dict[str, Any]], iters: int) -> list[dict[str, Any]]:
    """Per (image, σ, s): the peak, the loss against the plain run's peak, ``sure``'s stop."""
    plain = {(r["image"], r["sigma"]): peak(r["steps"], r["psnr"])[0] for r in runs if not r["std"]}
    rows = []
    for r in runs:
        if not r["std"]:
            continue
        best, best_step = peak(r["steps"], r["psnr"])
        stop, _, confirmed = replay_stop(r["score_steps"], r["scores"],
                                         SteinRisk.default_patience, end=iters)  # fmt: skip
        at = r["psnr"][int(np.searchsorted(r["steps"], stop))]
        rows.append({
            "image": r["image"], "sigma": r["sigma"], "std": r["std"],
            "plain_peak": plain.get((r["image"], r["sigma"])), "peak": best,
            "peak_step": best_step, "stop": stop, "confirmed": confirmed, "psnr": at,
        })  # fmt: skip
    return rows


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    out = [
        "# The size of sure's pseudo-noise",
        "",
        f"- {len({r['image'] for r in rows})} odd-position CBSD68 images, {args.crop}² centre "
        f"crops (the development sweep's noise draw), "
        f"σ ∈ {{{', '.join(f'{s:g}' for s in args.sigmas)}}}, {args.iters} steps, "
        f"the size's default network, one thread; cache `{CACHE}`",
        "- *plain peak*: the run without pseudo-noise; *peak*: the run fitting y + p; *stop*: "
        "where sure's rule (S = 300) stops that run within the budget",
        "",
        "| σ | s (0–255) | runs | plain peak | peak | cost of p | PSNR at sure's stop "
        "| gap to its peak | gap to the plain peak | confirmed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for sigma in args.sigmas:
        for std in STDS[1:]:
            group = [r for r in rows if r["sigma"] == sigma and r["std"] == std]
            if not group:
                continue
            keys = ("plain_peak", "peak", "psnr")
            mean = {k: float(np.mean([r[k] for r in group])) for k in keys}
            out.append(
                f"| {sigma:g} | {255 * std:.1f} | {len(group)} | {mean['plain_peak']:.2f} | "
                f"{mean['peak']:.2f} | {mean['plain_peak'] - mean['peak']:.2f} | "
                f"{mean['psnr']:.2f} | {mean['peak'] - mean['psnr']:.2f} | "
                f"{mean['plain_peak'] - mean['psnr']:.2f} | "
                f"{sum(r['confirmed'] for r in group)} of {len(group)} |"
            )
    out += ["", "## Rows", "", "| image | σ | s (0–255) | plain peak | peak (step) | stop | PSNR "
            "at the stop |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in sorted(rows, key=lambda r: (r["sigma"], r["std"], r["image"])):
        out.append(
            f"| {r['image']} | {r['sigma']:g} | {255 * r['std']:.1f} | {r['plain_peak']:.2f} | "
            f"{r['peak']:.2f} ({r['peak_step']}) | {r['stop']} | {r['psnr']:.2f} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=len(IMAGES))
    parser.add_argument("--sigmas", type=float, nargs="+", default=[15.0, 25.0])
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sure_std.md"))
    args = parser.parse_args()
    runs = []
    for sigma in args.sigmas:
        for image in IMAGES[: args.images]:
            for std in STDS:
                name = f"{image}-s{sigma:g}-p{255 * std:.1f}-c{args.crop}-i{args.iters}.json"
                make = functools.partial(one_run, image, sigma, std, args.crop, args.iters)
                runs.append(cached(CACHE / name, make))
                print(f"done: {name}", flush=True)
    rows = summarise(runs, args.iters)
    write_report(args.out, markdown(rows, args), rows, provenance())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
