"""Upsampler × width study after seed 003's Fig. 4 / Table 1, on a coarse and a fine image.

Seed 003 (Liu et al., *The Devil is in the Upsampling*) finds that DIP's denoising is driven by the
upsampler's low-pass filter and that the best width of a 2-level hourglass depends on the texture
of the image. This script runs the 2-level hourglass (no skips, in = width channels, autodip's
default run: Adam lr 0.01, reg-noise 1/30, EMA 0.99, default precision) for every upsampler and
widths 32/64/128 on two centre crops of Set9 images with Gaussian noise σ, and records every
``--every`` steps the PSNR of the EMA estimate against the clean crop. Per run it reports:
the peak PSNR and its step, the PSNR after the full budget, seconds per iteration (measured in the
same process, single-threaded when run as below) and the parameter count.

Images: F16 (smooth, large flat regions: "coarse") and Baboon (fur: "fine"), centre ``--crop``
pixels. Noise: ``add_gaussian_noise(clean, σ, seed)``. ``nearest`` and ``bilinear`` are the
interpolating upsamplers (``lpf-nearest``/``lpf-bilinear`` are the same operators written as
filters and are left out); ``transposed`` is a learned stride-2 transposed convolution; the
``lpf*`` upsamplers insert zeros and apply the fixed filters of SPEC.

Each finished run is cached under ``benchmarks/cache/architecture_study``; several instances can
share the sweep (each claims a run with a lock file), and ``--analyse-only`` writes the report from
the cache. Usage (two cores: two single-threaded instances, then the report)::

    OMP_NUM_THREADS=1 python benchmarks/architecture_study.py --threads 1 &
    OMP_NUM_THREADS=1 python benchmarks/architecture_study.py --threads 1 &
    wait; python benchmarks/architecture_study.py --analyse-only \\
        --out benchmarks/results/architecture.md
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autodip.bench.analyse import peak
from autodip.bench.calibrate import centre_crop
from autodip.bench.provenance import provenance, write_report
from autodip.core.run import FitConfig, fit, placement_for
from autodip.io import image_to_tensor, read_image
from autodip.metrics.full_reference import psnr as psnr_of
from autodip.nets import count_parameters, create_net
from autodip.physics.noise import add_gaussian_noise
from common import SHARED_DATA, cached, claim

IMAGES = {"coarse": "image_F16_512rgb.png", "fine": "image_Baboon512rgb.png"}
UPSAMPLERS = ("nearest", "bilinear", "transposed", "lpf14", "lpf15", "lpf60", "lpf100")
WIDTHS = (32, 64, 128)
CACHE = Path(__file__).resolve().parent / "cache" / "architecture_study"
HERE = Path(__file__).resolve().parent


def one_run(
    clean: np.ndarray, noisy: np.ndarray, upsample: str, width: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Fit the hourglass once with ``--no-early-stop`` and keep the PSNR curve."""
    net = create_net("hourglass", width=width, upsample=upsample)
    config = FitConfig(max_iters=args.iters, seed=args.seed, monitor_every=args.every)
    result = fit(image_to_tensor(noisy), net, config=config, reference=image_to_tensor(clean))
    return {
        "params": count_parameters(net),
        "seconds": result.seconds,
        "iterations": result.iterations,
        "steps": [h["step"] for h in result.history],
        "psnr": [h["psnr"] for h in result.history],
        "placement": result.config["placement"],
        "threads": torch.get_num_threads(),
    }


def time_steps(upsample: str, width: int, args: argparse.Namespace) -> float:
    """Seconds per iteration over ``--retime`` steps after 5 warm-up steps (same process)."""
    net = create_net("hourglass", width=width, upsample=upsample)
    y = torch.rand(1, 3, args.crop, args.crop, generator=torch.Generator().manual_seed(0))
    fit(y, net, config=FitConfig(max_iters=5, monitor_every=5))
    result = fit(y, net, config=FitConfig(max_iters=args.retime, monitor_every=args.retime))
    return result.seconds / result.iterations


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """Peak PSNR and its step, the last PSNR and the time per iteration of one run."""
    top, top_step = peak(run["steps"], run["psnr"])
    return {
        "params": run["params"],
        "peak": top,
        "peak_step": top_step,
        "final": float(run["psnr"][-1]),
        "s_per_iter": run["seconds"] / run["iterations"],
    }


def cv_section() -> str:
    """The width predictor's cross-validation tables, taken from ``architecture_cv.md``."""
    path = HERE / "results" / "architecture_cv.md"
    if not path.exists():
        return "(run `benchmarks/architecture_cv.py` first)\n"
    text = path.read_text(encoding="utf-8").split("\n", 1)[1]  # drop its title
    return text.replace("\n# ", "\n### ").replace("\n## ", "\n### ")


