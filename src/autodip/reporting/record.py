"""The run record: one typed account of a run, the single schema behind ``report.json``, ``--json``,
``report.html`` and the summary paragraph.

:meth:`RunRecord.to_dict` is the schema. Its top-level keys: ``schema_version``, ``command``,
``argv``, ``input`` (path, ``shape_chw``, format, bit depth, mode, value range, dtype, layout,
frame, damage), ``output``, ``reference``, ``config`` (the run's settings, placement, operator,
budget and fit-guard verdict), ``environment``, ``timings``, ``result`` (iterations, reason, stop
step, confirmation, under-fitting, events), ``criteria``, ``architecture`` (``--net auto`` only),
``ensemble`` (ensembles only — denoising's default, or ``--ensemble K`` above 1:
:meth:`RunRecord.ensemble_record`), ``metrics`` (with a
reference) and ``history``. :data:`SCHEMA_VERSION` grows when a key changes meaning or goes away;
new keys may appear without it.

An ensemble's record describes the mean of its members: ``result.iterations`` and
``timings.fit_seconds`` add up over the members, ``result.stop_step`` is ``null`` (each member's
is in ``ensemble.members``), ``config``, ``criteria`` and ``history`` are the first member's, and
``config.fit_guard`` judges the mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from autodip.core.result import Result
    from autodip.io import ImageInfo

#: The version of :meth:`RunRecord.to_dict`'s layout.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class InputRecord:
    """What was read: the file, its pixel layout, and how its values were mapped to [0, 1]."""

    path: str
    shape_chw: list[int]
    format: str | None = None
    bit_depth: int | None = None
    mode: str | None = None
    value_range: list[float] | None = None
    dtype: str | None = None
    layout: str | None = None
    frame: int | None = None
    damaged: str | None = None

    @classmethod
    def read(cls, path: Path, image: np.ndarray, info: ImageInfo) -> InputRecord:
        """The record of ``image`` read from ``path`` with :func:`autodip.io.read_image`."""
        return cls(
            path=str(path),
            shape_chw=list(image.shape),
            format=info.format,
            bit_depth=info.bit_depth,
            mode=info.mode,
            value_range=list(info.value_range) if info.value_range is not None else None,
            dtype=info.dtype,
            layout=info.layout,
            frame=info.frame,
            damaged=info.damaged,
        )


@dataclass(frozen=True)
class RunRecord:
    """One run: what was asked, read, done and found.

    Attributes
    ----------
    command, argv
        The task (``denoise``, ``inpaint``, ``sr``) and the command line that ran it.
    input, output, reference
        What was read and written (``reference``: the clean image compared with, if any).
    result
        The run's :class:`~autodip.core.result.Result` (its image is not recorded).
    environment
        Versions and machine (:func:`autodip.reporting.files.environment`).
    total_seconds
        Wall time of the whole command for this image: reading, fitting, writing.
    metrics
        PSNR/SSIM of the result (and of the input) against the reference; empty without one.
    architecture
        ``--net auto``'s choice and its probabilities, or ``None``.
    reason
        Replaces the result's stop reason when the caller knows better (e.g. a SIGTERM).
    """

    command: str
    argv: list[str]
    input: InputRecord
    output: str
    reference: str | None
    result: Result
    environment: dict[str, str] = field(default_factory=dict)
    total_seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    architecture: dict[str, Any] | None = None
    reason: str | None = None

    @property
    def interrupted(self) -> bool:
        """Whether the run was cut short (its output is an estimate so far)."""
        return self.result.interrupted

    @property
    def underfitted(self) -> bool | None:
        """The fit guard's verdict (``None``: not judged)."""
        return self.result.underfitted

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-able data: the one schema of every report (see the module)."""
        result = self.result
        record: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "command": self.command,
            "argv": list(self.argv),
            "input": dict(vars(self.input)),
            "output": self.output,
            "reference": self.reference,
            "config": result.config,
            "environment": self.environment,
            "timings": {
                "total_seconds": self.total_seconds,
                "fit_seconds": result.seconds,
                "iterations_per_second": result.iterations_per_second,
            },
            "result": {
                "iterations": result.iterations,
                "reason": self.reason or result.reason,
                "interrupted": result.interrupted,
                "stop_step": result.stop_step,
                "confirmed": result.confirmed,
                "confirmed_by": result.config.get("confirmed_by"),
                "underfitted": result.underfitted,
                "fit_guard": result.config.get("fit_guard"),
                "budget": result.config.get("budget"),
                "monitor_seconds": result.monitor_seconds,
                "events": result.events,
            },
            "criteria": result.criteria,
            "metrics": self.metrics,
            "history": result.history,
        }
        if self.architecture is not None:
            record["architecture"] = self.architecture
        ensemble = self.ensemble_record()
        if ensemble is not None:
            record["ensemble"] = ensemble
        return record

    def ensemble_record(self) -> dict[str, Any] | None:
        """An ensemble's part of the record (``None`` for a single run).

        Keys: ``size`` (members asked for), ``run`` (members that ran; fewer after Ctrl-C or the
        time limit), ``transforms`` (``none`` or ``dihedral``), ``batched`` (whether the members
        ran as one batched computation), ``aggregate`` (``mean``),
        ``members`` (each one's ``member`` number from 1, ``seed``, ``transform``, ``stop_step``,
        ``confirmed``, ``iterations``, ``seconds``, ``interrupted``, ``reason``, ``underfitted``,
        ``fit_guard_ratio``, ``score_at_stop``) and ``uncertainty``
        (:func:`autodip.metrics.uncertainty.summarise`: what the map is, its ``mean``,
        ``median``, ``p95`` and ``max`` on the 0–255 scale, and with a reference
        ``spearman_error``, how well it ranks the actual error).
        """
        return self.result.ensemble

    @property
    def uncertainty(self) -> np.ndarray | None:
        """An ensemble's per-value standard deviation across members (``C×H×W``), or ``None``."""
        spread = self.result.uncertainty
        return None if spread is None else spread[0].detach().cpu().numpy()

    def summary(self) -> str:
        """The one-paragraph summary (:func:`autodip.reporting.html.summary_paragraph`)."""
        from autodip.reporting.html import summary_paragraph

        return summary_paragraph(self.to_dict())


