r"""Degradation operators ``A``: the runner fits :math:`\min_\theta \|A(f_\theta(z)) - y\|^2`.

An operator maps a clean image estimate ``x`` (B×C×H×W) to the measurement space of ``y`` and
provides the adjoint ``A_adjoint`` (all operators here are linear, and the tests check
:math:`\langle A x, y\rangle = \langle x, A^\top y\rangle` on random tensors). Besides ``A`` an
operator says how large the estimate is for a given measurement (:meth:`Operator.estimate_size`)
and which measured values are real (:meth:`Operator.restrict`: OSC's pseudo-noise lives on those
only).

* :class:`Denoise` — the identity.
* :class:`Inpaint` — multiplication by a 0/1 mask (1 = known pixel), per pixel or per channel.
* :class:`SuperResolve` — a fixed anti-aliased Lanczos-2 low-pass filter followed by subsampling
  with stride ``factor`` (the downsampler of the original DIP super-resolution code, written anew).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


class Operator:
    """Base class: ``A(x)`` maps an image to its measurement; ``A_adjoint`` is its adjoint."""

    name = "operator"
    linear = True

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802 - the operator's usual name
        """Apply the degradation."""
        raise NotImplementedError

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Apply the adjoint of the (linear) degradation."""
        raise NotImplementedError

    def estimate_size(self, height: int, width: int) -> tuple[int, int]:
        """Height and width of the image estimated from a ``height × width`` measurement."""
        return height, width

    def restrict(self, y: torch.Tensor) -> torch.Tensor:
        """Zero the entries of a measurement-shaped tensor that are not measured (none here)."""
        return y

    def check(self, y: torch.Tensor) -> None:
        """Raise ``ValueError`` if ``y`` (1×C×H×W) cannot be a measurement of this operator."""

    def describe(self) -> dict[str, Any]:
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


class Inpaint(Operator):
    r"""Keep the known pixels: :math:`A(x) = m \odot x` with a 0/1 mask ``m`` (1 = known).

    ``A`` is a diagonal projection, so it is its own adjoint.

    Parameters
    ----------
    mask
        ``H×W``, ``1×H×W`` or ``C×H×W`` (per-channel) array or tensor; values > 0.5 count as known.

    Raises
    ------
    ValueError
        If the mask has no known pixel, NaN or infinite values, or a shape that is not one of
        the above; :meth:`A`, :meth:`A_adjoint` and :meth:`restrict` raise it for an image
        that the mask does not fit (see :meth:`check`).

    Examples
    --------
    >>> op = Inpaint(np.array([[1, 0], [0, 1]]))
    >>> op.A(torch.ones(1, 3, 2, 2))[0, 0].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    name = "inpaint"

    def __init__(self, mask: np.ndarray | torch.Tensor) -> None:
        m = torch.as_tensor(np.asarray(mask, dtype=np.float32))
        if m.ndim == 2:
            m = m[None]
        if m.ndim != 3 or min(m.shape) < 1:
            raise ValueError(f"mask must be H×W or C×H×W, got shape {tuple(m.shape)}")
        if not torch.isfinite(m).all():
            raise ValueError("mask contains NaN or infinite values")
        self.mask = (m > 0.5).float()[None]
        known = int(self.mask.sum())
        if known == 0:
            raise ValueError("the mask has no known pixel (white = known; see --mask-invert)")
        self.known_fraction = known / self.mask.numel()

    def _mask_for(self, x: torch.Tensor) -> torch.Tensor:
        self.check(x)  # broadcasting would turn a mismatch into a wrong shape, silently
        if self.mask.device != x.device:
            self.mask = self.mask.to(x.device)
        return self.mask

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Zero the unknown pixels of ``x``."""
        return x * self._mask_for(x)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """The same projection (``A`` is self-adjoint)."""
        return y * self._mask_for(y)

    def restrict(self, y: torch.Tensor) -> torch.Tensor:
        """Zero the unknown pixels."""
        return self.A(y)

    def check(self, y: torch.Tensor) -> None:
        """The mask must have the image's height and width, and 1 or the image's channels."""
        channels, height, width = self.mask.shape[1:]
        if (height, width) != tuple(y.shape[-2:]):
            raise ValueError(
                f"the mask is {width}×{height} pixels but the image is "
                f"{y.shape[-1]}×{y.shape[-2]}; they must match"
            )
        image_channels = y.shape[-3] if y.ndim >= 3 else 1
        if channels not in (1, image_channels):
            raise ValueError(
                f"the mask has {channels} channels; it needs 1 or the image's {image_channels}"
            )

    def describe(self) -> dict[str, Any]:
        """Name, mask shape and the fraction of known values."""
        return {
            "name": self.name,
            "mask_shape": list(self.mask.shape[1:]),
            "known_fraction": self.known_fraction,
        }


def lanczos2_taps(factor: int) -> np.ndarray:
    r"""The 1-D Lanczos-2 anti-aliasing filter for downsampling by ``factor``, summing to 1.

    .. math::

        w_k \propto L_2\!\left(\frac{k - (n-1)/2}{f}\right), \qquad
        L_2(d) = \operatorname{sinc}(d)\,\operatorname{sinc}(d/2) \ (|d| < 2), \quad 0 \text{ else},

    with :math:`\operatorname{sinc}(d) = \sin(\pi d)/(\pi d)`. The kernel spans two low-resolution
    pixels on each side of the block it averages, stretched by ``f`` (cut-off at the
    low-resolution Nyquist frequency). ``n = 4f`` taps for even ``f`` (centred between pixels, like
    the ``f`` high-resolution pixels of a block) and ``4f − 1`` for odd ``f`` (centred on the
    block's middle pixel; the two end taps of ``4f + 1`` would be exactly 0).

    Examples
    --------
    >>> taps = lanczos2_taps(2)
    >>> len(taps), round(float(taps.sum()), 6), bool(np.allclose(taps, taps[::-1]))
    (8, 1.0, True)
    """
    if factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}")
    n = 4 * factor if factor % 2 == 0 else 4 * factor - 1
    d = (np.arange(n) - (n - 1) / 2) / factor
    taps = np.sinc(d) * np.sinc(d / 2) * (np.abs(d) < 2)
    return taps / taps.sum()


