r"""Degradation operators ``A``: the runner fits :math:`\min_\theta \|A(f_\theta(z)) - y\|^2`.

An operator maps a clean image estimate ``x`` (B×C×H×W) to the measurement space of ``y``. Linear
operators also provide the adjoint ``A_adjoint``. This release ships :class:`Denoise`; inpainting
and super-resolution follow the same interface.
"""

from __future__ import annotations

import torch


class Operator:
    """Base class: ``A(x)`` maps an image to its measurement;
    ``linear`` says whether it is linear.
    """

    name = "operator"
    linear = True

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802 - the operator's usual name
        """Apply the degradation."""
        raise NotImplementedError

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Apply the adjoint of a linear degradation."""
        raise NotImplementedError

    def describe(self) -> dict:
        """The operator as plain data (for reports)."""
        return {"name": self.name}


class Denoise(Operator):
    """The identity: the measurement is the noisy image itself, ``A(x) = x``."""

    name = "denoise"

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Return ``x`` unchanged."""
        return x

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Return ``y`` unchanged (the identity is self-adjoint)."""
        return y