def report(rows: list[dict[str, Any]], args: argparse.Namespace, placement: str) -> str:
    lines = [
        "# Architectures: upsamplers, widths and the width predictor (seed 003)",
        "",
        "## 1. Upsampler × width on a coarse and a fine image",
        "",
        f"- placement: {placement}",
        f"- images: centre {args.crop}² crops of Set9 F16 (coarse) and Baboon (fine), Gaussian "
        f"σ = {args.sigma:g}, noise seed {args.seed}; 2-level hourglass, no skips, "
        f"{args.iters} iterations, PSNR of the EMA estimate every {args.every} steps",
        "- runs: two instances of `OMP_NUM_THREADS=1 python benchmarks/architecture_study.py "
        "--threads 1`, then the command above; raw rows in `architecture.json`",
        "- s/iter: "
        + (
            f"re-measured alone, {args.retime} steps per configuration, one thread"
            if args.retime
            else "from the runs themselves, which shared the CPU with other jobs (noisy)"
        ),
        "",
    ]
    for kind in IMAGES:
        noisy_psnr = next(r["noisy_psnr"] for r in rows if r["image"] == kind)
        lines += [
            f"### {kind}: {IMAGES[kind]} (noisy input {noisy_psnr:.2f} dB)",
            "",
            "| upsampler | width | params | peak PSNR | peak step | PSNR at "
            f"{args.iters} | drop | s/iter |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in (r for r in rows if r["image"] == kind):
            lines.append(
                f"| {r['upsample']} | {r['width']} | {r['params']:,} | {r['peak']:.2f} | "
                f"{r['peak_step']} | {r['final']:.2f} | {r['peak'] - r['final']:.2f} | "
                f"{r['s_per_iter']:.3f} |"
            )
        lines.append("")
    lines += [
        "### Best per image",
        "",
        "| image | best peak (upsampler, width) | best final (upsampler, width) |",
        "|---|---|---|",
    ]
    for kind in IMAGES:
        mine = [r for r in rows if r["image"] == kind]
        peak = max(mine, key=lambda r: r["peak"])
        final = max(mine, key=lambda r: r["final"])
        lines.append(
            f"| {kind} | {peak['peak']:.2f} ({peak['upsample']}, {peak['width']}) | "
            f"{final['final']:.2f} ({final['upsample']}, {final['width']}) |"
        )
    lines += ["", "## 2. Width predictor: cross-validation", "", cv_section()]
    return "\n".join(lines).rstrip() + "\n"


def parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--iters", type=int, default=1200)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--upsamplers", nargs="+", default=list(UPSAMPLERS))
    parser.add_argument("--widths", nargs="+", type=int, default=list(WIDTHS))
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument(
        "--retime",
        type=int,
        default=0,
        metavar="STEPS",
        help="re-measure s/iter of every configuration in this one process (run it alone on a "
        "quiet machine); the table then shows these timings",
    )
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "architecture.md")
    return parser


def retime(args: argparse.Namespace) -> dict[tuple[str, int], float]:
    """Seconds per iteration of every configuration, measured here (``--retime``)."""
    timings: dict[tuple[str, int], float] = {}
    for upsample in args.upsamplers:
        for width in args.widths:
            timings[upsample, width] = time_steps(upsample, width, args)
            print(f"timed {upsample} w{width}: {timings[upsample, width]:.4f}", file=sys.stderr)
    return timings


def collect(
    args: argparse.Namespace, timings: dict[tuple[str, int], float]
) -> tuple[list[dict[str, Any]], int]:
    """The rows of the runs this instance finds or runs, and how many it left to others."""
    rows, missing = [], 0
    for kind, name in IMAGES.items():
        clean = centre_crop(read_image(SHARED_DATA / "set9" / name)[0], args.crop)
        noisy = add_gaussian_noise(clean, args.sigma, seed=args.seed)
        noisy_psnr = psnr_of(torch.from_numpy(noisy)[None], torch.from_numpy(clean)[None])
        for upsample in args.upsamplers:
            for width in args.widths:
                tag = (
                    f"{kind}-{upsample}-w{width}-c{args.crop}-s{args.sigma:g}-"
                    f"i{args.iters}-e{args.every}-seed{args.seed}"
                )
                path = args.cache / f"{tag}.json"
                if not path.exists() and (
                    args.analyse_only or not claim(args.cache / f"{tag}.lock")
                ):
                    missing += 1
                    continue
                print(f"{tag}", file=sys.stderr, flush=True)
                run = cached(path, partial(one_run, clean, noisy, upsample, width, args))
                row = {"image": kind, "file": name, "upsample": upsample, "width": width,
                       "noisy_psnr": noisy_psnr, **summarise(run)}  # fmt: skip
                if timings:
                    row["s_per_iter_in_run"] = row["s_per_iter"]
                    row["s_per_iter"] = timings[upsample, width]
                rows.append(row)
    return rows, missing


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows, missing = collect(args, retime(args) if args.retime else {})
    if missing:
        print(f"{missing} runs not finished (or held by another instance)", file=sys.stderr)
        if not args.analyse_only:
            return 0
    if not rows:
        return 1
    where = placement_for(FitConfig())
    placement = (
        f"precision {where.precision}, channels_last {where.channels_last}; one thread per run"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = vars(args) | {"cache": str(args.cache), "out": str(args.out)}
    data = {"placement": placement, "args": settings, "rows": rows}
    write_report(args.out, report(rows, args, placement), data, provenance())
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
