"""Choosing the device and the arithmetic precision a run uses.

``device="auto"`` takes a CUDA GPU when one is visible, else the CPU. ``precision="auto"`` takes
bf16 autocast on a CPU that does bf16 natively (AVX-512 BF16 or AMX, as oneDNN reports), and float32
everywhere else, CUDA GPUs included. Weights, the loss and the optimiser stay in float32 either way.

Measured by ``benchmarks/speed.py``: on the CPU bf16 is about twice as fast as float32 with a PSNR
drift like that between two equivalent float32 runs (``benchmarks/results/speed.md``). On an NVIDIA
H200 it is *slower* than float32 (0.88× for ``dip-skip``, 0.93× for the hourglass at 256²: these
networks are small enough that kernel launches, not arithmetic, bound a step there) and loses
0.17 / 0.07 dB after 300 steps (``benchmarks/results/gpu/speed-cuda.md``), so a GPU runs float32 —
with PyTorch's default TF32 convolutions — unless ``precision="bf16"`` asks otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Placement:
    """Where and how a run computes: ``device`` ("cpu"/"cuda[:n]"), ``precision`` ("fp32"/"bf16")
    and whether activations use the channels-last memory layout.
    """

    device: str
    precision: str
    channels_last: bool

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype, or ``None`` for plain float32."""
        return torch.bfloat16 if self.precision == "bf16" else None


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 convolutions natively on this CPU (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_device(device: str) -> str:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N`` into a concrete device, or raise ``ValueError``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was asked for but no CUDA GPU is available")
        index = device.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ValueError(
                f"no GPU {device!r}: {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        return device
    raise ValueError(f"unknown device {device!r}; choose from auto, cpu, cuda, cuda:N")


def resolve_precision(precision: str, device: str) -> str:
    """Turn ``auto``/``fp32``/``bf16`` into ``fp32`` or ``bf16`` for ``device``: ``auto`` is bf16
    only on a CPU that does it natively (see the module's docstring for why not on a GPU).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    return "bf16" if device == "cpu" and cpu_has_native_bf16() else "fp32"


def placement(
    device: str = "auto", precision: str = "auto", channels_last: bool | None = None
) -> Placement:
    """Resolve the run's placement. ``channels_last=None`` uses it with bf16 on the CPU, where
    oneDNN's bf16 convolutions are fastest in that layout (measured by ``benchmarks/speed.py``).
    """
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    if channels_last is None:
        channels_last = prec == "bf16" and dev == "cpu"
    return Placement(dev, prec, channels_last)
