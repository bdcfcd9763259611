r"""The encoder-decoder ("hourglass") network of Deep Image Prior, with optional skip connections.

Ulyanov, Vedaldi and Lempitsky, *Deep Image Prior*, CVPR 2018 (supplementary material, Fig. 2).
Scale ``i`` (0 = full resolution) maps its input :math:`u_i` to

.. math::

    d_i &= \mathrm{act}(\mathrm{BN}(\mathrm{conv}(\mathrm{act}(\mathrm{BN}(
            \mathrm{conv}_{\downarrow 2}(u_i)))))) \\
    e_i &= \mathrm{up}_{\times 2}(\mathrm{level}_{i+1}(d_i)) \quad
            (e_i = \mathrm{up}_{\times 2}(d_i) \text{ at the deepest scale}) \\
    s_i &= \mathrm{act}(\mathrm{BN}(\mathrm{conv}_{1\times 1}(u_i))) \quad
            \text{(only if scale } i \text{ has skip channels)} \\
    \mathrm{level}_i(u_i) &= \mathrm{act}(\mathrm{BN}(\mathrm{conv}_{1\times 1}(
            \mathrm{act}(\mathrm{BN}(\mathrm{conv}(\mathrm{BN}([s_i, e_i]))))))),

and the network is :math:`\sigma(\mathrm{conv}_{1\times 1}(\mathrm{level}_0(z)))`. The last
:math:`1\times 1` block of each level is present when ``up_1x1`` is true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from autodip.nets.grouped import cat_members
from autodip.nets.layers import activation, conv
from autodip.nets.upsample import upsampler


@dataclass(frozen=True)
class SkipConfig:
    """Every option of the DIP hourglass; one entry per scale in the per-scale lists.

    The defaults are the published denoising network (``dip-skip``): five scales of 128 channels
    down and up, 4 skip channels (1×1) per scale, 3×3 filters, strided down-sampling, bilinear
    up-sampling, reflection padding, LeakyReLU(0.2), BatchNorm, 1×1 up convolutions and a sigmoid
    output — 2,217,831 parameters for 32 input and 3 output channels.
    """

    in_channels: int = 32
    out_channels: int = 3
    channels_down: tuple[int, ...] = (128, 128, 128, 128, 128)
    channels_up: tuple[int, ...] = (128, 128, 128, 128, 128)
    channels_skip: tuple[int, ...] = (4, 4, 4, 4, 4)
    filter_size_down: int = 3
    filter_size_up: int = 3
    filter_size_skip: int = 1
    downsample: str = "stride"
    upsample: str = "bilinear"
    pad: str = "reflection"
    act: str = "leaky_relu"
    up_1x1: bool = True
    sigmoid: bool = True
    bias: bool = True

    def __post_init__(self) -> None:
        n = len(self.channels_down)
        if n == 0 or len(self.channels_up) != n or len(self.channels_skip) != n:
            raise ValueError(
                "channels_down, channels_up and channels_skip need one entry per scale "
                f"(got {len(self.channels_down)}, {len(self.channels_up)}, "
                f"{len(self.channels_skip)})"
            )
        if min(self.channels_down) < 1 or min(self.channels_up) < 1 or min(self.channels_skip) < 0:
            raise ValueError("channel counts must be positive (skip channels may be 0)")
        if self.in_channels < 1 or self.out_channels < 1:
            raise ValueError("in_channels and out_channels must be positive")


class _Level(nn.Module):
    """One scale of the hourglass: down-sample, recurse, up-sample, merge with the skip branch.

    ``members`` > 1 when the level computes several networks on stacked channels
    (:func:`autodip.nets.grouped.group_members`): the skip branch is then merged member by member.
    """

    members = 1

    def __init__(self, cfg: SkipConfig, index: int, in_channels: int) -> None:
        super().__init__()
        last = index == len(cfg.channels_down) - 1
        down_c, up_c, skip_c = (
            cfg.channels_down[index],
            cfg.channels_up[index],
            cfg.channels_skip[index],
        )
        block = dict(pad=cfg.pad, bias=cfg.bias)

        self.skip: nn.Module | None = None
        if skip_c > 0:
            self.skip = nn.Sequential(
                conv(in_channels, skip_c, cfg.filter_size_skip, **block),
                nn.BatchNorm2d(skip_c),
                activation(cfg.act),
            )
        self.down = nn.Sequential(
            conv(
                in_channels,
                down_c,
                cfg.filter_size_down,
                stride=2,
                downsample=cfg.downsample,
                **block,
            ),
            nn.BatchNorm2d(down_c),
            activation(cfg.act),
            conv(down_c, down_c, cfg.filter_size_down, **block),
            nn.BatchNorm2d(down_c),
            activation(cfg.act),
        )
        self.deeper: _Level | None = None if last else _Level(cfg, index + 1, down_c)
        deeper_c = down_c if last else cfg.channels_up[index + 1]
        self.up = upsampler(cfg.upsample, deeper_c)
        merged_c = skip_c + deeper_c
        merge: list[nn.Module] = [
            nn.BatchNorm2d(merged_c),
            conv(merged_c, up_c, cfg.filter_size_up, **block),
            nn.BatchNorm2d(up_c),
            activation(cfg.act),
        ]
        if cfg.up_1x1:
            merge += [conv(up_c, up_c, 1, **block), nn.BatchNorm2d(up_c), activation(cfg.act)]
        self.merge = nn.Sequential(*merge)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deep = self.down(x)
        if self.deeper is not None:
            deep = self.deeper(deep)
        deep = self.up(deep)
        if self.skip is not None:
            deep = cat_members([self.skip(x), deep], self.members)
        return self.merge(deep)


class SkipNet(nn.Module):
    """Deep Image Prior hourglass network with per-scale skip connections.

    Parameters
    ----------
    config
        A :class:`SkipConfig`; see its docstring for the published defaults.

    Attributes
    ----------
    in_channels, out_channels : int
        Channels of the input code ``z`` and of the output image.
    size_multiple : int
        Height and width of the input must be multiples of this (``2 ** scales``).
    min_bottom : int
        The smallest side the deepest scale can have: 2, since its reflection padding and batch
        norm fail on 1×1 (:func:`autodip.core.geometry.check_min_size`).

    Examples
    --------
    >>> net = SkipNet(SkipConfig(channels_down=(8, 8), channels_up=(8, 8), channels_skip=(0, 4)))
    >>> net(torch.rand(1, 32, 16, 12)).shape
    torch.Size([1, 3, 16, 12])
    """

    def __init__(self, config: SkipConfig | None = None) -> None:
        super().__init__()
        self.config = config or SkipConfig()
        self.in_channels = self.config.in_channels
        self.out_channels = self.config.out_channels
        self.size_multiple = 2 ** len(self.config.channels_down)
        self.min_bottom = 2
        self.body = _Level(self.config, 0, self.config.in_channels)
        self.head = conv(
            self.config.channels_up[0],
            self.config.out_channels,
            1,
            pad=self.config.pad,
            bias=self.config.bias,
        )
        self.output = nn.Sigmoid() if self.config.sigmoid else nn.Identity()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map the code ``z`` (B×in_channels×H×W, H and W multiples of ``size_multiple``)
        to an image.
        """
        features = self.body(z)
        # The 1×1 head and the sigmoid run in float32 even under bf16 autocast: they cost almost
        # nothing, and a bf16 output would round the image to 8 significant bits.
        with torch.autocast(z.device.type, enabled=False):
            return self.output(self.head(features.float()))

    def describe(self) -> dict:
        """The configuration as plain data (for reports)."""
        return asdict(self.config)


def per_scale(value: int | Sequence[int], scales: int, name: str) -> tuple[int, ...]:
    """Expand a scalar to ``scales`` copies, or check that a sequence has one entry per scale."""
    if isinstance(value, int):
        return (value,) * scales
    values = tuple(int(v) for v in value)
    if len(values) != scales:
        raise ValueError(f"{name} needs {scales} entries (one per scale), got {len(values)}")
    return values
