"""How much memory a run will need, and whether the machine has it — asked before starting.

A DIP run holds the network's parameters with their gradients and Adam's two moment buffers, a
copy of all of these as the last good state (for divergence recovery), the activations that
autograd saves for the backward pass, and a handful of image-sized buffers (the code ``z``, its
perturbation, the target, the moving average, the output). Only the activations grow with the
image, and they grow in proportion to its pixel count, so they are *measured*: one forward pass on
a small probe image under :func:`torch.autograd.graph.saved_tensors_hooks` counts the bytes autograd
keeps (each storage once), which is scaled to the real size. The estimate adds a 25 % margin for
the allocator and temporary buffers, plus a fixed runtime overhead; ``benchmarks/results/memory.md``
compares it with measured peaks.
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from autodip.core.geometry import padding_for
from autodip.defaults import DEFAULT_NET, REG_NOISE_DRAW
from autodip.errors import InsufficientMemoryError as InsufficientMemoryError

#: Safety factor on the estimate (allocator slack, temporaries of the backward pass).
MARGIN = 1.25
#: Fixed cost of a run whatever its size (oneDNN workspaces and weight caches, allocator pools):
#: a 256² hourglass run grew the resident set by 374 MiB against 196 MiB of counted tensors
#: (``benchmarks/results/memory.md``).
RUNTIME_OVERHEAD = 150 * 2**20
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak bytes of a run, split into its parts."""

    parameters: int
    activations: int
    buffers: int
    overhead: int = RUNTIME_OVERHEAD

    @property
    def total(self) -> int:
        """The estimate with the safety margin."""
        return int(MARGIN * (self.parameters + self.activations + self.buffers) + self.overhead)

    def parts(self) -> dict[str, int]:
        """Every part of :attr:`total` by name, in bytes; the values add up to the total.

        Examples
        --------
        >>> estimate = MemoryEstimate(400, 300, 100, overhead=1000)
        >>> estimate.parts()["safety margin"], sum(estimate.parts().values()) == estimate.total
        (200, True)
        """
        counted = self.parameters + self.activations + self.buffers
        return {
            "parameters and optimiser": self.parameters,
            "activations": self.activations,
            "buffers": self.buffers,
            "safety margin": self.total - counted - self.overhead,
            "fixed runtime overhead": self.overhead,
        }

    def describe(self) -> str:
        """``'about 153.8 MiB (… + … = 153.8 MiB)'``: the total and its parts in one unit.

        The parts are shown in the total's unit, rounded so that the shown numbers add up to the
        shown total (the safety margin absorbs the rounding).

        Examples
        --------
        >>> estimate = MemoryEstimate(2**20, 3 * 2**20, 2**20, overhead=2**20)
        >>> print(estimate.describe())  # doctest: +NORMALIZE_WHITESPACE
        about 7.2 MiB (parameters and optimiser 1.0 + activations 3.0 + buffers 1.0 +
        safety margin (25%) 1.2 + fixed runtime overhead 1.0 MiB)

        """
        unit, scale = _unit_of(self.total)
        total = round(self.total / scale, 1)
        shown = {name: round(size / scale, 1) for name, size in self.parts().items()}
        rest = sum(value for name, value in shown.items() if name != "safety margin")
        shown["safety margin"] = max(0.0, round(total - rest, 1))
        names = {"safety margin": f"safety margin ({MARGIN - 1:.0%})"}
        terms = " + ".join(f"{names.get(k, k)} {v:.1f}" for k, v in shown.items())
        return f"about {total:.1f} {unit} ({terms} {unit})"


def parse_size(text: str) -> int:
    """Bytes from a size such as ``"512M"``, ``"4G"``, ``"1.5GB"`` or ``"1000000"``.

    Examples
    --------
    >>> parse_size("4G"), parse_size("512MiB"), parse_size("1000")
    (4294967296, 536870912, 1000)
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(I?B)?\s*", text.upper())
    if not match:
        raise ValueError(f"not a memory size: {text!r} (examples: 800M, 4G)")
    value = float(match.group(1)) * _UNITS[match.group(2)]
    if value <= 0:
        raise ValueError(f"a memory size must be positive, got {text!r}")
    return int(value)


def format_size(size: float) -> str:
    """``1536 → '1.5 KiB'``: a byte count for people."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def _unit_of(size: float) -> tuple[str, int]:
    """The unit :func:`format_size` would print ``size`` in, and its bytes."""
    for power, unit in enumerate(("B", "KiB", "MiB")):
        if size < 1024 ** (power + 1):
            return unit, 1024**power
    return "GiB", 1024**3


