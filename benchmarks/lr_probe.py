"""A short probe that prunes the real-size sweep: does a higher learning rate or a wider network
make the default hourglass fit a 256² crop in fewer steps?

The development sweep at 256² (``benchmarks/sweeps/dev256.json``) found the default
``hourglass-w32`` still rising at its 4500-step cap on most images at σ = 15. Before spending
CPU-hours on a grid of learning rates, this probe runs a fixed number of steps (no early stopping)
of a few configurations on the hardest image of that sweep and records the PSNR trajectory against
the clean crop. A configuration that does not beat Adam's ``lr = 0.01`` here is left out of the
sweep (the sweep's documentation in ``docs/benchmarks.md`` says so).

Every run is cached in ``benchmarks/results/lr-probe-runs/`` (resumable). Usage::

    OMP_NUM_THREADS=1 python benchmarks/lr_probe.py

Not a timing benchmark: the seconds are recorded with whatever else ran on the machine.
"""

from __future__ import annotations

import argparse
import time
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autodip.api import denoise
from autodip.bench.baselines import denoise_baseline
from autodip.bench.provenance import provenance, write_report
from autodip.io import image_to_tensor, read_image
from autodip.metrics.full_reference import psnr
from common import SHARED_DATA, cached

RESULTS = Path(__file__).resolve().parent / "results"
#: (image, σ, network, learning rate, steps): the hardest crop of the 256² sweep at σ = 15.
PROBES: list[tuple[str, int, str, float, int]] = [
    ("108070", 15, "hourglass-w32", 0.01, 1500),
    ("108070", 15, "hourglass-w32", 0.03, 1500),
    ("108070", 15, "hourglass-w64", 0.01, 1500),
    ("108070", 15, "hourglass-w64", 0.03, 1500),
]
CROP = 256
NOISE_SEED = 1


def noisy_crop(image: str, sigma: int) -> tuple[np.ndarray, np.ndarray]:
    """The centre ``CROP``² crop of a CBSD68 image and its noisy copy (Gaussian, ``sigma``/255)."""
    pixels, _ = read_image(str(SHARED_DATA / "cbsd68" / f"{image}.png"))
    clean = image_to_tensor(pixels)[0]
    height, width = clean.shape[-2:]
    top, left = (height - CROP) // 2, (width - CROP) // 2
    clean = clean[:, top : top + CROP, left : left + CROP]
    generator = torch.Generator().manual_seed(NOISE_SEED)
    noise = sigma / 255 * torch.randn(clean.shape, generator=generator)
    return clean.numpy(), (clean + noise).clamp(0, 1).numpy()


def probe(image: str, sigma: int, net: str, lr: float, steps: int) -> dict[str, Any]:
    """One run of ``steps`` steps without stopping; its peak, last PSNR and a thinned curve."""
    clean, noisy = noisy_crop(image, sigma)
    start = time.perf_counter()
    result = denoise(
        noisy, net=net, iters=steps, stop=None, reference=clean, fit_options={"lr": lr},
        device="cpu", ensemble=1,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    history = result.history
    peak = max(history, key=lambda row: row["psnr"])
    return {
        "image": image, "sigma": sigma, "network": net, "lr": lr, "steps": steps,
        "peak": peak["psnr"], "peak_step": peak["step"], "last": history[-1]["psnr"],
        "seconds": seconds,
        "curve": [(row["step"], round(row["psnr"], 3)) for row in history[::5]],
    }  # fmt: skip


@cache
def references(image: str, sigma: int) -> dict[str, float]:
    """PSNR of the noisy crop and of CBM3D with σ̂ on it (cached on disk like the runs)."""

    def measure() -> dict[str, float]:
        clean, noisy = noisy_crop(image, sigma)
        restored, sigma_hat, _ = denoise_baseline("bm3d", noisy)
        return {"noisy": psnr(noisy, clean), "cbm3d": psnr(restored, clean), "sigma_hat": sigma_hat}

    return cached(RESULTS / "lr-probe-runs" / f"{image}-s{sigma}-references.json", measure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "lr_probe.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for image, sigma, net, lr, steps in PROBES:
        name = f"{image}-s{sigma}-{net}-lr{lr}-{steps}.json"
        run = cached(RESULTS / "lr-probe-runs" / name, partial(probe, image, sigma, net, lr, steps))
        rows.append({**run, **references(image, sigma)})
    lines = [
        "# Learning rate and width on a 256² crop: PSNR after a fixed number of steps",
        "",
        "No early stopping; PSNR against the clean crop, beside the noisy input's and CBM3D's",
        "(with the estimated σ̂, on the same noisy file).",
        "",
        "| image | σ | network | lr | steps | peak (dB) | at step | last (dB) | noisy | CBM3D (σ̂) "
        "| seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['image']} | {r['sigma']} | {r['network']} | {r['lr']} | {r['steps']} | "
        f"{r['peak']:.2f} | {r['peak_step']} | {r['last']:.2f} | {r['noisy']:.2f} | "
        f"{r['cbm3d']:.2f} | {r['seconds']:.0f} |"
        for r in rows
    ]
    write_report(args.out, "\n".join(lines), rows, provenance(threads=1))
    print(args.out)


if __name__ == "__main__":
    main()
