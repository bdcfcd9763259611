r"""The fit guard: whether the estimate has reproduced the measurement, up to its noise.

Morozov's discrepancy principle (V. A. Morozov, *Soviet Math. Dokl.* 7, 1966): an estimate
:math:`\hat x` of an image measured as :math:`y = A x + n` with white noise of variance
:math:`\sigma^2` is consistent with the measurement when its residual

.. math::

    r(\hat x) = \frac{1}{|\Omega|} \sum_{i \in \Omega} \big( (A \hat x)_i - y_i \big)^2
    \;\approx\; \sigma^2,

with :math:`\Omega` the measured values (the known pixels of an inpainting mask). DIP's estimate
starts far above it (:math:`r = \sigma^2 + \|x - \hat x\|^2/N` while the image is not yet formed)
and ends below it (the network reproduces the noise). An estimate whose residual is still well
above :math:`\sigma^2` has not reproduced the image yet: it is *under-fitted*. This is what a
width-32 hourglass did on a textured 256² photograph after 1500 steps (residual 0.0098 against
:math:`\hat\sigma^2 = 0.0050`; the result was below its own noisy input).

The guard judges ``r > ratio · σ̂²`` with σ̂ the blind estimate of
:func:`autodip.analysis.noise_level.estimate_sigma`. σ̂ assumes white Gaussian noise: on real
camera noise
(spatially correlated after demosaicing and compression) it reads far too low (0.74–2.97/255 on
CC15, where the noise std is 3.6–8.3/255), which would make every estimate look under-fitted. Below
``min_sigma`` the guard therefore says it cannot judge instead of guessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

# The guard's thresholds and their evidence live in autodip.defaults; these names stay importable.
from autodip.defaults import GUARD_MIN_SIGMA as GUARD_MIN_SIGMA
from autodip.defaults import GUARD_RATIO as GUARD_RATIO
from autodip.physics.operators import Operator


@dataclass(frozen=True)
class FitCheck:
    """The guard's verdict on one estimate.

    Attributes
    ----------
    residual
        Mean squared residual on the measured values, in [0, 1]² units.
    sigma
        The noise level the residual is compared with (0–255 scale).
    ratio
        ``residual / (sigma/255)²`` (``None`` when σ̂ is 0).
    underfitted
        ``True`` or ``False``; ``None`` when the guard cannot judge (σ̂ below ``min_sigma``).
    note
        The verdict in words, for summaries and reports.
    """

    residual: float
    sigma: float
    ratio: float | None
    underfitted: bool | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        """The verdict as plain data."""
        return asdict(self)


def measurement_residual(
    estimate: torch.Tensor,
    measured: torch.Tensor,
    operator: Operator,
    support: torch.Tensor | None = None,
) -> float:
    r"""Mean of :math:`((A\hat x)_i - y_i)^2` over the measured values :math:`i \in \Omega`.

    Examples
    --------
    >>> from autodip.physics.operators import Denoise
    >>> y = torch.zeros(1, 1, 4, 4)
    >>> round(measurement_residual(y + 0.1, y, Denoise()), 6)
    0.01
    """
    squared = (operator.A(estimate.float()) - measured.float()) ** 2
    if support is None:  # a run passes it, made once (``measured_support``)
        support = measured_support(measured, operator)
    count = float(support.sum())
    if count == 0:
        return 0.0
    return float((squared * support).sum()) / count


def measured_support(measured: torch.Tensor, operator: Operator) -> torch.Tensor:
    """1 where ``measured`` holds a measured value, 0 elsewhere (an inpainting mask's holes)."""
    return operator.restrict(torch.ones_like(measured, dtype=torch.float32))


def check_fit(
    estimate: torch.Tensor,
    measured: torch.Tensor,
    operator: Operator,
    sigma: float,
    *,
    ratio: float = GUARD_RATIO,
    min_sigma: float = GUARD_MIN_SIGMA,
) -> FitCheck:
    """Judge whether ``estimate`` has reproduced ``measured`` up to noise of level ``sigma``.

    Parameters
    ----------
    estimate, measured
        ``1×C×H×W`` tensors: the estimate (the operator's input size) and the measurement.
    operator
        The degradation ``A``.
    sigma
        The measurement's noise level on the 0–255 scale (σ̂).
    ratio, min_sigma
        The verdict's threshold ``residual > ratio · σ̂²``, and the σ̂ below which no verdict is
        given (see the module).

    Examples
    --------
    >>> from autodip.physics.operators import Denoise
    >>> y = torch.full((1, 1, 8, 8), 0.5)
    >>> check_fit(y + 20 / 255, y, Denoise(), sigma=10.0).underfitted
    True
    >>> check_fit(y + 10 / 255, y, Denoise(), sigma=10.0).underfitted
    False
    >>> check_fit(y, y, Denoise(), sigma=1.0).underfitted is None
    True
    """
    residual = measurement_residual(estimate, measured, operator)
    variance = (sigma / 255.0) ** 2
    measured_ratio = residual / variance if variance > 0 else None
    rms = 255.0 * residual**0.5
    if sigma < min_sigma:
        return FitCheck(
            residual,
            sigma,
            measured_ratio,
            None,
            f"not judged: the estimated noise level σ̂ = {sigma:.2f}/255 is below "
            f"{min_sigma:g}/255 (little noise, or noise that is not white Gaussian), so the "
            f"residual ({rms:.2f}/255 rms) cannot be compared with it",
        )
    assert measured_ratio is not None
    if measured_ratio > ratio:
        return FitCheck(
            residual,
            sigma,
            measured_ratio,
            True,
            f"under-fitted: the estimate still differs from the input by {rms:.1f}/255 rms, "
            f"{measured_ratio:.2f}× the noise variance (σ̂ = {sigma:.1f}/255); it has not yet "
            f"reproduced the image",
        )
    return FitCheck(
        residual,
        sigma,
        measured_ratio,
        False,
        f"fitted: residual {rms:.1f}/255 rms, {measured_ratio:.2f}× the noise variance "
        f"(σ̂ = {sigma:.1f}/255)",
    )


def measurement_sigma(measured: torch.Tensor, operator: Operator) -> float:
    """σ̂ of the measurement (0–255 scale), from its measured values only.

    For inpainting, only the 2×2 blocks of known pixels count, so that the holes and their
    borders do not read as noise; with no such block (a mask of stripes or isolated pixels) the
    noise cannot be estimated and 0 is returned, which the guard does not judge.
    """
    from autodip.analysis.noise_level import estimate_sigma

    values = measured.detach().float().cpu()
    support = operator.restrict(torch.ones_like(values))
    if float(support.min()) == 1:
        return estimate_sigma(values[0].numpy())
    sigmas = []
    for channel in range(values.shape[1]):  # each channel with its own known pixels
        try:
            plane, known = values[0, channel : channel + 1], support[0, channel]
            sigmas.append(estimate_sigma(plane.numpy(), known=known.numpy()))
        except ValueError:  # no 2×2 block of this channel is wholly known
            continue
    return float(sum(sigmas) / len(sigmas)) if sigmas else 0.0
