r"""Decoder-only networks: the Deep Decoder and the ConvDecoder.

Both start from a small code and double its size ``upsamplings`` times, so the image is made by
the upsamplers and (for the ConvDecoder) 3×3 convolutions alone, with no encoder and no skips.

**The input code.** autodip's runner gives every network a code ``z`` of the (padded) image's
size, ``B×in_channels×H×W`` (see :mod:`autodip.core.run`). A decoder needs a code
``2 ** upsamplings`` times smaller, so it first *decimates* ``z``: it keeps one sample of each
``s×s`` block (``s = 2 ** upsamplings``, the sample at offset ``s // 2``), a fixed operation with
no weights. Decimating i.i.d. noise gives i.i.d. noise with the same distribution, so the coarse
code is exactly the papers' ``U[0, 0.1)`` code, and the runner's per-step perturbation
``reg_noise_std`` keeps its strength. (Average pooling would shrink the code's fluctuations, and
the perturbation's, by a factor ``s`` — 32 for the defaults — around their mean of 0.05, leaving
a nearly constant code: with a ReLU before each normalisation about half the channels would start
dead.) A meshgrid code decimates to a coarse meshgrid. ``H`` and ``W`` must be multiples of
``size_multiple = 2 ** upsamplings``, which the runner ensures by padding.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from autodip.nets.layers import activation, conv
from autodip.nets.upsample import upsampler


class Decimate(nn.Module):
    """Keep one sample of each ``factor × factor`` block (the one at offset ``factor // 2``)."""

    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map ``B×C×H×W`` to ``B×C×(H/factor)×(W/factor)``; H and W must be multiples."""
        height, width = z.shape[-2:]
        if height % self.factor or width % self.factor:
            raise ValueError(
                f"the code's height and width must be multiples of {self.factor}, "
                f"got {height}×{width}"
            )
        start = self.factor // 2
        return z[..., start :: self.factor, start :: self.factor]

    def extra_repr(self) -> str:
        """The factor, for ``print(net)``."""
        return f"factor={self.factor}"


class _Decoder(nn.Module):
    """Shared shell: decimate the code, run ``body``, then a float32 1×1 head and a sigmoid."""

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        channels: int,
        upsamplings: int,
        head_bias: bool,
        options: dict[str, Any],
    ) -> None:
        super().__init__()
        if min(in_channels, out_channels, channels) < 1:
            raise ValueError("in_channels, out_channels and channels must be positive")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.size_multiple = 2**upsamplings
        self.options = options
        self.decimate = Decimate(self.size_multiple)
        self.body = nn.Sequential()
        self.head = nn.Conv2d(channels, out_channels, 1, bias=head_bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map the code ``z`` (B×in_channels×H×W, H and W multiples of ``size_multiple``) to an
        image B×out_channels×H×W in [0, 1].
        """
        features = self.body(self.decimate(z))
        # The 1×1 head and the sigmoid run in float32 even under bf16 autocast (as in SkipNet).
        with torch.autocast(z.device.type, enabled=False):
            return torch.sigmoid(self.head(features.float()))

    def describe(self) -> dict[str, Any]:
        """The configuration as plain data (for reports)."""
        return {
            "family": type(self).__name__,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            **self.options,
        }


class DeepDecoder(_Decoder):
    r"""Deep Decoder (Heckel and Hand, *Deep Decoder: Concise Image Representations from Untrained
    Non-convolutional Networks*, ICLR 2019): no spatial convolutions at all.

    With :math:`B_0` the decimated code, layer :math:`i = 0, \dots, d-1` computes

    .. math::

        B_{i+1} = \mathrm{BN}(\mathrm{ReLU}(U_i(C_i B_i))),

    where :math:`C_i` is a bias-free 1×1 convolution (a pixel-wise linear combination of the
    channels), :math:`U_i` the ×2 upsampler for :math:`i < d-1` and the identity for the last
    layer, and BN the paper's channel-wise normalisation (BatchNorm with affine parameters, as in
    its code). The image is :math:`\sigma(C_d B_d)` with a bias-free 1×1 :math:`C_d`. So ``layers``
    layers have ``layers - 1`` upsamplings, and ``k`` channels give
    ``in_channels·k + (layers - 1)·k² + 2·layers·k + k·out_channels`` parameters (plus those of a
    learnable upsampler): 100,224 for the paper's denoising setting ``k = 128``, 6 layers, RGB.

    Parameters
    ----------
    channels
        Channels ``k`` of every layer.
    layers
        Number of 1×1 layers ``d`` (at least 1).
    in_channels
        Channels of the code; ``None`` means ``channels``, as in the paper's code.
    out_channels
        Channels of the image.
    upsample
        Any name of :data:`autodip.nets.upsample.UPSAMPLERS`; the paper uses ``"bilinear"``.
    act
        Activation name (:func:`autodip.nets.layers.activation`); the paper uses ReLU.

    Examples
    --------
    >>> net = DeepDecoder(channels=8, layers=3)
    >>> net.size_multiple, net(torch.rand(1, 8, 12, 8)).shape
    (4, torch.Size([1, 3, 12, 8]))
    """

    def __init__(
        self,
        *,
        channels: int = 128,
        layers: int = 6,
        in_channels: int | None = None,
        out_channels: int = 3,
        upsample: str = "bilinear",
        act: str = "relu",
    ) -> None:
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        code_channels = channels if in_channels is None else in_channels
        super().__init__(
            in_channels=code_channels,
            out_channels=out_channels,
            channels=channels,
            upsamplings=layers - 1,
            head_bias=False,
            options={"channels": channels, "layers": layers, "upsample": upsample, "act": act},
        )
        width = code_channels
        for i in range(layers):
            self.body.append(nn.Conv2d(width, channels, 1, bias=False))
            if i < layers - 1:
                self.body.append(upsampler(upsample, channels))
            self.body.append(activation(act))
            self.body.append(nn.BatchNorm2d(channels))
            width = channels


class ConvDecoder(_Decoder):
    r"""ConvDecoder (Darestani and Heckel, *Accelerated MRI with Un-trained Neural Networks*,
    IEEE TCI 2021): the Deep Decoder with 3×3 convolutions, upsampling first.

    With :math:`B_0` the decimated code, layers :math:`i = 0, \dots, L-2` compute

    .. math::

        B_{i+1} = \mathrm{BN}(\mathrm{ReLU}(\mathrm{conv}_{3\times 3}(U(B_i)))),

    the last layer :math:`B_L = \mathrm{BN}(\mathrm{ReLU}(\mathrm{conv}_{3\times 3}(B_{L-1})))`
    without upsampling, and the image is :math:`\sigma(\mathrm{conv}_{1\times 1}(B_L))`
    (convolutions with bias, as in the public code). ``layers`` 3×3 layers therefore have
    ``layers - 1`` upsamplings. The original grows the code to the image size in ``layers - 1``
    steps of any (non-integer) factor by nearest interpolation; here every step is ×2, so the
    code is the image size over ``2 ** (layers - 1)``.

    Parameters
    ----------
    channels
        Channels of every layer.
    layers
        Number of 3×3 layers ``L`` (at least 1).
    in_channels
        Channels of the code; ``None`` means ``channels``, as in the public code.
    out_channels
        Channels of the image.
    upsample
        Any name of :data:`autodip.nets.upsample.UPSAMPLERS`; the public code uses ``"nearest"``.
    kernel_size
        Size of the spatial filters (3 in the paper).
    pad
        ``"zero"`` (the public code) or ``"reflection"``.
    act
        Activation name; the paper uses ReLU.

    Examples
    --------
    >>> net = ConvDecoder(channels=8, layers=2)
    >>> net.size_multiple, net(torch.rand(1, 8, 6, 4)).shape
    (2, torch.Size([1, 3, 6, 4]))
    """

    def __init__(
        self,
        *,
        channels: int = 128,
        layers: int = 6,
        in_channels: int | None = None,
        out_channels: int = 3,
        upsample: str = "nearest",
        kernel_size: int = 3,
        pad: str = "zero",
        act: str = "relu",
    ) -> None:
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        code_channels = channels if in_channels is None else in_channels
        super().__init__(
            in_channels=code_channels,
            out_channels=out_channels,
            channels=channels,
            upsamplings=layers - 1,
            head_bias=True,
            options={
                "channels": channels,
                "layers": layers,
                "upsample": upsample,
                "kernel_size": kernel_size,
                "pad": pad,
                "act": act,
            },
        )
        width = code_channels
        for i in range(layers):
            if i < layers - 1:
                self.body.append(upsampler(upsample, width))
            self.body.append(conv(width, channels, kernel_size, pad=pad, bias=True))
            self.body.append(activation(act))
            self.body.append(nn.BatchNorm2d(channels))
            width = channels