class SuperResolve(Operator):
    r"""Anti-aliased downsampling by ``factor``: :math:`A = S_f\,K\,P`.

    ``P`` pads the estimate by replicating its edge ``p = (n − f)/2`` pixels on each side, ``K`` is
    the separable Lanczos-2 filter of :func:`lanczos2_taps` (``n`` taps), and ``S_f`` keeps every
    ``f``-th sample; low-resolution pixel ``i`` is thus the filtered value at the centre of the
    high-resolution block ``[i f, (i + 1) f)``. A ``f h × f w`` estimate maps to exactly ``h × w``.
    The adjoint is :math:`P^\top K^\top S_f^\top`: a transposed strided convolution, then the
    padding folded back onto the edge pixels.

    Benchmarks make their low-resolution inputs with this same ``A`` (from the high-resolution
    image cropped to a multiple of ``f``), so that the model matches the data exactly.

    Parameters
    ----------
    factor
        The integer upsampling factor, from 2 to 64.

    Raises
    ------
    ValueError
        For a factor that is not an integer from 2 to 64; from :meth:`A`, for an estimate whose
        height or width is not a positive multiple of the factor (it has no exact adjoint).

    Examples
    --------
    >>> op = SuperResolve(4)
    >>> tuple(op.A(torch.rand(1, 3, 36, 20)).shape), op.estimate_size(9, 5)
    ((1, 3, 9, 5), (36, 20))
    """

    name = "sr"
    #: Largest factor: the kernel has ``4 f`` taps and the estimate is ``f²`` times larger.
    max_factor = 64

    def __init__(self, factor: int) -> None:
        try:
            integral = not isinstance(factor, bool) and int(factor) == factor
        except (TypeError, ValueError, OverflowError):  # None, "x", NaN, infinity
            integral = False
        if not integral or not 2 <= factor <= self.max_factor:
            raise ValueError(
                f"the super-resolution factor must be an integer from 2 to {self.max_factor}, "
                f"got {factor!r}"
            )
        self.factor = int(factor)
        self.taps = torch.as_tensor(lanczos2_taps(self.factor), dtype=torch.float32)
        self.pad = (self.taps.numel() - self.factor) // 2

    def estimate_size(self, height: int, width: int) -> tuple[int, int]:
        """``factor`` times the measurement's size."""
        return self.factor * height, self.factor * width

    def _kernel(self, x: torch.Tensor) -> torch.Tensor:
        if self.taps.device != x.device:
            self.taps = self.taps.to(x.device)
        return self.taps.to(x.dtype).view(1, 1, -1)

    def _down_last_axis(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        rows = x.reshape(-1, 1, shape[-1])
        rows = F.pad(rows, (self.pad, self.pad), mode="replicate")
        out = F.conv1d(rows, self._kernel(x), stride=self.factor)
        return out.reshape(*shape[:-1], out.shape[-1])

    def _down_adjoint_last_axis(self, y: torch.Tensor) -> torch.Tensor:
        shape = y.shape
        rows = F.conv_transpose1d(y.reshape(-1, 1, shape[-1]), self._kernel(y), stride=self.factor)
        p = self.pad
        inner = rows[..., p : rows.shape[-1] - p].clone()
        inner[..., 0] += rows[..., :p].sum(-1)  # replicated left edge: fold it back
        inner[..., -1] += rows[..., rows.shape[-1] - p :].sum(-1)
        return inner.reshape(*shape[:-1], inner.shape[-1])

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Filter and subsample both axes; ``x`` is ``f h × f w``."""
        height, width = x.shape[-2:]
        f = self.factor
        if height < f or width < f or height % f or width % f:
            raise ValueError(
                f"super-resolution ×{f} needs an estimate whose height and width are multiples "
                f"of {f}, got {height}×{width}"
            )
        h = self._down_last_axis(x)
        return self._down_last_axis(h.transpose(-1, -2)).transpose(-1, -2)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        """Upsample by the transposed filter (the exact adjoint of :meth:`A`)."""
        h = self._down_adjoint_last_axis(y.transpose(-1, -2)).transpose(-1, -2)
        return self._down_adjoint_last_axis(h)

    def describe(self) -> dict[str, Any]:
        """Name, factor and the kernel's taps."""
        return {
            "name": self.name,
            "factor": self.factor,
            "kernel": "lanczos2",
            "taps": [round(float(t), 8) for t in self.taps.cpu()],
        }


def published_iterations(operator: Operator) -> int | None:
    """The iteration count the original DIP paper used for this task (SPEC's reference facts).

    Inpainting 3000 (the low end of its 3000–6000); super-resolution 2000 for ×4 and below, 4000
    for ×8 and above (linear in between); denoising 3000.
    """
    if isinstance(operator, Inpaint):
        return 3000
    if isinstance(operator, SuperResolve):
        return min(4000, max(2000, 2000 + 500 * (operator.factor - 4)))
    return 3000
