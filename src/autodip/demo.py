"""``make demo``: restore the bundled sample with default settings.

The sample is a 256×256 crop of the DIP paper's F16 image with Gaussian noise σ = 25 (see
``autodip/data/README.md``). The demo takes its centre 128×128 (so that ``make demo`` on a fresh
machine, installation included, stays under three minutes on a 2-core CPU with denoising's default
ensemble of four runs; at 192² the four took 3 min 43 s, ``benchmarks/results/demo.md``),
writes that noisy input and its clean reference to the output folder, and restores it with the
defaults of ``autodip denoise``; the result, ``report.json``, ``curves.png`` and the ensemble's
``uncertainty.png`` go beside them. The demo owns that folder (default ``demo-output/``) and
overwrites its own earlier results there.

Usage: ``python -m autodip.demo [OUTDIR]``
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from autodip import cli
from autodip.io import read_image, write_image

CROP = 128


def _centre(pixels, size: int = CROP):
    _, height, width = pixels.shape
    top, left = (height - size) // 2, (width - size) // 2
    return pixels[:, top : top + size, left : left + size]


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the command's exit code."""
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "demo-output")
    data = resources.files("autodip") / "data"
    noisy, info = read_image(data / "f16_256_noisy_sigma25.png")
    clean, _ = read_image(data / "f16_256_clean.png")
    noisy_path, clean_path = out / "noisy.png", out / "clean.png"
    write_image(noisy_path, _centre(noisy), info, overwrite=True)
    write_image(clean_path, _centre(clean), info, overwrite=True)
    return cli.main([
        "denoise", str(noisy_path), "-o", str(out / "denoised.png"),
        "--reference", str(clean_path), "--report", str(out), "--force",
    ])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
