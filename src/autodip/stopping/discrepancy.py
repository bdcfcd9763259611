r"""``discrepancy``: stop where the residual reaches the noise level (Morozov's principle).

The residual of the estimate on the measured values,
:math:`r_t = \frac{1}{|\Omega|}\sum_{i\in\Omega}((A x_t)_i - y_i)^2`, falls as DIP fits the
measurement; once it is below the noise variance the network is reproducing noise
(:mod:`autodip.stopping.fit_guard`). The score is the distance of the residual to its target level,

.. math::

    M_t = 255^2 \, \big| r_t - (1 + m)\,\hat\sigma^2 \big|,

(on the 0–255² scale) with σ̂ the blind noise estimate of the measurement and ``margin`` :math:`m`.
Through the shared candidate rule its minimum is the step where the residual crosses the target:
the score falls while the residual approaches it and rises once it has passed below.

σ̂ assumes white Gaussian noise. On real camera noise it reads far too low, the target is then
below any residual DIP reaches before it reproduces the noise, and this criterion stops late:
see ``benchmarks/results/guard.md`` (CC15) before trusting it there.
"""

from __future__ import annotations

from typing import Any

import torch

from autodip.stopping.base import Context, Criterion, Range, declare_options, register_criterion
from autodip.stopping.fit_guard import measurement_residual, measurement_sigma


@register_criterion
class Discrepancy(Criterion):
    """Distance of the residual to ``(1 + margin)·σ̂²``; σ̂ estimated unless ``sigma`` is given."""

    name = "discrepancy"
    summary = (
        "Morozov's discrepancy principle: the residual's distance to (1 + margin)·σ̂², σ̂ "
        "estimated unless sigma is given"
    )
    default_patience = 300
    option_ranges = declare_options(
        margin=Range(-1, 10, low_open=True, high_open=True), sigma=Range(0)
    )

    def __init__(self, margin: float = 0.0, sigma: float | None = None) -> None:
        if not -1 < margin < 10:
            raise ValueError(f"margin must be in (-1, 10), got {margin}")
        if sigma is not None and not sigma >= 0:
            raise ValueError(f"sigma must be a non-negative level (0–255 scale), got {sigma}")
        self.margin = margin
        self.fixed_sigma = sigma
        self.reset()

    def reset(self) -> None:
        """Forget the previous run's noise estimate."""
        self.sigma: float | None = self.fixed_sigma

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Return ``255²·|residual − (1 + margin)·σ̂²|`` for the estimate ``output``."""
        if self.sigma is None:
            self.sigma = measurement_sigma(context.target, context.operator)
        residual = measurement_residual(output, context.target, context.operator)
        level = (1.0 + self.margin) * (self.sigma / 255.0) ** 2
        return 255.0**2 * abs(residual - level)

    def describe(self) -> dict[str, Any]:
        """Name, margin and the σ̂ used."""
        return {"name": self.name, "margin": self.margin, "sigma": self.sigma}
