"""Upsamplers: the ×2 resolution step of every decoder.

Deep Image Prior's behaviour depends strongly on how the decoder upsamples (Liu et al., "The Devil
is in the Upsampling", seed 003): interpolating upsamplers act as fixed low-pass filters. This
module is the one place that turns an upsampler name into a module; new upsamplers are added
to :data:`UPSAMPLERS`.
"""

from __future__ import annotations

from torch import nn

from autodip.nets.layers import check_choice

UPSAMPLERS = ("nearest", "bilinear")


def upsampler(name: str, channels: int, factor: int = 2) -> nn.Module:
    """Return a module that enlarges ``channels``-channel feature maps by ``factor``.

    Parameters
    ----------
    name
        ``"nearest"`` or ``"bilinear"`` (``align_corners=False``, as :class:`torch.nn.Upsample`).
    channels
        Number of channels of the feature maps (used by learnable or fixed-filter upsamplers).
    factor
        Integer scale factor.
    """
    check_choice("upsampler", name, UPSAMPLERS)
    del channels  # interpolation needs no weights
    if name == "bilinear":
        return nn.Upsample(scale_factor=factor, mode="bilinear", align_corners=False)
    return nn.Upsample(scale_factor=factor, mode="nearest")
