"""Padding images to the size a network needs, and cropping back without losing a pixel.

An hourglass with ``k`` down-samplings needs heights and widths divisible by ``2**k``. The original
DIP code crops the image to such a size and so loses border pixels; autodip instead pads the image
(by reflection, or by replication where a side is too short to reflect) to the next multiple, fits
the padded image, and crops the result back to the input's exact size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Padding:
    """Pixels added on each side: ``(top, bottom, left, right)``, and the original size."""

    top: int
    bottom: int
    left: int
    right: int
    height: int
    width: int

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the padding of a ``…×H'×W'`` tensor (a view, not a copy)."""
        return x[..., self.top : self.top + self.height, self.left : self.left + self.width]


def padding_for(height: int, width: int, multiple: int) -> Padding:
    """The centred padding that brings ``height × width`` up to multiples of ``multiple``."""
    if multiple < 1:
        raise ValueError(f"multiple must be positive, got {multiple}")
    extra_h = -height % multiple
    extra_w = -width % multiple
    return Padding(
        extra_h // 2, extra_h - extra_h // 2, extra_w // 2, extra_w - extra_w // 2, height, width
    )


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, Padding]:
    """Pad a ``B×C×H×W`` tensor so that H and W are multiples of ``multiple``.

    Reflection padding is used where each side is longer than the amount to add on it (the condition
    :func:`torch.nn.functional.pad` imposes); otherwise the edge pixels are replicated.

    Returns
    -------
    padded : torch.Tensor
        The padded tensor (``x`` itself when no padding is needed).
    padding : Padding
        What was added; ``padding.crop(padded)`` equals ``x`` exactly.

    Examples
    --------
    >>> x = torch.rand(1, 3, 37, 31)
    >>> y, p = pad_to_multiple(x, 8)
    >>> tuple(y.shape[-2:]), bool(torch.equal(p.crop(y), x))
    ((40, 32), True)
    """
    if x.ndim != 4:
        raise ValueError(f"expected a B×C×H×W tensor, got shape {tuple(x.shape)}")
    height, width = x.shape[-2:]
    pad = padding_for(height, width, multiple)
    amounts = (pad.left, pad.right, pad.top, pad.bottom)
    if not any(amounts):
        return x, pad
    can_reflect = max(pad.top, pad.bottom) < height and max(pad.left, pad.right) < width
    mode = "reflect" if can_reflect else "replicate"
    return F.pad(x, amounts, mode=mode), pad


def _depth_fits(side: int, depth: int, bottom: int) -> bool:
    multiple = 2**depth
    return side >= multiple and -(-side // multiple) >= bottom


def deepest_depth(height: int, width: int, bottom: int = 1) -> int:
    """The most ×2 scales a network can have on a ``height × width`` image (0: not even one).

    A network of depth ``d`` needs each side to be at least ``2**d`` and, once padded to a
    multiple of ``2**d``, to leave at least ``bottom`` pixels at its deepest scale (an encoder
    whose convolutions and batch norm need 2×2 there has ``bottom=2``).

    Examples
    --------
    >>> deepest_depth(64, 64), deepest_depth(64, 64, bottom=2), deepest_depth(31, 37, bottom=2)
    (6, 5, 4)
    """
    side, depth = min(height, width), 0
    while _depth_fits(side, depth + 1, bottom):
        depth += 1
    return depth


def min_side(multiple: int, bottom: int = 1) -> int:
    """The shortest side a network of ``size_multiple`` ``multiple`` resolves (see
    :func:`check_min_size`): at least one ``multiple``, and ``bottom`` pixels at its deepest scale.

    Examples
    --------
    >>> min_side(4, bottom=2), min_side(32)
    (5, 32)
    """
    return max(multiple, (bottom - 1) * multiple + 1)


def check_min_size(
    height: int, width: int, multiple: int, net_name: str = "the network", bottom: int = 1
) -> None:
    """Refuse an image the network cannot resolve, naming the deepest network that can.

    ``multiple`` is the network's ``size_multiple`` (``2**depth``) and ``bottom`` the smallest
    side its deepest scale can have (see :func:`deepest_depth`). Checked before any allocation:
    a too-deep network would otherwise ask for memory in proportion to ``multiple**2``.
    """
    side = min(height, width)
    if side >= multiple and -(-side // multiple) >= bottom:
        return
    need = min_side(multiple, bottom)
    depth = multiple.bit_length() - 1
    deepest = deepest_depth(height, width, bottom)
    advice = (
        f"the deepest that works for this image is --depth {deepest}"
        if deepest >= 1
        else "no depth works for an image this small"
    )
    least = f"{need}×{need} pixels" if need < 10**6 else f"2^{depth} pixels a side"
    raise ValueError(
        f"image of {width}×{height} pixels is too small for {net_name} with {depth} scales (it "
        f"needs at least {least}); {advice}"
    )
