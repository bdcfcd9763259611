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


def check_min_size(height: int, width: int, multiple: int, net_name: str = "the network") -> None:
    """Refuse images smaller than one ``multiple`` on a side, which the network cannot resolve."""
    if height < multiple or width < multiple:
        raise ValueError(
            f"image of {height}×{width} pixels is too small for {net_name}: it needs at least "
            f"{multiple}×{multiple} (use a network with fewer scales, e.g. --depth)"
        )