def write_report(
    folder: Path,
    record: RunRecord,
    image: np.ndarray,
    pixels: np.ndarray,
    reference: np.ndarray | None,
    net: str,
) -> None:
    """Write ``report.json``, ``curves.png`` and ``report.html`` for ``record`` into ``folder``,
    and for an ensemble ``uncertainty.png``.

    ``image``, ``pixels`` and ``reference`` are the input, the result and the clean image (``C×H×W``
    in [0, 1]) shown side by side in the HTML page; ``net`` names the network in the plot's title
    when the record's config does not.
    """
    from autodip.reporting.files import plot_curves, plot_uncertainty, write_json
    from autodip.reporting.html import network_phrase, write_html_report

    data = record.to_dict()
    write_json(folder / "report.json", data)
    auto = record.architecture
    name = Path(record.input.path).name
    ensemble = data.get("ensemble")
    uncertainty_png = None
    if record.uncertainty is not None and ensemble is not None:
        plot_uncertainty(
            folder / "uncertainty.png",
            record.uncertainty,
            title=f"{name} — where the {ensemble['run']} members disagree",
        )
        uncertainty_png = (folder / "uncertainty.png").read_bytes()
    plot_curves(
        folder / "curves.png",
        data["history"],
        title=f"{name} — "
        + (network_phrase(data["config"].get("net", {})) or net)
        + (f" (auto, width {auto['width']})" if auto else "")
        + (f", member 1 of {ensemble['run']}" if ensemble else ""),
        criteria=data["criteria"],
        stop_step=data["result"]["stop_step"],
        stage_boundary=data["config"].get("stage_boundary"),
    )
    write_html_report(
        folder / "report.html",
        data,
        image,
        pixels,
        reference,
        curves_png=(folder / "curves.png").read_bytes(),
        uncertainty_png=uncertainty_png,
    )
