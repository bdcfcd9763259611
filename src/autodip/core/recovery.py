"""Divergence: when a monitored step counts as one, and the last good state to go back to.

The original DIP code backtracks when its fit drops by more than 5 dB between checks; autodip does
the same (:func:`divergence`), goes back to the :class:`Snapshot` of the last good monitored step
and lowers the learning rate (:meth:`autodip.core.run.Run.recover`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from autodip.core.config import FitConfig


def to_device(value: torch.Tensor | None, device: torch.device | str) -> torch.Tensor | None:
    """``value`` on ``device`` (``None`` stays ``None``)."""
    return value.to(device) if value is not None else None


def to_cpu(value: Any) -> Any:
    """A tensor, or a dict of tensors, detached and on the CPU (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return {k: v.detach().cpu() for k, v in value.items()}


@dataclass
class Snapshot:
    """The last good state, to return to when the run diverges (parameters copied)."""

    step: int
    fit_psnr: float
    net: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    average: torch.Tensor | None
    generator: torch.Tensor
    output: torch.Tensor | None = None
    fit_target: torch.Tensor | None = None

    @classmethod
    def take(
        cls,
        step: int,
        fit_psnr: float,
        net: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        *,
        average: torch.Tensor | None,
        output: torch.Tensor | None,
        fit_target: torch.Tensor | None,
    ) -> Snapshot:
        """Copy the parameters, the optimiser state and the tensors a step changes."""
        return cls(
            step,
            fit_psnr,
            {k: v.detach().clone() for k, v in net.state_dict().items()},
            copy.deepcopy(optimizer.state_dict()),
            average.clone() if average is not None else None,
            generator.get_state(),
            output.clone() if output is not None else None,
            fit_target,  # replaced, never changed in place: no copy needed
        )

    def refresh(
        self,
        step: int,
        fit_psnr: float,
        net: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        *,
        average: torch.Tensor | None,
        output: torch.Tensor | None,
        fit_target: torch.Tensor | None,
    ) -> Snapshot:
        """:meth:`take` into this snapshot's own buffers (no allocation) where their shapes allow.

        A run refreshes its snapshot at every monitored step; copying into the buffers it already
        holds costs a copy, where :meth:`take` also allocates and deep-copies Adam's state.
        Returns this snapshot, or a new one from :meth:`take` when the structure changed (the
        optimiser's state appears after its first step).
        """
        state = optimizer.state_dict()
        if not (
            _copy_tree(self.net, net.state_dict())
            and _copy_tree(self.optimizer["state"], state["state"])
            and _copy_optional(self.average, average)
            and _copy_optional(self.output, output)
        ):
            return Snapshot.take(step, fit_psnr, net, optimizer, generator, average=average,
                                 output=output, fit_target=fit_target)  # fmt: skip
        self.optimizer["param_groups"] = copy.deepcopy(state["param_groups"])
        self.step, self.fit_psnr = step, fit_psnr
        self.generator, self.fit_target = generator.get_state(), fit_target
        return self

    def restore(
        self,
        net: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Put the parameters, optimiser and random stream back; return the saved average,
        output and fit target.
        """
        net.load_state_dict(self.net)
        optimizer.load_state_dict(copy.deepcopy(self.optimizer))
        generator.set_state(self.generator)
        average = self.average.clone() if self.average is not None else None
        output = self.output.clone() if self.output is not None else None
        return average, output, self.fit_target

    def state_dict(self) -> dict[str, Any]:
        """The snapshot as plain data on the CPU (for a checkpoint)."""
        return {
            "step": self.step,
            "fit_psnr": self.fit_psnr,
            "net": to_cpu(self.net),
            "optimizer": self.optimizer,
            "average": to_cpu(self.average),
            "generator": self.generator,
            "output": to_cpu(self.output),
            "fit_target": to_cpu(self.fit_target),
        }

    @classmethod
    def from_state_dict(cls, saved: dict[str, Any], device: torch.device) -> Snapshot:
        """The snapshot :meth:`state_dict` saved, its images on ``device``."""
        return cls(
            saved["step"],
            saved["fit_psnr"],
            saved["net"],
            saved["optimizer"],
            to_device(saved["average"], device),
            saved["generator"],
            to_device(saved.get("output"), device),
            to_device(saved.get("fit_target"), device),
        )


def _copy_tree(old: Any, new: Any) -> bool:
    """Copy the tensors of the nested dict ``new`` into ``old``'s; ``False`` if the shapes or
    keys differ (then nothing is trusted and the caller takes a fresh copy).
    """
    if isinstance(new, torch.Tensor):
        if not isinstance(old, torch.Tensor) or old.shape != new.shape or old.dtype != new.dtype:
            return False
        old.copy_(new)
        return True
    if isinstance(new, dict):
        if not isinstance(old, dict) or old.keys() != new.keys():
            return False
        return all(_copy_tree(old[key], value) for key, value in new.items())
    return old == new


def _copy_optional(old: torch.Tensor | None, new: torch.Tensor | None) -> bool:
    if old is None or new is None:
        return old is None and new is None
    return _copy_tree(old, new)


def divergence(loss: float, fit_psnr: float, snapshot: Snapshot, cfg: FitConfig) -> str | None:
    """Why this monitored step counts as divergence, or ``None``.

    The loss became NaN or infinite, or the fit to the target (as a PSNR) fell by more than
    ``cfg.divergence_drop_db`` since the last good monitored step — the test of the original DIP
    code, which backtracks when the fit drops by more than 5 dB between checks.
    """
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    drop = snapshot.fit_psnr - fit_psnr
    if math.isfinite(snapshot.fit_psnr) and drop > cfg.divergence_drop_db:
        return f"the fit to the target fell by {drop:.1f} dB"
    return None
