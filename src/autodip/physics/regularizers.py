r"""Explicit regularisers added to DIP's loss: anisotropic total variation.

Peng, Hou and Tan (*It Takes Two to Better Denoise*, Sec. 3) add total variation to DIP's data term
for the first third of the iterations,

.. math::

    \min_\theta\ \tfrac12 \|A f_\theta(z) - y\|_2^2 + \lambda\,\mathrm{TV}(f_\theta(z)), \qquad
    \mathrm{TV}(u) = \sum_{i,j} |u_{i+1,j} - u_{i,j}| + |u_{i,j+1} - u_{i,j}|,

summed over channels too. The runner's data term is the mean :math:`\|A x - y\|^2 / M` over the
``M`` measured values, so it adds :math:`2\lambda\,\mathrm{TV}(x)/M`: the objective is then
:math:`(2/M)` times the paper's, with the same minimiser, and ``--tv λ`` means the paper's λ on
images scaled to [0, 1].
"""

from __future__ import annotations

import torch


def anisotropic_tv(x: torch.Tensor) -> torch.Tensor:
    """Sum of the absolute differences between vertical and horizontal neighbours.

    Parameters
    ----------
    x
        ``…×H×W`` tensor; every leading index (batch, channel) is summed over.

    Returns
    -------
    torch.Tensor
        A scalar; its gradient is ``sign`` of the differences (0 where two neighbours are equal).

    Examples
    --------
    >>> anisotropic_tv(torch.tensor([[0.0, 1.0], [3.0, 1.0]])).item()
    6.0
    """
    if x.ndim < 2:
        raise ValueError(f"expected at least H×W, got shape {tuple(x.shape)}")
    vertical = (x[..., 1:, :] - x[..., :-1, :]).abs().sum()
    horizontal = (x[..., :, 1:] - x[..., :, :-1]).abs().sum()
    return vertical + horizontal


def tv_penalty(x: torch.Tensor, weight: float, measured_values: int) -> torch.Tensor:
    r"""The TV term on the runner's scale: :math:`2\lambda\,\mathrm{TV}(x)/M` (see the module)."""
    return anisotropic_tv(x) * (2.0 * weight / measured_values)