def activation_bytes_per_pixel(
    net: nn.Module, channels: int, autocast_dtype: torch.dtype | None = None
) -> float:
    """Bytes autograd saves per output pixel, measured on a small probe image.

    The probe runs on a copy of ``net`` (batch-norm statistics of the original stay untouched), on
    an image of ``max(64, 2 × size_multiple)`` pixels a side.
    """
    multiple = int(getattr(net, "size_multiple", 1))
    side = max(64, 2 * multiple)
    side = -(-side // multiple) * multiple
    net = copy.deepcopy(net).train()
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    device = next(net.parameters()).device
    z = torch.rand(1, net.in_channels, side, side, device=device)
    context = (
        torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None else None
    )
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if context is not None:
            with context:
                out = net(z)
        else:
            out = net(z)
    del out
    return sum(seen.values()) / (side * side)


def estimate_run_memory(
    net: nn.Module,
    channels: int,
    height: int,
    width: int,
    autocast_dtype: torch.dtype | None = None,
    extra_images: int = 0,
    window: int | None = None,
    reg_noise_draw: str = REG_NOISE_DRAW,
) -> MemoryEstimate:
    """The peak memory of fitting ``net`` to produce a ``channels × height × width`` estimate.

    ``extra_images`` counts further float32 copies of the estimate that the stopping criteria
    keep (:func:`stopper_images`). With ``window`` (window training, :mod:`autodip.core.window`)
    the network only ever sees one window and its context at a time, so the activations are
    those of that window; the whole-image buffers stay. ``reg_noise_draw``: the perturbation's
    buffer (:func:`~autodip.core.perturbation.held_values`).
    """
    from autodip.core.perturbation import held_values

    multiple = int(getattr(net, "size_multiple", 1))
    pad = padding_for(height, width, multiple)
    pixels = (height + pad.top + pad.bottom) * (width + pad.left + pad.right)
    seen = pixels
    if window is not None:
        from autodip.core.window import WindowSampler, receptive_radius

        sampler = WindowSampler(pad, window, multiple, 0, receptive_radius(net, multiple))
        seen = min(pixels, sampler.shape[0] * sampler.shape[1])
    param_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    # weights, gradients, Adam's two moments, and the last-good copy of weights and moments
    parameters = param_bytes * 7
    activations = int(activation_bytes_per_pixel(net, channels, autocast_dtype) * seen)
    # z and the perturbed code; target, output, average, last good, snapshot average and the
    # measured image; and the perturbation's buffer: float32 each
    code_shape = (
        1,
        net.in_channels,
        height + pad.top + pad.bottom,
        width + pad.left + pad.right,
    )
    buffers = 4 * (
        pixels * (2 * net.in_channels + (6 + extra_images) * channels)
        + held_values(code_shape, reg_noise_draw)
    )
    return MemoryEstimate(parameters, activations, buffers)


def stopper_images(stopper: Any, monitor_every: int) -> int:
    """Copies of the estimate a :class:`~autodip.stopping.Stopper` keeps at most.

    A lagging primary criterion (OSC) keeps the estimates of its last ``lag`` steps, ES-WMV the raw
    outputs of its window, and the stopper one best image.
    """
    if stopper is None:
        return 0
    count = 1
    for criterion in stopper.criteria:
        count += math.ceil(getattr(criterion, "lag", 0) / monitor_every) + 1
        count += math.ceil(getattr(criterion, "kept_steps", 0) / monitor_every)
    return count


def available_memory(device: str | torch.device = "cpu") -> int | None:
    """Bytes free for a run on ``device`` (``None`` if unknown).

    CPU: ``MemAvailable`` of ``/proc/meminfo`` (Linux), else the physical memory. CUDA: the free
    memory the driver reports.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(
    estimate: MemoryEstimate,
    device: str | torch.device,
    limit: int | None = None,
    net: str | None = None,
) -> int | None:
    """Raise :class:`InsufficientMemoryError` if the run would not fit; return the budget used.

    The budget is ``limit`` when given, else the memory available on ``device``; ``net`` (the
    registry name of the network that would run) shapes the advice.
    """
    budget = limit if limit is not None else available_memory(device)
    if budget is None or estimate.total <= budget:
        return budget
    source = "the --max-memory limit" if limit is not None else f"the free memory of {device}"
    smaller = (
        "a smaller --width" if net == DEFAULT_NET else f"--net {DEFAULT_NET}, a smaller --width"
    )
    raise InsufficientMemoryError(
        f"this run needs {estimate.describe()} but {source} is {format_size(budget)}. "
        f"Try a smaller network ({smaller}), --tile SIZE to restore the image in overlapping "
        "pieces, or another device (--device)"
    )
