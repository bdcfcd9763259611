"""``make demo``: restore the bundled sample with default settings.

The sample is a 256×256 crop of the DIP paper's F16 image with Gaussian noise σ = 25 (see
``autodip/data/README.md``). The result, ``report.json`` and ``curves.png`` go to the folder given
on the command line (default ``demo-output/``); the demo owns that folder and overwrites its own
earlier results there.

Usage: ``python -m autodip.demo [OUTDIR]``
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from autodip import cli


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the command's exit code."""
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "demo-output")
    data = resources.files("autodip") / "data"
    with (
        resources.as_file(data / "f16_256_noisy_sigma25.png") as noisy,
        resources.as_file(data / "f16_256_clean.png") as clean,
    ):
        out.mkdir(parents=True, exist_ok=True)
        return cli.main(
            [
                "denoise",
                str(noisy),
                "-o",
                str(out / "f16_denoised.png"),
                "--reference",
                str(clean),
                "--report",
                str(out),
                "--force",
            ]
        )


if __name__ == "__main__":
    sys.exit(main())
