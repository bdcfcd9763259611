r"""``holdout``: stop where the estimate best predicts pixels it was never shown.

A random fraction ``p`` of the pixels (the same for every channel, drawn from the run's seed) is
hidden from the loss for the whole run: the network fits :math:`y` on the others only. On the
hidden set :math:`H` the estimate is a prediction, and

.. math::

    M_t = \frac{1}{|H|}\sum_{i \in H} \big((A x_t)_i - y_i\big)^2,
    \qquad \mathbb E[M_t] = \sigma^2 + \frac{1}{|H|}\sum_{i\in H}\big((A x_t)_i - (Ax)_i\big)^2

for noise independent of the estimate there: its minimum tracks the error's minimum without a
clean image and without assuming the noise is Gaussian or knowing its level. This is how the
auto-denoise package picks the best epoch of self-supervised denoisers (validation on held-out
pixels). The price is that the hidden pixels are inpainted rather than fitted; the development
sweep measures what that costs (``benchmarks/results/guard.md``).
"""

from __future__ import annotations

from typing import Any

import torch

from autodip.physics.operators import Operator
from autodip.stopping.base import Context, Criterion, Range, declare_options, register_criterion

#: Offset of the hidden-pixel draw's seed from the run's seed (distinct from OSC's).
_SEED_OFFSET = 104729


@register_criterion
class Holdout(Criterion):
    """MSE against the noisy values on a hidden ``fraction`` of the measured pixels."""

    name = "holdout"
    changes_objective = True
    default_patience = 300
    option_ranges = declare_options(fraction=Range(0, 0.5, low_open=True, high_open=True))

    def __init__(self, fraction: float = 0.1) -> None:
        if not 0 < fraction < 0.5:
            raise ValueError(f"fraction must be in (0, 0.5), got {fraction}")
        self.fraction = fraction
        self.hidden: torch.Tensor | None = None

    def loss_weights(
        self, target: torch.Tensor, seed: int, operator: Operator | None = None
    ) -> torch.Tensor:
        """Weights of the loss (``1×1×H×W``, or ``1×C×H×W`` with an operator): 0 on the hidden
        measured values, 1 elsewhere; the hidden pixels are drawn from ``seed``.
        """
        generator = torch.Generator().manual_seed(seed + _SEED_OFFSET)
        height, width = target.shape[-2:]
        hidden = (torch.rand(1, 1, height, width, generator=generator) < self.fraction).float()
        hidden = hidden.to(target.device)
        if operator is not None:
            # only measured values can be held out (an inpainting mask's known values, which
            # may differ between channels)
            hidden = hidden * operator.restrict(torch.ones_like(target))
        self.hidden = hidden
        return 1.0 - hidden

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Return the MSE of ``A(output)`` against the measurement on the hidden pixels."""
        if self.hidden is None:
            raise ValueError("the holdout criterion needs its hidden pixels (loss_weights)")
        squared = (context.operator.A(output.float()) - context.target) ** 2
        weight = self.hidden.expand_as(squared)
        return float((squared * weight).sum() / weight.sum().clamp_min(1.0))

    def describe(self) -> dict[str, Any]:
        """Name and hidden fraction."""
        return {"name": self.name, "fraction": self.fraction}
