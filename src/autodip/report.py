"""The run report: ``report.json`` (plain data) and ``curves.png`` (loss and PSNR per step).

Everything in the report is JSON-able — configuration, versions, timings, the per-step history — so
a run can be compared, plotted or re-analysed later without autodip's objects.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

REPORT_FILES = ("report.json", "curves.png")


def environment() -> dict[str, str]:
    """Versions of Python, the main libraries and the machine, for reproducibility."""
    import numpy
    import torch

    from autodip import __version__

    return {
        "autodip": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_threads": str(torch.get_num_threads()),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically (non-finite floats become ``null``)."""
    text = json.dumps(_finite(data), indent=2, allow_nan=False)
    _atomic_write_bytes(path, (text + "\n").encode())


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def plot_curves(path: Path, history: list[dict[str, float]], title: str = "") -> None:
    """Plot the loss (log scale) and, when recorded, PSNR against the step;
    write a PNG atomically.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    has_psnr = any("psnr" in h for h in history)
    fig, axes = plt.subplots(
        1, 2 if has_psnr else 1, figsize=(10 if has_psnr else 5.5, 3.6), squeeze=False
    )
    ax = axes[0, 0]
    ax.semilogy(steps, [h["loss"] for h in history], color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylabel("loss  ‖A f(z) − y‖² / N")
    ax.grid(alpha=0.3)
    if has_psnr:
        ax = axes[0, 1]
        ax.plot(steps, [h.get("psnr", float("nan")) for h in history], color="tab:green")
        ax.set_xlabel("step")
        ax.set_ylabel("PSNR against the reference (dB)")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    _atomic_write_bytes(path, buffer.getvalue())
