"""The registered network presets.

* ``dip-skip`` — the original Deep Image Prior denoising network (Ulyanov et al. 2018), exactly as
  published: 5 scales × 128 channels, 4 skip channels per scale, bilinear up-sampling, 2,217,831
  parameters for 32 input and 3 output channels.
* ``hourglass`` — the recipe of Liu et al., *The Devil is in the Upsampling* (their
  ``DIP_2_scaled``): ``depth`` scales of ``width`` channels, skip connections (4 channels) on the
  ``skips`` deepest scales only, bilinear up-sampling, and an input code with as many channels as
  the width. With the defaults (2 scales, no skips) widths 32/64/128 give 58,339 / 231,363 / 921,475
  parameters, the paper's 58k / 231k / 921k.
* ``hourglass-w32``, ``hourglass-w64``, ``hourglass-w128`` — that recipe at the three widths the
  seed-003 texture classifier chooses from.
* ``deepdecoder`` — the Deep Decoder (Heckel and Hand, ICLR 2019) in its public denoising setting:
  6 bias-free 1×1 layers of 128 channels, 5 bilinear ×2 upsamplings (a 16×16 code for a 512×512
  image), 100,224 parameters (their Table 2 lists "0.1M").
* ``convdecoder`` — the ConvDecoder (Darestani and Heckel 2021) as Liu et al. run it for denoising
  (its ``cd_lpf.sh``: ``num_layers 6``, ``dim 128``, ``in_size 16 16``, zero padding): 6 3×3
  layers of 128 channels, 5 ×2 nearest upsamplings (the public code's mode; Liu et al. also run
  bilinear and the fixed filters), 887,427 parameters (Table 2: "0.89M"). The MRI paper's
  own public code uses wider settings (e.g. 256 channels); they are one override away.

Every builder takes ``upsample=`` with any name of :data:`autodip.nets.upsample.UPSAMPLERS`
(interpolation, transposed convolution, or zero insertion + a fixed low-pass filter).
"""

from __future__ import annotations

from typing import Any

from autodip.nets.decoders import ConvDecoder, DeepDecoder
from autodip.nets.registry import register_net
from autodip.nets.skip import SkipConfig, SkipNet, per_scale


@register_net(
    "dip-skip",
    "skip network of Ulyanov, Vedaldi, Lempitsky, Deep Image Prior (CVPR 2018): 5 scales x 128 "
    "ch, 4 skip ch/scale (2.2M params)",
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

    Other keyword options are :class:`~autodip.nets.skip.SkipConfig` fields (``upsample`` — any
    name of :data:`~autodip.nets.upsample.UPSAMPLERS` —, ``pad``, ``act``, ``downsample``,
    ``filter_size_down``, ...).
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
    "2-level hourglass (Liu et al., The Devil is in the Upsampling), width 64, no skips (231k)",
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

    ``in_channels`` defaults to ``width`` (the recipe of Liu et al.'s code); other keyword options
    are :class:`~autodip.nets.skip.SkipConfig` fields, e.g. ``upsample="lpf60"`` (any name of
    :data:`~autodip.nets.upsample.UPSAMPLERS`).
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


def _hourglass_preset(width: int) -> None:
    def build(**options: Any) -> SkipNet:
        if options.get("width", width) != width:
            raise ValueError(
                f"hourglass-w{width} has width {width}; for width {options['width']} use "
                f"hourglass-w{options['width']} or hourglass with width={options['width']}"
            )
        options.pop("width", None)
        return hourglass(width=width, **options)

    build.__doc__ = (
        f"The seed-003 2-level hourglass at width {width}; options as :func:`hourglass`."
    )
    register_net(
        f"hourglass-w{width}",
        f"2-level hourglass (Liu et al., The Devil is in the Upsampling), width {width}, no skips",
    )(build)


for _width in (32, 64, 128):
    _hourglass_preset(_width)


def _decoder_size(
    channels: int | None, width: int | None, layers: int | None, depth: int | None
) -> tuple[int, int]:
    """Resolve the shared ``width``/``depth`` vocabulary of the command line for a decoder.

    ``width`` is another name for ``channels``; ``depth`` counts the ×2 upsamplings, as the
    hourglass's ``depth`` counts its scales (``size_multiple == 2 ** depth`` for both), so it
    means ``layers = depth + 1``.
    """
    if channels is not None and width is not None and channels != width:
        raise ValueError(f"give channels or width, not both (got {channels} and {width})")
    if layers is not None and depth is not None and layers != depth + 1:
        raise ValueError(f"depth={depth} means layers={depth + 1}, but layers={layers} was given")
    resolved_channels = channels if channels is not None else width
    resolved_layers = layers if layers is not None else (None if depth is None else depth + 1)
    return (
        128 if resolved_channels is None else resolved_channels,
        6 if resolved_layers is None else resolved_layers,
    )


@register_net(
    "deepdecoder",
    "Deep Decoder (Heckel, Hand, ICLR 2019): 6 layers of 1x1 conv + bilinear x2 + ReLU + BN, "
    "128 ch (100k)",
)
def deepdecoder(
    *,
    channels: int | None = None,
    layers: int | None = None,
    width: int | None = None,
    depth: int | None = None,
    **options: Any,
) -> DeepDecoder:
    """Deep Decoder with the public denoising defaults (128 channels, 6 layers).

    ``width`` is an alias of ``channels`` and ``depth`` (the number of upsamplings) of
    ``layers - 1``; other options as :class:`~autodip.nets.decoders.DeepDecoder`.
    """
    channels, layers = _decoder_size(channels, width, layers, depth)
    return DeepDecoder(channels=channels, layers=layers, **options)


@register_net(
    "convdecoder",
    "ConvDecoder (Darestani, Heckel): 6 layers of x2 nearest + 3x3 conv + ReLU + BN, 128 ch (887k)",
)
def convdecoder(
    *,
    channels: int | None = None,
    layers: int | None = None,
    width: int | None = None,
    depth: int | None = None,
    **options: Any,
) -> ConvDecoder:
    """ConvDecoder as Liu et al. (*The Devil is in the Upsampling*) run it (128 channels, 6 layers).

    ``width`` is an alias of ``channels`` and ``depth`` (the number of upsamplings) of
    ``layers - 1``; other options as :class:`~autodip.nets.decoders.ConvDecoder`.
    """
    channels, layers = _decoder_size(channels, width, layers, depth)
    return ConvDecoder(channels=channels, layers=layers, **options)
