"""What a run gives back (:class:`Result`) and what its monitors see (:class:`StepReport`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch


@dataclass
class StepReport:
    """What a monitor sees at a monitored step. ``estimate`` is cropped to the image's size, on the
    run's device, float32; it is a view of a buffer that the run updates in place, so a monitor
    that keeps it must copy it (``estimate.clone()``), and must not modify it.
    """

    step: int
    estimate: torch.Tensor
    output: torch.Tensor
    loss: float
    seconds: float


class Monitor(Protocol):
    """Anything that watches the run; returning a string stops it with that reason.

    A monitor that also has an ``on_start(run)`` method is handed the
    :class:`~autodip.core.run.Run` once it is set up (afresh or resumed: ``run.state.step``), before
    its first step, e.g. to read its budget or criteria as it goes (``autodip serve`` does).
    """

    def __call__(self, report: StepReport) -> str | None:  # pragma: no cover - protocol
        """Inspect one monitored step; return a stop reason, or ``None`` to go on."""


@dataclass
class Result:
    """Outcome of :func:`fit`: the restored image and a plain-data account of the run.

    An ensemble's result (:mod:`autodip.core.ensemble`) also has ``members`` (each member's own
    :class:`Result`, its image mapped back to the input's orientation), ``uncertainty`` (the
    members' per-value standard deviation, ``1×C×H×W``) and ``ensemble`` (plain data: the
    members' seeds, transforms, stops and verdicts, and the uncertainty map's summary); a single
    run leaves them empty.
    """

    image: torch.Tensor
    iterations: int
    reason: str
    interrupted: bool
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    stop_step: int | None = None
    confirmed: bool | None = None
    criteria: dict[str, Any] = field(default_factory=dict)
    monitor_seconds: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    members: list[Result] = field(default_factory=list)
    uncertainty: torch.Tensor | None = None
    ensemble: dict[str, Any] | None = None

    @property
    def pixels(self) -> np.ndarray:
        """The restored image as a ``C×H×W`` float32 NumPy array in [0, 1]."""
        return self.image[0].numpy()

    @property
    def underfitted(self) -> bool | None:
        """The fit guard's verdict (:mod:`~autodip.stopping.fit_guard`); ``None``: not judged."""
        return self.config.get("fit_guard", {}).get("underfitted")

    @property
    def iterations_per_second(self) -> float:
        """Mean optimisation speed over the run."""
        return self.iterations / self.seconds if self.seconds > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Everything but the image, as JSON-able data."""
        return {
            "iterations": self.iterations,
            "reason": self.reason,
            "interrupted": self.interrupted,
            "seconds": self.seconds,
            "iterations_per_second": self.iterations_per_second,
            "underfitted": self.underfitted,
            "config": self.config,
            "stop_step": self.stop_step,
            "confirmed": self.confirmed,
            "monitor_seconds": self.monitor_seconds,
            "events": self.events,
            "criteria": self.criteria,
            "history": self.history,
            **({"ensemble": self.ensemble} if self.ensemble is not None else {}),
        }
