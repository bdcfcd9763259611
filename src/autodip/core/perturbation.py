"""DIP's input perturbation ("reg-noise"): the code ``z`` plus fresh Gaussian noise at each step.

Ulyanov, Vedaldi and Lempitsky (*Deep Image Prior*, CVPR 2018) feed the network
``z + σ_p n_t`` at step ``t``, with ``n_t`` a new standard Gaussian field of ``z``'s shape
(``reg_noise_std`` = ``σ_p``, 1/30 for denoising). Drawing ``n_t`` costs one Gaussian value per
code value per step: for the width-64 hourglass at 256² (64 code channels, 4.2 M values) that is
15 % of a step on a 2-core CPU (``benchmarks/results/profile-amx.md``), the largest overhead left.

Two ways to get ``n_t``:

``fresh``
    a new Gaussian draw into a preallocated buffer at every step, as the paper does;
``shifted`` (the default)
    one Gaussian *bank* drawn once, :data:`SPATIAL_MARGIN` pixels larger on each spatial axis and
    :data:`CHANNEL_MARGIN` channels deeper than ``z``; step ``t`` uses the view of the bank at an
    offset ``(c_t, i_t, j_t)`` and a sign ``s_t``, both from a hash of ``(seed, t)``::

        n_t = s_t · bank[c_t : c_t + C, i_t : i_t + H, j_t : j_t + W]

    A view costs nothing, so the perturbation costs only the addition. Each ``n_t`` is a field of
    independent standard Gaussians, as a fresh draw is; two steps with different offsets see, at
    any one code value, two independent values. What differs from fresh draws: there are
    ``(M + 1)² (M_c + 1) · 2`` distinct fields (19 602 with the defaults, more than any run's
    steps), so a long run revisits some, and the fields of nearby offsets are shifted copies of
    each other. Whether that changes what DIP returns was measured on the 256² development crops
    (``benchmarks/perturbation.py`` → ``benchmarks/results/perturbation.md``: on 4 crops at
    σ = 25 the PSNR at the stop moved by +0.02 dB on average, mean |·| 0.03 dB, against 0.04 dB
    between two seeds of fresh draws).

Because the offsets follow from the step number alone, a checkpoint needs no state beyond the
seed, and a rewind after divergence replays the same perturbations.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from autodip.defaults import REG_NOISE_DRAWS

#: How the perturbation is drawn (``FitConfig.reg_noise_draw``).
DRAWS = REG_NOISE_DRAWS
#: Extra pixels of the ``shifted`` bank on each spatial axis: the spatial offsets' range.
SPATIAL_MARGIN = 32
#: Extra channels of the ``shifted`` bank: the channel offsets' range.
CHANNEL_MARGIN = 8


def buffer_shape(shape: tuple[int, int, int, int], draw: str) -> tuple[int, int, int, int]:
    """The shape of what a :class:`Perturbation` of a code of ``shape`` holds: the bank
    (``shifted``) or the one-draw buffer (``fresh``).
    """
    if draw == "fresh":
        return shape
    batch, chans, height, width = shape
    return batch, chans + CHANNEL_MARGIN, height + SPATIAL_MARGIN, width + SPATIAL_MARGIN


def held_values(shape: tuple[int, int, int, int], draw: str) -> int:
    """How many float32 values a :class:`Perturbation` of a code of ``shape`` holds."""
    return math.prod(buffer_shape(shape, draw))


class Perturbation:
    """``z + std · n_t`` for a code of ``shape``, drawn as ``draw`` says (see the module).

    Parameters
    ----------
    shape
        ``(1, C, H, W)``: the code's shape.
    std
        ``σ_p`` (``reg_noise_std``); 0 switches the perturbation off.
    seed
        Seeds the Gaussian draws (through a generator on ``device``) and the ``shifted`` offsets.
    device
        Where the buffers live.
    channels_last
        Lay the buffers out as a channels-last code is (the add then reads both in order).
    draw
        ``"fresh"`` or ``"shifted"``.
    """

    def __init__(
        self,
        shape: tuple[int, int, int, int],
        std: float,
        seed: int,
        device: torch.device,
        channels_last: bool,
        draw: str = "shifted",
    ) -> None:
        if draw not in DRAWS:
            raise ValueError(f"reg_noise_draw must be one of {DRAWS}, not {draw!r}")
        self.shape, self.std, self.seed, self.draw = shape, std, seed, draw
        self.device, self.channels_last = device, channels_last
        self.generator = torch.Generator(device=device).manual_seed(seed)
        # fresh: the whole-code buffer, made on first use (window training never needs it)
        self.bank: torch.Tensor | None = None
        self.bank_view: torch.Tensor | None = None
        self.window_buffer: torch.Tensor | None = None  # fresh draws for window training
        if std > 0 and draw == "shifted":
            self._allocate(buffer_shape(shape, draw))
            self.bank.normal_(generator=self.generator)

    def _allocate(self, shape: tuple[int, int, int, int]) -> None:
        """The bank (``shifted``) or the buffer (``fresh``), laid out as the code is: drawn in
        NHWC order and seen as NCHW when channels-last.
        """
        if self.channels_last:
            self.bank = torch.empty(shape[0], shape[2], shape[3], shape[1], device=self.device)
            self.bank_view = self.bank.permute(0, 3, 1, 2)
        else:
            self.bank = self.bank_view = torch.empty(shape, device=self.device)

    def noise(
        self, step: int, rows: slice | None = None, cols: slice | None = None
    ) -> torch.Tensor:
        """``n_t`` for step ``step``, or its ``rows × cols`` window.

        ``fresh`` draws into its buffer and returns it (a window at the window's size, in a
        buffer of its own); ``shifted`` returns a view of the bank (negated when ``s_t = -1``).
        """
        if self.draw == "fresh":
            return self._fresh(rows, cols)
        view, sign = self._shifted(step, rows, cols)
        return view if sign > 0 else -view

    def perturb(
        self,
        z: torch.Tensor,
        step: int,
        out: torch.Tensor | None = None,
        rows: slice | None = None,
        cols: slice | None = None,
    ) -> torch.Tensor:
        """``z + std · n_t`` (``z`` already cut to ``rows × cols`` when a window is given),
        written into ``out`` when given.
        """
        if self.std == 0:
            return z
        if self.draw == "fresh":
            return torch.add(z, self._fresh(rows, cols), alpha=self.std, out=out)
        view, sign = self._shifted(step, rows, cols)
        return torch.add(z, view, alpha=sign * self.std, out=out)

    def offsets(self, step: int) -> tuple[int, int, int, int]:
        """Step ``step``'s channel offset, row offset, column offset and sign (``shifted``): a
        function of ``(seed, step)`` only, so resuming and rewinding replay them.
        """
        draw = np.random.default_rng((self.seed, step)).integers(
            0, (CHANNEL_MARGIN + 1, SPATIAL_MARGIN + 1, SPATIAL_MARGIN + 1, 2)
        )
        chan, top, left, sign = (int(v) for v in draw)
        return chan, top, left, 1 if sign else -1

    def _shifted(
        self, step: int, rows: slice | None, cols: slice | None
    ) -> tuple[torch.Tensor, int]:
        chan, top, left, sign = self.offsets(step)
        rows = rows if rows is not None else slice(0, self.shape[2])
        cols = cols if cols is not None else slice(0, self.shape[3])
        view = self.bank_view[
            :,
            chan : chan + self.shape[1],
            top + rows.start : top + rows.stop,
            left + cols.start : left + cols.stop,
        ]
        return view, sign

    def _fresh(self, rows: slice | None, cols: slice | None) -> torch.Tensor:
        if rows is None or cols is None:
            if self.bank is None:
                self._allocate(self.shape)
            self.bank.normal_(generator=self.generator)
            return self.bank_view
        shape = (self.shape[0], self.shape[1], rows.stop - rows.start, cols.stop - cols.start)
        if self.window_buffer is None or self.window_buffer.shape != shape:
            self.window_buffer = torch.empty(shape, device=self.device)
        return self.window_buffer.normal_(generator=self.generator)
