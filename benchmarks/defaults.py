"""PSNR against iterations for autodip's default network: evidence for the default budget.

Runs ``autodip.api.denoise`` with its defaults (network, precision) for ``--iters`` steps on a
few 256×256 crops with Gaussian noise σ = 25 (seeded), recording PSNR every 50 steps. Each finished
image is cached, so an interrupted run resumes. The report lists PSNR at several budgets, the peak
and the time per image; the default ``--iters`` is then read off it (the smallest budget within
0.3 dB of the best over the budgets, on average). Usage::

    python benchmarks/defaults.py --out benchmarks/results/defaults.md
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import numpy as np

from autodip.api import DEFAULT_NET, denoise
from autodip.bench.analyse import peak
from autodip.bench.calibrate import centre_crop
from autodip.bench.provenance import provenance, with_provenance, write_report
from autodip.io import read_image
from autodip.metrics.full_reference import psnr
from autodip.physics.noise import add_gaussian_noise
from common import SHARED_DATA, cached

SHARED = SHARED_DATA
IMAGES = {
    "f16-sample": None,  # the bundled sample's clean crop
    "house": SHARED / "set9" / "image_House256rgb.png",
    "baboon": SHARED / "set9" / "image_Baboon512rgb.png",
    "kodim03": SHARED / "set9" / "kodim03.png",
}
BUDGETS = (250, 500, 750, 1000, 1500, 2000, 3000)


def clean_crop(name: str, size: int) -> np.ndarray:
    if IMAGES[name] is None:
        path = resources.files("autodip") / "data" / "f16_256_clean.png"
        pixels, _ = read_image(str(path))
    else:
        pixels, _ = read_image(IMAGES[name])
    return centre_crop(pixels, size)


def curve(name: str, args: argparse.Namespace) -> dict:
    def run() -> dict:
        clean = clean_crop(name, args.size)
        noisy = add_gaussian_noise(clean, args.sigma, seed=0)
        result = denoise(
            noisy,
            iters=args.iters,
            reference=clean,
            stop=None,  # the whole PSNR curve
            fit_options={"monitor_every": 50},
            ensemble=1,  # one run's curve
        )
        return {
            "image": name,
            "psnr_input": psnr(noisy, clean),
            "steps": [h["step"] for h in result.history],
            "psnr": [h["psnr"] for h in result.history],
            "seconds": result.seconds,
            "placement": result.config["placement"],
        }

    key = args.cache / f"{name}-s{args.sigma}-{args.size}-{DEFAULT_NET}-{args.iters}.json"
    return cached(key, run)


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    """PSNR at each budget per image, their mean, and the budget chosen from it."""
    budgets = [b for b in BUDGETS if b <= args.iters]
    table = [
        "| image | input | " + " | ".join(f"{b}" for b in budgets) + " | peak (step) | s |",
        "|---|---|" + "---|" * len(budgets) + "---|---|",
    ]
    at = np.zeros((len(rows), len(budgets)))
    for i, row in enumerate(rows):
        lookup = dict(zip(row["steps"], row["psnr"], strict=True))
        at[i] = [lookup[b] for b in budgets]
        top, top_step = peak(row["steps"], row["psnr"])
        table.append(
            f"| {row['image']} | {row['psnr_input']:.2f} | "
            + " | ".join(f"{v:.2f}" for v in at[i])
            + f" | {top:.2f} ({top_step}) | "
            f"{row['seconds']:.0f} |"
        )
    mean = at.mean(axis=0)
    table.append("| **mean** | | " + " | ".join(f"**{v:.2f}**" for v in mean) + " | | |")
    chosen = next(b for b, v in zip(budgets, mean, strict=True) if v >= mean.max() - 0.3)
    return "\n".join(
        [
            f"# PSNR (dB) against iterations: `{DEFAULT_NET}` defaults, σ = {args.sigma:g}",
            "",
            f"- placement: {rows[0]['placement']}",
            f"- {args.size}×{args.size} centre crops; noise seed 0",
            "",
            *table,
            "",
            f"Smallest budget within 0.3 dB of the best mean: **{chosen}** iterations.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/defaults.md"))
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/cache/defaults"))
    parser.add_argument("--iters", type=int, default=3000)
    parser.add_argument("--sigma", type=float, default=25)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = []
    for name in IMAGES:
        rows.append(curve(name, args))
        print(f"{name}: done in {rows[-1]['seconds']:.0f} s", flush=True)
    text = markdown(rows, args)
    record = provenance()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_report(args.out, text, rows, record)
    print(with_provenance(text, record))


if __name__ == "__main__":
    main()
