"""Building blocks shared by the network families.

Each factory maps a configuration string to a module, so a family is described by plain data
(``pad="reflection"``, ``act="leaky_relu"``, ``downsample="stride"``) and every option of the
original Deep Image Prior code (Ulyanov et al., CVPR 2018) is one keyword away.
"""

from __future__ import annotations

from difflib import get_close_matches

from torch import nn

PADDINGS = ("zero", "reflection")
ACTIVATIONS = ("leaky_relu", "relu", "elu", "none")
DOWNSAMPLERS = ("stride", "avg", "max")


def check_choice(kind: str, value: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` naming them."""
    if value not in choices:
        hint = get_close_matches(value, choices, n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ValueError(f"unknown {kind} {value!r}{extra}; choose from {', '.join(choices)}")
    return value


def activation(name: str) -> nn.Module:
    """Activation by name: ``leaky_relu`` (slope 0.2, as in DIP), ``relu``, ``elu`` or ``none``."""
    check_choice("activation", name, ACTIVATIONS)
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2, inplace=True)
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "elu":
        return nn.ELU(inplace=True)
    return nn.Identity()


def conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    pad: str = "reflection",
    downsample: str = "stride",
    bias: bool = True,
) -> nn.Sequential:
    """A 'same'-size convolution, optionally halving the resolution.

    Parameters
    ----------
    in_channels, out_channels, kernel_size
        As for :class:`torch.nn.Conv2d`; odd kernel sizes keep the spatial size.
    stride
        1, or 2 to halve the resolution.
    pad
        ``"reflection"`` pads with :class:`~torch.nn.ReflectionPad2d` before an unpadded
        convolution; ``"zero"`` lets the convolution zero-pad.
    downsample
        How ``stride=2`` is realised: ``"stride"`` (strided convolution), or ``"avg"`` / ``"max"``
        (stride-1 convolution followed by 2×2 pooling).
    bias
        Whether the convolution has a bias.
    """
    check_choice("padding", pad, PADDINGS)
    check_choice("downsampler", downsample, DOWNSAMPLERS)
    layers: list[nn.Module] = []
    amount = (kernel_size - 1) // 2
    conv_stride = stride
    pool: nn.Module | None = None
    if stride != 1 and downsample != "stride":
        conv_stride = 1
        pool = nn.AvgPool2d(stride, stride) if downsample == "avg" else nn.MaxPool2d(stride, stride)
    if pad == "reflection" and amount > 0:
        layers.append(nn.ReflectionPad2d(amount))
        amount = 0
    layers.append(
        nn.Conv2d(in_channels, out_channels, kernel_size, conv_stride, padding=amount, bias=bias)
    )
    if pool is not None:
        layers.append(pool)
    return nn.Sequential(*layers)
