"""The registered network presets.

* ``dip-skip`` — the original Deep Image Prior denoising network (Ulyanov et al. 2018), exactly as
  published: 5 scales × 128 channels, 4 skip channels per scale, bilinear up-sampling, 2,217,831
  parameters for 32 input and 3 output channels.
* ``hourglass`` — the "Devil is in the Upsampling" recipe (Liu et al., seed 003, their
  ``DIP_2_scaled``): ``depth`` scales of ``width`` channels, skip connections (4 channels) on the
  ``skips`` deepest scales only, bilinear up-sampling, and an input code with as many channels as
  the width. With the defaults (2 scales, no skips) widths 32/64/128 give 58,339 / 231,363 / 921,475
  parameters, the paper's 58k / 231k / 921k.
"""

from __future__ import annotations

from typing import Any

from autodip.nets.registry import register_net
from autodip.nets.skip import SkipConfig, SkipNet, per_scale


@register_net(
    "dip-skip", "original DIP hourglass: 5 scales x 128 ch, 4 skip ch/scale (2.2M params)"
)
def dip_skip(
    *,
    in_channels: int = 32,
    out_channels: int = 3,
    depth: int | None = None,
    width: int | None = None,
    channels_down: Any = 128,
    channels_up: Any = 128,
    channels_skip: Any = 4,
    **options: Any,
) -> SkipNet:
    """Original DIP hourglass; ``depth``/``width`` shorthand sets all scales at once.

    Other keyword options are :class:`~autodip.nets.skip.SkipConfig` fields (``upsample``, ``pad``,
    ``act``, ``downsample``, ``filter_size_down``, ...).
    """
    scales = depth if depth is not None else 5
    if width is not None:
        channels_down = channels_up = width
    config = SkipConfig(
        in_channels=in_channels,
        out_channels=out_channels,
        channels_down=per_scale(channels_down, scales, "channels_down"),
        channels_up=per_scale(channels_up, scales, "channels_up"),
        channels_skip=per_scale(channels_skip, scales, "channels_skip"),
        **options,
    )
    return SkipNet(config)


@register_net(
    "hourglass",
    "Devil-paper hourglass: depth 2, width 64, skips on deepest (default 0) scales (231k)",
)
def hourglass(
    *,
    depth: int = 2,
    width: int = 64,
    skips: int = 0,
    skip_channels: int = 4,
    in_channels: int | None = None,
    out_channels: int = 3,
    **options: Any,
) -> SkipNet:
    """Hourglass of ``depth`` scales of ``width`` channels
    with skips on the ``skips`` deepest scales.

    ``in_channels`` defaults to ``width`` (the recipe of seed 003's code); other keyword options are
    :class:`~autodip.nets.skip.SkipConfig` fields.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    if not 0 <= skips <= depth:
        raise ValueError(f"skips must be between 0 and depth={depth}, got {skips}")
    config = SkipConfig(
        in_channels=width if in_channels is None else in_channels,
        out_channels=out_channels,
        channels_down=(width,) * depth,
        channels_up=(width,) * depth,
        channels_skip=(0,) * (depth - skips) + (skip_channels,) * skips,
        **options,
    )
    return SkipNet(config)
