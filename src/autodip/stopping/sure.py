r"""``sure``: stop where Stein's unbiased estimate of the error is lowest, its divergence read from
OSC's pseudo-noise.

OSC (*Towards the Automation of Deep Image Prior*, :mod:`autodip.stopping.osc`) makes the network
fit :math:`z = y + p`, with :math:`p \sim \mathcal N(0, s^2)` a fixed pseudo-noise, and tracks the
projection :math:`c_t = \langle A x_t, p\rangle / \langle p, p\rangle` of the estimate on it. For
white Gaussian noise, :math:`y = Ax + n` with :math:`n \sim \mathcal N(0, \sigma^2)`, the whole
run up to step :math:`t` is a map :math:`z \mapsto A x_t(z)`, and Stein's lemma (C. Stein,
*Estimation of the mean of a multivariate normal distribution*, Ann. Statist. 9, 1981) gives its
divergence from the projection: :math:`\mathbb E\langle A x_t, p\rangle = s^2\, \mathbb E\,
\mathrm{div}\, A x_t`, so :math:`c_t \approx \mathrm{div}\, A x_t / N` over the :math:`N`
measured values — the Monte-Carlo divergence of Ramani, Blu and Unser (*Monte-Carlo SURE*, IEEE
TIP 17, 2008), here without an extra forward pass, since OSC's objective already holds the probe.
Stein's unbiased risk estimate for the noise :math:`n + p` of :math:`z` then reads, after the
terms in :math:`p` cancel,

.. math::

    \widehat{\mathrm{MSE}}_t = r_t - \hat\sigma^2 + 2\hat\sigma^2 (c_t - c_y)
    \;\approx\; \frac{1}{N}\,\mathbb E\,\lVert A x_t - A x \rVert^2,
    \qquad r_t = \frac{1}{N}\lVert A x_t - y \rVert^2,
    \quad c_y = \frac{\langle y, p\rangle}{\langle p, p\rangle},

where subtracting :math:`c_y` (zero in expectation, the same at every step) leaves the estimate
unbiased and removes most of its variance: :math:`c_t - c_y` projects the residual
:math:`A x_t - y`, not the whole image, on :math:`p`. It shifts every score alike, so the stop is
the same with it or without. σ̂ is the blind noise estimate of :math:`y`
(:func:`autodip.stopping.fit_guard.measurement_sigma`) unless ``sigma`` is given.

The score is :math:`255^2\,\widehat{\mathrm{MSE}}_t` (lower is better):
the residual falls as the network fits, and :math:`2\sigma^2 c_t` rises as it starts fitting
noise, whose share of :math:`p` it measures directly. For denoising this is the error itself; for
inpainting and super-resolution it is the error in the measurement's space (the known pixels, the
low-resolution image), and without noise (:math:`\hat\sigma = 0`) it is the residual, which never
turns up: those runs go to their budget, as DIP runs them.

The pseudo-noise is OSC's draw (the same seed, the same pattern) at a smaller std,
:data:`DEFAULT_STD`: ``p`` is noise the network fits too, so it costs the peak in proportion to
:math:`s^2/\sigma^2`, while too small an :math:`s` leaves :math:`c_t` noisy. With ``std=1/25`` a
``sure`` run is exactly an OSC run, which is how ``benchmarks/osc_window.py`` replays this score on
the sweeps' recorded OSC runs (:func:`sure_scores`).

Where it can be wrong: SURE assumes white Gaussian noise of level σ̂. On real camera noise σ̂
reads far too low (``benchmarks/results/cc15.md``), the divergence term then weighs too little, and
the stop comes late (at the budget, where σ̂ is too low for the fit guard to judge). A denoising run
whose σ̂ is below the fit guard's floor (:data:`autodip.defaults.GUARD_MIN_SIGMA`) and whose
``sigma`` is not given therefore warns once that ``sure`` will not stop it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch

from autodip.defaults import GUARD_MIN_SIGMA
from autodip.physics.operators import Denoise, Operator
from autodip.stopping.base import Context, Criterion, Range, declare_options, register_criterion
from autodip.stopping.fit_guard import measurement_residual, measurement_sigma
from autodip.stopping.osc import coefficient, draw_pseudo_noise, projection

#: The pseudo-noise's std (on [0, 1]): 3/255. Smaller than OSC's 1/25 because ``p`` is noise the
#: network fits too: on 4 development crops at 128² (``benchmarks/results/sure_std.md``) 10.2/255
#: cost the peak 0.86 dB at σ = 15 and 0.33 at σ = 25, 3/255 0.10 and −0.04 with sure's stop
#: within 0.01–0.03 dB of its run's peak, while 1/255 left the projection too noisy (stops
#: 0.30 dB under the peak). At 256² (``benchmarks/results/sure256.md``, 12 crop/σ pairs) it costs
#: the peak 0.16 / 0.02 / 0.02 dB at σ = 15 / 25 / 50 but stops 0.10–0.13 dB under its run's peak,
#: ending −0.10 / +0.01 / +0.15 dB against the default stop (CIFS), which therefore stays.
DEFAULT_STD = 3 / 255


def sure_score(residual: float, coefficient: float, sigma: float, offset: float = 0.0) -> float:
    r"""The score :math:`255^2 (r - \sigma^2 + 2\sigma^2 (c - c_y))` of a residual ``residual``
    (mean square on the [0, 1] scale), a projection ``coefficient`` :math:`c`, a noise level
    ``sigma`` (0–255) and the measurement's own projection ``offset`` :math:`c_y`.

    Examples
    --------
    >>> round(sure_score(0.03, 0.0, 25.5), 6)  # none of the noise fitted: residual − σ²
    1300.5
    >>> round(sure_score(0.0, 1.0, 25.5), 6)  # the noise reproduced: its variance is the error
    650.25
    """
    variance = (sigma / 255.0) ** 2
    return 255.0**2 * (residual - variance + 2.0 * variance * (coefficient - offset))


def sure_scores(
    residuals: Sequence[float], coefficients: Sequence[float], sigma: float, offset: float = 0.0
) -> list[float]:
    """:func:`sure_score` along a recorded run: what ``sure`` would have scored at each monitored
    step of a run with the same objective (an OSC run's curve and its residuals), without running
    it again. Without the run's ``offset`` (an OSC run does not record it) every score is off by
    the same amount and the stop is the same.
    """
    return [sure_score(r, c, sigma, offset) for r, c in zip(residuals, coefficients, strict=True)]


@register_criterion
class SteinRisk(Criterion):
    """Stein's unbiased estimate of the MSE, the divergence from an OSC-style pseudo-noise of
    ``std`` (default :data:`DEFAULT_STD`); σ̂ estimated unless ``sigma`` (0–255) is given.
    """

    name = "sure"
    summary = (
        "Stein's unbiased risk estimate r - σ̂² + 2σ̂²·c, the divergence c read from OSC's "
        "pseudo-noise (Towards the Automation of Deep Image Prior); white Gaussian noise"
    )
    changes_objective = True
    default_patience = 300
    option_ranges = declare_options(std=Range(0, low_open=True), sigma=Range(0))

    def __init__(self, std: float = DEFAULT_STD, sigma: float | None = None) -> None:
        if not std > 0:
            raise ValueError(f"std must be positive, got {std}")
        if sigma is not None and not sigma >= 0:
            raise ValueError(f"sigma must be a non-negative level (0–255 scale), got {sigma}")
        self.std = std
        self.fixed_sigma = sigma
        self.noise: torch.Tensor | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the curve and the noise estimate (the pseudo-noise stays)."""
        self.sigma: float | None = self.fixed_sigma
        self.offset: float | None = None
        self.steps: list[int] = []
        self.coefficients: list[float] = []
        self.residuals: list[float] = []

    def objective_offset(
        self, target: torch.Tensor, seed: int, operator: Operator | None = None
    ) -> torch.Tensor:
        """OSC's pseudo-noise for this seed (:func:`~autodip.stopping.osc.draw_pseudo_noise`)."""
        self.noise = draw_pseudo_noise(target, seed, self.std, operator)
        return self.noise

    def update(self, step: int, output: torch.Tensor, context: Context) -> float:
        r"""Return :math:`255^2 (r_t - \hat\sigma^2 + 2\hat\sigma^2 (c_t - c_y))` for
        ``output``.
        """
        if self.noise is None:
            raise ValueError("sure needs its pseudo-noise in the objective (objective_offset)")
        if self.sigma is None:
            self.sigma = measurement_sigma(context.target, context.operator)
            if self.sigma < GUARD_MIN_SIGMA and isinstance(context.operator, Denoise):
                warnings.warn(
                    f"autodip: sure: the estimated noise level σ̂ = {self.sigma:.2f}/255 is below "
                    f"{GUARD_MIN_SIGMA:g}/255 (little noise, or noise that is not white Gaussian), "
                    "so sure will not stop this run before its budget; give the noise level "
                    "(--criterion-option sure.sigma=S, 0-255 scale) or use another criterion",
                    RuntimeWarning,
                    stacklevel=2,
                )
        if self.offset is None:  # c_y: y is already a measurement, A is not applied
            self.offset = coefficient(context.target, self.noise)
        residual = measurement_residual(output, context.target, context.operator)
        projected = projection(output, self.noise, context.operator)
        self.steps.append(step)
        self.coefficients.append(projected)
        self.residuals.append(residual)
        return sure_score(residual, projected, self.sigma, self.offset)

    def trace(self) -> dict[str, list[float]]:
        """The projection :math:`c_t` and residual :math:`r_t` at every monitored step."""
        return {
            "steps": list(self.steps),
            "coefficients": list(self.coefficients),
            "residuals": list(self.residuals),
        }

    def describe(self) -> dict[str, Any]:
        """Name, pseudo-noise std, the σ̂ used and the measurement's projection :math:`c_y`."""
        return {"name": self.name, "std": self.std, "sigma": self.sigma, "offset": self.offset}
