"""The run report: ``report.json`` (plain data) and ``curves.png`` (loss and PSNR per step).

Everything in the report is JSON-able — configuration, versions, timings, the per-step history — so
a run can be compared, plotted or re-analysed later without autodip's objects.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

REPORT_FILES = ("report.json", "curves.png", "report.html")
#: What an ensemble's report adds: the members' per-pixel standard deviation, with a colour bar.
ENSEMBLE_REPORT_FILES = ("uncertainty.png",)


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
    from autodip.io import replace_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, data, overwrite=True)


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


def plot_curves(
    path: Path,
    history: list[dict[str, float]],
    title: str = "",
    criteria: dict[str, Any] | None = None,
    stop_step: int | None = None,
    stage_boundary: int | None = None,
) -> None:
    """Plot loss, PSNR (when recorded) and the criteria's normalised scores with their stops.

    Each criterion's scores are rescaled to [0, 1] (min–max; higher-is-better ones flipped so that
    the stop is always at a minimum) and its candidate step is marked with a dashed line; the step
    the run returned is the black line, the end of a two-stage run's first stage a dotted grey
    line. The PNG is written atomically.
    """
    import io

    from matplotlib import rcParams
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    criteria = {k: v for k, v in (criteria or {}).items() if v.get("scores")}
    steps = [h["step"] for h in history]
    has_psnr = any("psnr" in h for h in history)
    panels = 1 + has_psnr + bool(criteria)
    # A Figure of its own (not pyplot): no global backend switch for notebook users.
    fig = Figure(figsize=(5.2 * panels, 3.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)
    free = list(axes[0])
    ax = free.pop(0)
    ax.semilogy(steps, [h["loss"] for h in history], color="tab:blue")
    ax.set_ylabel("loss  ‖A f(z) − y‖² / N")
    used = [ax]
    if has_psnr:
        ax = free.pop(0)
        ax.plot(steps, [h.get("psnr", float("nan")) for h in history], color="tab:green")
        ax.set_ylabel("PSNR against the reference (dB)")
        used.append(ax)
    if criteria:
        ax = free.pop(0)
        colours = rcParams["axes.prop_cycle"].by_key()["color"]
        for index, (name, record) in enumerate(criteria.items()):
            colour = colours[index % len(colours)]
            sign = 1.0 if record.get("lower_is_better", True) else -1.0
            values = [sign * v for v in record["scores"]]
            lo, hi = min(values), max(values)
            scale = (hi - lo) or 1.0
            ax.plot(record["steps"], [(v - lo) / scale for v in values], color=colour, label=name)
            if record.get("candidate_step") is not None:
                ax.axvline(record["candidate_step"], color=colour, linestyle="--", linewidth=1)
        ax.set_ylabel("score, normalised (stop at minimum)")
        ax.legend(fontsize=8)
        used.append(ax)
    for ax in used:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if stop_step is not None:
            ax.axvline(stop_step, color="black", linewidth=1.5)
        if stage_boundary is not None:
            ax.axvline(stage_boundary, color="grey", linestyle=":", linewidth=1.5)
    if title:
        fig.suptitle(title + (f" — returned step {stop_step}" if stop_step is not None else ""))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    _atomic_write_bytes(path, buffer.getvalue())


def plot_uncertainty(path: Path, uncertainty: Any, title: str = "") -> None:
    """Draw an ensemble's uncertainty map with a colour bar on the 0–255 scale; write the PNG
    atomically.

    ``uncertainty`` is the members' per-value standard deviation, ``C×H×W`` (or ``1×C×H×W``) in
    [0, 1] units; the map is its mean over channels
    (:func:`autodip.metrics.uncertainty.pixel_std`'s map), drawn about 700 pixels wide.
    """
    import io

    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = np.asarray(uncertainty, dtype=np.float64)
    values = values.reshape(values.shape[-3:]).mean(axis=0) * 255.0
    height, width = values.shape
    fig = Figure(figsize=(6.4, max(2.5, 5.0 * height / width) + 0.6))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    shown = ax.imshow(values, cmap="magma", vmin=0.0, interpolation="nearest")
    ax.set_axis_off()
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("std across members (0–255 scale)")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    _atomic_write_bytes(path, buffer.getvalue())
