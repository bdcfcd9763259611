r"""Output-variance criteria of ES-WMV (Wang, Li, Zhuang, Sun, "Early Stopping for Deep Image
Prior").

DIP's outputs change fast at first, settle as the image forms, and start drifting again as the
network fits the noise; the variance of recent outputs therefore has a minimum near the best
iterate.

* ``wmv``: windowed moving variance over the last ``window`` steps,
  :math:`\mathrm{WMV}_t = \frac1{|W|}\sum_{w\in W}\|x_w - \bar x\|^2 / N`.
* ``emv``: its exponential version with :math:`\delta = x - \mathrm{ema}`,
  :math:`\mathrm{ema} \leftarrow \mathrm{ema} + \alpha\delta`,
  :math:`\mathrm{emv} \leftarrow (1-\alpha)(\mathrm{emv} + \alpha\|\delta\|^2/N)`.

Both look at the raw network output (not the moving average the estimate is), as ES-WMV does, at the
monitored steps: the window is measured in optimisation steps; ``α`` applies per monitored sample.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import torch

from autodip.stopping.base import (
    Context,
    Criterion,
    Range,
    declare_options,
    register_criterion,
)


@register_criterion
class WindowedVariance(Criterion):
    """ES-WMV's windowed moving variance of the raw outputs (window ``W = 100`` steps)."""

    name = "wmv"
    summary = (
        "ES-WMV (Wang et al., Early Stopping for Deep Image Prior): the variance of the last "
        "W = 100 outputs"
    )
    default_patience = 1000
    option_ranges = declare_options(window=Range(1))

    def __init__(self, window: int = 100) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 step, got {window}")
        self.window = window
        #: Steps of raw outputs the criterion holds (for the memory estimate).
        self.kept_steps = window
        self.reset()

    def reset(self) -> None:
        """Empty the window."""
        self._samples: deque[tuple[int, torch.Tensor]] = deque()
        self._first_step: int | None = None

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Add the raw output; return the window's variance once it spans ``window`` steps."""
        spacing = step - self._samples[-1][0] if self._samples else 1
        if self._first_step is None:
            self._first_step = step
        self._samples.append((step, context.raw.detach().float().clone()))
        while self._samples[0][0] <= step - self.window:
            self._samples.popleft()
        if step - self._first_step + spacing < self.window or len(self._samples) < 2:
            return None
        stack = torch.stack([x for _, x in self._samples])
        return float(((stack - stack.mean(dim=0)) ** 2).mean())

    def describe(self) -> dict[str, Any]:
        """Name and window."""
        return {"name": self.name, "window": self.window}


@register_criterion
class ExponentialVariance(Criterion):
    """ES-EMV's exponential moving variance of the raw outputs (``α = 0.1`` per sample).

    The variance starts at 0 and needs about ``1/α`` samples to reflect the outputs, so no score is
    given for the first ``ceil(1/α)`` samples (otherwise the warm-up would be the minimum).
    """

    name = "emv"
    summary = (
        "ES-EMV (Wang et al., Early Stopping for Deep Image Prior): the outputs' exponential "
        "moving variance (α = 0.1)"
    )
    default_patience = 1000
    option_ranges = declare_options(alpha=Range(0, 1, low_open=True))

    def __init__(self, alpha: float = 0.1) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.reset()

    def reset(self) -> None:
        """Forget the averages."""
        self._ema: torch.Tensor | None = None
        self._emv = 0.0
        self._count = 0

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Fold in the raw output; return the exponential moving variance after the warm-up."""
        x = context.raw.detach().float()
        self._count += 1
        if self._ema is None:
            self._ema = x.clone()
            return None
        delta = x - self._ema
        self._ema += self.alpha * delta
        self._emv = (1 - self.alpha) * (self._emv + self.alpha * float((delta**2).mean()))
        return self._emv if self._count > math.ceil(1 / self.alpha) else None

    def describe(self) -> dict[str, Any]:
        """Name and α."""
        return {"name": self.name, "alpha": self.alpha}
