"""What a run carries from step to step (:class:`RunState`), with named ``state_dict`` keys."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from autodip.core.recovery import Snapshot, to_cpu, to_device


@dataclass
class RunState:
    """Everything a run carries from step to step (and a checkpoint saves).

    Attributes
    ----------
    output, average
        The network's last output and its moving average (``None`` without one), padded.
    fit_target
        What the run fits: the measurement (plus a criterion's offset), or in the second stage of
        a retargeted two-stage run the first stage's estimate.
    step
        The last step taken (the run's position; a divergence moves it back).
    completed
        The last step completed, for the result and an interruption's message.
    limit, extensions
        The adaptive budget's current limit and its extensions (see :mod:`autodip.core.budget`).
    """

    output: torch.Tensor
    fit_target: torch.Tensor
    average: torch.Tensor | None = None
    step: int = 0
    completed: int = 0
    seconds: float = 0.0
    loss_value: float = math.nan
    history: list[dict[str, float]] = field(default_factory=list)
    last_good: torch.Tensor | None = None
    last_good_step: int = 0
    snapshot: Snapshot | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    recoveries: int = 0
    limit: int = 0
    extensions: list[dict[str, Any]] = field(default_factory=list)

    def estimate(self) -> torch.Tensor:
        """The padded estimate: the moving average, or the raw output without one."""
        return self.average if self.average is not None else self.output

    def state_dict(self) -> dict[str, Any]:
        """The state as plain data on the CPU (the checkpoint's keys)."""
        return {
            "step": self.step,
            "seconds": self.seconds,
            "output": self.output.cpu(),
            "fit_target": self.fit_target.cpu(),
            "average": to_cpu(self.average),
            "loss_value": self.loss_value,
            "history": self.history,
            "last_good": to_cpu(self.last_good),
            "last_good_step": self.last_good_step,
            "snapshot": self.snapshot.state_dict() if self.snapshot is not None else None,
            "events": self.events,
            "recoveries": self.recoveries,
            "limit": self.limit,
            "extensions": self.extensions,
        }

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None:
        """Continue from what :meth:`state_dict` saved, its tensors on ``device``."""
        self.output = saved["output"].to(device)
        self.fit_target = saved["fit_target"].to(device)
        self.average = to_device(saved["average"], device)
        self.step = self.completed = saved["step"]
        self.seconds = saved["seconds"]
        self.loss_value = saved["loss_value"]
        self.history = saved["history"]
        self.last_good = to_device(saved["last_good"], device)
        self.last_good_step = saved["last_good_step"]
        self.snapshot = Snapshot.from_state_dict(saved["snapshot"], device)
        self.events = saved["events"]
        self.recoveries = saved["recoveries"]
        self.limit = saved.get("limit", 0)
        self.extensions = saved.get("extensions", [])
