r"""Upsamplers: the ×2 resolution step of every decoder.

Deep Image Prior's behaviour depends strongly on how the decoder upsamples (Liu et al., "The Devil
is in the Upsampling"): every ×2 upsampler is zero insertion followed by a low-pass
filter, and the filter's stop band decides how fast the network can reproduce fine detail and
noise. This module is the one place that turns an upsampler name into a module
(:func:`upsampler`); the names are listed in :data:`UPSAMPLERS`.

* ``nearest``, ``bilinear`` — :class:`torch.nn.Upsample` (``align_corners=False``).
* ``transposed`` — a learnable :class:`torch.nn.ConvTranspose2d` (all channels to all channels,
  kernel 4, stride 2, padding 1, with bias): the filter is learnt, so nothing forces it to be
  low-pass.
* ``lpf-nearest``, ``lpf-bilinear``, ``lpf14``, ``lpf15``, ``lpf60``, ``lpf100`` — zero
  insertion and a *fixed* separable FIR filter (:class:`FIRUpsample`, taps in
  :data:`FIR_TAPS`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autodip.nets.layers import check_choice

# Half of each symmetric low-pass filter of Liu et al. (their public code), from the outermost tap
# to the centre tap; :func:`mirror` completes them. LPF-60 and LPF-100 are the code's LPF5/LPF6.
_HALF_TAPS: dict[str, tuple[float, ...]] = {
    "lpf-bilinear": (0.25, 0.5),
    "lpf14": (-0.0054, -0.0518, 0.2554, 0.6036),
    "lpf15": (0.0105, -0.0263, -0.0518, 0.2763, 0.5826),
    "lpf60": (
        *(-0.001921, -0.004291, 0.009947, 0.021970, -0.022680),
        *(-0.073998, 0.034907, 0.306100, 0.459933),
    ),
    "lpf100": (
        *(0.000015, 0.000541, 0.003707, 0.014130, 0.037396),
        *(0.075367, 0.121291, 0.159962, 0.175182),
    ),
}

#: How far the published taps may miss a unit sum before they are refused (they are rounded to
#: 4-6 decimals; LPF-60's sum is 1.000001).
SUM_TOLERANCE = 1e-4


def mirror(half: tuple[float, ...]) -> tuple[float, ...]:
    """Complete an odd-length symmetric filter from its outer half and centre tap.

    Examples
    --------
    >>> mirror((0.25, 0.5))
    (0.25, 0.5, 0.25)
    """
    return (*half, *half[-2::-1])


def normalised(taps: tuple[float, ...], name: str) -> tuple[float, ...]:
    """Check that ``taps`` sum to 1 within :data:`SUM_TOLERANCE` and rescale them to sum exactly 1.

    The published taps are rounded, so their sum is off by up to ~1e-6; dividing by the sum makes
    the DC gain of the ×2 upsampler (with its gain of 2 per axis) exactly 4 in 2-D.
    """
    total = sum(taps)
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"taps of {name!r} sum to {total:.6g}, not 1")
    return tuple(t / total for t in taps)


#: The fixed 1-D filters ``w`` (symmetric, summing to 1). The 2-D filter is ``4 * outer(w, w)``.
FIR_TAPS: dict[str, tuple[float, ...]] = {
    "lpf-nearest": (0.5, 0.5),
    **{name: normalised(mirror(half), name) for name, half in _HALF_TAPS.items()},
}

UPSAMPLERS = ("nearest", "bilinear", "transposed", *FIR_TAPS)


class FIRUpsample(nn.Module):
    r"""×2 upsampling by zero insertion and a fixed separable low-pass filter.

    Along each axis the input :math:`x[n]` becomes :math:`u[2n] = x[n]`, :math:`u[2n+1] = 0`, which
    keeps the spectrum and adds its mirror image above :math:`\pi/2` (Liu et al., Eq. 2-5); the
    filter then removes that image:

    .. math::

        y[m] = 2 \sum_{k} w[k]\, u[m - k], \qquad 0 \le m < 2N,

    applied to rows and then to columns, i.e. the 2-D filter :math:`4\, w w^\top` (gain 4, so a
    constant stays constant exactly when :math:`W(\pi) = \sum_k (-1)^k w[k] = 0`; all the filters
    here satisfy that to rounding except LPF-60, whose published taps give :math:`W(\pi) = 8.8
    \times 10^{-4}` (-61 dB): a constant comes out with a ±0.18 % checkerboard in 2-D). The
    filter is applied to each channel alone (depthwise), is a buffer (no gradient, not a
    parameter) and is computed polyphase by a strided transposed convolution, so no zeros are
    stored or multiplied.

    Phase: tap :math:`k` runs over :math:`-\lfloor (L-1)/2 \rfloor, \dots, \lceil (L-1)/2
    \rceil` for ``L`` taps. For odd ``L`` the filter is centred and :math:`y[2n]` sits on
    :math:`x[n]`. For even ``L`` the extra tap goes to :math:`k = L/2`: ``[0.5, 0.5]`` then gives
    exactly nearest-neighbour upsampling (:math:`y[2n] = y[2n+1] = x[n]`), and ``[1, 3, 3, 1] / 8``
    exactly ``F.interpolate(..., mode="bilinear", align_corners=False)`` away from the border.
    Odd-length filters thus put the fine grid a quarter of a coarse pixel from where nearest and
    ``F.interpolate`` put it, a fixed shift per ×2 step. (Seed 003's code applies a PyTorch
    ``padding="same"`` convolution to the zero-inserted map: the same for odd ``L``, but for
    ``[0.5, 0.5]`` it gives :math:`y[2n+1] = x[n+1]`, nearest shifted by one fine pixel.)

    Boundary: the *coarse* input is extended before zero insertion, by whole-sample reflection
    (``x[-j] = x[j]``, as :class:`torch.nn.ReflectionPad2d`, repeated for maps smaller than the
    filter) or by zeros.

    Parameters
    ----------
    channels
        Number of feature channels (the filter is repeated for each).
    taps
        The 1-D filter ``w``, symmetric; it should sum to 1.
    pad
        ``"reflection"`` or ``"zero"``.

    Examples
    --------
    >>> up = FIRUpsample(2, FIR_TAPS["lpf60"])
    >>> up(torch.rand(1, 2, 5, 3)).shape
    torch.Size([1, 2, 10, 6])
    >>> [name for name, _ in up.named_parameters()]
    []
    """

    def __init__(self, channels: int, taps: tuple[float, ...], pad: str = "reflection") -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        self.pad = check_choice("padding", pad, ("reflection", "zero"))
        length = len(taps)
        self.before = (length - 1) // 2  # taps with k < 0, see the docstring's phase rule
        self.after = length - 1 - self.before
        # Coarse samples needed on each side so that every tap reaches a defined value.
        self.margin = (max(self.before, self.after) + 1) // 2
        kernel = 2.0 * torch.tensor(taps, dtype=torch.float32)  # gain 2 per axis
        self.register_buffer(
            "weight_rows", kernel.view(1, 1, length, 1).repeat(channels, 1, 1, 1), persistent=False
        )
        self.register_buffer(
            "weight_cols", kernel.view(1, 1, 1, length).repeat(channels, 1, 1, 1), persistent=False
        )
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Double the height and width of ``x`` (B×channels×H×W)."""
        x = self._upsample_axis(x, -2, self.weight_rows, (2, 1))
        return self._upsample_axis(x, -1, self.weight_cols, (1, 2))

    def _upsample_axis(
        self, x: torch.Tensor, dim: int, weight: torch.Tensor, stride: tuple[int, int]
    ) -> torch.Tensor:
        size = x.shape[dim]
        extended = self._extend(x, dim)
        # conv_transpose2d = zero insertion followed by full convolution with the taps.
        full = F.conv_transpose2d(
            extended, weight.to(extended.dtype), stride=stride, groups=x.shape[1]
        )
        # Output m of the unpadded signal sits at 2 * margin + before in the full result.
        start = 2 * self.margin + self.before
        return full.narrow(dim, start, 2 * size)

    def _extend(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        size, margin = x.shape[dim], self.margin
        if self.pad == "zero":
            amounts = (0, 0, margin, margin) if dim == -2 else (margin, margin, 0, 0)
            return F.pad(x, amounts)
        index = reflect_index(size, margin, x.device)
        return x.index_select(dim, index)

    def extra_repr(self) -> str:
        """Channels, number of taps and padding, for ``print(net)``."""
        return f"channels={self.channels}, taps={self.weight_rows.shape[2]}, pad={self.pad!r}"


def reflect_index(size: int, margin: int, device: torch.device | None = None) -> torch.Tensor:
    """Indices of a length-``size`` axis extended by ``margin`` on each side by reflection.

    Whole-sample reflection (``-1 -> 1``), repeated periodically so that any ``margin`` works even
    when it exceeds ``size - 1`` (where :class:`torch.nn.ReflectionPad2d` refuses).

    Examples
    --------
    >>> reflect_index(3, 3).tolist()
    [1, 2, 1, 0, 1, 2, 1, 0, 1]
    """
    positions = torch.arange(-margin, size + margin, device=device)
    if size == 1:
        return torch.zeros_like(positions)
    period = 2 * (size - 1)
    folded = positions.remainder(period)
    return torch.where(folded < size, folded, period - folded)


def upsampler(name: str, channels: int, factor: int = 2) -> nn.Module:
    """Return a module that enlarges ``channels``-channel feature maps by ``factor``.

    Parameters
    ----------
    name
        One of :data:`UPSAMPLERS`: ``"nearest"`` or ``"bilinear"`` (interpolation,
        ``align_corners=False``); ``"transposed"`` (learnable ``ConvTranspose2d``, kernel 4,
        stride 2, padding 1); or a fixed low-pass filter after zero insertion (``"lpf-nearest"``,
        ``"lpf-bilinear"``, ``"lpf14"``, ``"lpf15"``, ``"lpf60"``, ``"lpf100"``; see
        :class:`FIRUpsample`).
    channels
        Number of channels of the feature maps (used by learnable or fixed-filter upsamplers).
    factor
        Integer scale factor; the transposed convolution and the fixed filters support 2 only.

    Examples
    --------
    >>> upsampler("lpf14", 4)(torch.rand(1, 4, 3, 5)).shape
    torch.Size([1, 4, 6, 10])
    """
    check_choice("upsampler", name, UPSAMPLERS)
    if name in ("nearest", "bilinear"):
        align = {"align_corners": False} if name == "bilinear" else {}
        return nn.Upsample(scale_factor=factor, mode=name, **align)
    if factor != 2:
        raise ValueError(f"upsampler {name!r} supports factor 2 only, got {factor}")
    if name == "transposed":
        return nn.ConvTranspose2d(channels, channels, kernel_size=4, stride=2, padding=1)
    return FIRUpsample(channels, FIR_TAPS[name])
