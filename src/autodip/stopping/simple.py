"""Reference criteria: a fixed iteration count, and the oracle PSNR (benchmarks only)."""

from __future__ import annotations

from typing import Any

import torch

from autodip.metrics.full_reference import psnr
from autodip.stopping.base import (
    Context,
    Criterion,
    Range,
    declare_options,
    register_criterion,
)


@register_criterion
class FixedIterations(Criterion):
    """Stop at step ``at``: the score ``−min(step, at)`` falls until ``at`` and is flat after it.

    Through the shared candidate rule (patience 1 by default) the best step is the first monitored
    step at or after ``at`` (``at`` itself when it is a multiple of ``monitor_every``); the run
    stops one monitored step later and returns the estimate of the best step. With ``at`` equal
    to ``max_iters`` the rule has no step left to confirm with, and the result says so.
    """

    name = "fixed"
    summary = "Stop at the step given as option at (its score falls until then, flat after)"
    default_patience = 1
    gated = False
    option_ranges = declare_options(at=Range(1))

    def __init__(self, at: int = 3000) -> None:
        if at < 1:
            raise ValueError(f"'at' must be a positive step, got {at}")
        self.at = at

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Return ``-min(step, at)``."""
        return -float(min(step, self.at))

    def describe(self) -> dict[str, Any]:
        """Name and stop step."""
        return {"name": self.name, "at": self.at}


@register_criterion
class OraclePSNR(Criterion):
    """PSNR of the estimate against the clean reference — the unattainable best, for benchmarks."""

    name = "oracle"
    lower_is_better = False
    needs_reference = True
    gated = False
    default_patience = 1000

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Return the PSNR (dB) of ``output`` against ``context.reference``."""
        if context.reference is None:
            raise ValueError("the oracle criterion needs a clean reference image")
        return psnr(output, context.reference)
