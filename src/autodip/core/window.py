r"""Training on random windows of a large image: a step's cost set by the window, not the image.

A whole-image DIP step costs in proportion to the pixels, so a 1024² image costs 16 times a 256²
one per step, and more steps besides. The networks are fully convolutional, so each step may fit
only a window of the image instead: the matching window of the fixed code :math:`z` goes through
the network, and the loss is the data term on that window of the measurement,

.. math::

    \min_\theta \; \mathbb E_{\Omega}\,
    \frac{1}{|\Omega|} \sum_{i \in \Omega} \big(f_\theta(z_\Omega)_i - y_i\big)^2 ,

with :math:`\Omega` a random window of side ``s``. The whole image is only evaluated (a forward
pass without gradients) at monitored steps, where the history, the criteria and the output's
moving average need it. Windows start on multiples of the network's down-sampling factor, so that a
window's features fall on the same grid as the whole image's.

Window positions are a function of the run's seed and the step alone (:meth:`WindowSampler.draw`),
so a run resumed from a checkpoint, or rolled back after a divergence, sees the same windows.
Starts are drawn uniformly from an extended range and clamped into the image, so that every pixel is
covered by at least as many window positions as one in the interior (uniform starts without the
extension would cover a corner pixel by one position in several hundred at 1024²); a pixel within
a window's side of a border is then covered up to twice as often along each axis. The loss weighs
each pixel by :math:`w_i = p_\text{interior} / p_i`, with :math:`p_i` its probability of being in
the window (:meth:`WindowSampler.weights`), so that the expected loss of a step is the whole-image
loss up to a constant:
:math:`\mathbb E_\Omega \sum_{i\in\Omega} w_i e_i = p_\text{interior} \sum_i e_i`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from autodip.core.geometry import Padding
from autodip.core.tiling import edge_ramp, tile_starts


@dataclass(frozen=True)
class Window:
    """One training window, as slices of the three frames it lives in.

    Attributes
    ----------
    rows, cols
        The window in the padded frame of the code ``z`` and the network's output.
    est_rows, est_cols
        Its part inside the image, in the frame of the estimate (and the measurement).
    out_rows, out_cols
        That same part within the window's own output.
    """

    rows: slice
    cols: slice
    est_rows: slice
    est_cols: slice
    out_rows: slice
    out_cols: slice


def _axis(
    code_start: int, code_side: int, start: int, side: int, before: int, length: int
) -> tuple[slice, slice, slice]:
    """One axis of a window: the code window ``[code_start, code_start + code_side)`` of the padded
    frame, and within it the fitted part ``[start, start + side)``; the image is ``[before, before
    + length)``. Returns the code window, the fitted part's pixels of the image in image
    coordinates, and the same pixels in the code window's coordinates.
    """
    low, high = max(start, before), min(start + side, before + length)
    return (
        slice(code_start, code_start + code_side),
        slice(low - before, high - before),
        slice(low - code_start, high - code_start),
    )


def receptive_radius(net: nn.Module, multiple: int) -> int:
    """How many pixels of the code around a pixel its output depends on, measured.

    The gradient of one output pixel with respect to the input is non-zero exactly on its
    receptive field (BatchNorm in evaluation mode, so that batch statistics do not spread it). The
    probe grows until the field stays inside it.

    Examples
    --------
    >>> from autodip.nets import create_net
    >>> receptive_radius(create_net("hourglass", width=64), 4)  # the default at real sizes
    17
    """
    device = next(net.parameters()).device
    was_training = net.training
    side = max(64, 8 * multiple)
    net.eval()
    try:
        while True:
            generator = torch.Generator().manual_seed(0)
            z = torch.rand(1, net.in_channels, side, side, generator=generator).to(device)
            z.requires_grad_(True)
            centre = side // 2
            (grad,) = torch.autograd.grad(net(z)[0, :, centre, centre].sum(), z)
            reach = grad.abs().sum(dim=(0, 1)) > 0
            rows = reach.any(dim=1).nonzero().flatten()
            cols = reach.any(dim=0).nonzero().flatten()
            radius = int(max(centre - rows.min(), rows.max() - centre,
                             centre - cols.min(), cols.max() - centre))  # fmt: skip
            if radius < centre - multiple or side >= 2048:
                return radius
            side *= 2
    finally:
        net.train(was_training)


class WindowSampler:
    """Random square windows of side ``side`` (rounded up to ``multiple``) of a padded frame,
    each fitted with ``margin`` more pixels of code around it.

    Parameters
    ----------
    padding
        How the estimate was padded to the code's size (:func:`autodip.core.geometry.padding_for`).
    side
        The fitted window's side in pixels; rounded up to a multiple of ``multiple``, and cut to
        the padded frame along an axis shorter than it.
    multiple
        The network's down-sampling factor: window starts are multiples of it.
    seed
        With the step, decides each window (:meth:`draw`).
    margin
        Code around the fitted window that goes through the network but not into the loss
        (rounded up to ``multiple``): with the network's receptive radius
        (:func:`receptive_radius`), no fitted pixel's receptive field reaches the window's border,
        so its output is what a whole-image pass gives it under the same normalisation
        statistics (training normalises by the window's own batch statistics; see
        :meth:`tiling`). Where the window meets the frame's edge there is no margin on that side
        and the fitted part extends to the edge, which a whole-image pass sees the same way.

    Examples
    --------
    >>> from autodip.core.geometry import padding_for
    >>> sampler = WindowSampler(padding_for(100, 300, 4), side=62, multiple=4, seed=0, margin=6)
    >>> sampler.side, sampler.shape
    ((64, 64), (80, 80))
    >>> w = sampler.draw(1)
    >>> (w.rows.stop - w.rows.start, w.cols.stop - w.cols.start, w.rows.start % 4)
    (80, 80, 0)
    >>> sampler.draw(1) == w
    True
    """

    def __init__(
        self, padding: Padding, side: int, multiple: int, seed: int, margin: int = 0
    ) -> None:
        if side < 1 or margin < 0:
            raise ValueError(f"a window needs a side ≥ 1 and a margin ≥ 0, got {side}, {margin}")
        self.padding = padding
        self.multiple = multiple
        self.seed = seed
        self.padded = (
            padding.top + padding.height + padding.bottom,
            padding.left + padding.width + padding.right,
        )
        rounded = -(-side // multiple) * multiple
        self.margin = -(-margin // multiple) * multiple
        self.side = (min(rounded, self.padded[0]), min(rounded, self.padded[1]))
        pairs = zip(self.side, self.padded, strict=True)
        self.shape = tuple(min(s + 2 * self.margin, length) for s, length in pairs)

    def _starts(self, axis: int) -> np.ndarray:
        """The fitted window's start for each of the axis' positions (extended, then clamped)."""
        side, length = self.side[axis], self.padded[axis]
        positions = (length + side) // self.multiple - 1
        return np.clip((np.arange(positions) + 1) * self.multiple - side, 0, length - side)

    def _coverage(self, axis: int) -> np.ndarray:
        """How many of the axis' positions fit each pixel of the padded frame."""
        side, length = self.side[axis], self.padded[axis]
        starts = self._starts(axis)
        edges = np.zeros(length + 1)
        np.add.at(edges, starts, 1.0)
        np.add.at(edges, starts + side, -1.0)
        return np.cumsum(edges)[:length]

    def weights(self) -> torch.Tensor:
        """The loss weight of each pixel of the padded frame, ``1×1×H×W``: the interior's chance
        of being in a step's window over the pixel's own (1 in the interior and at the very
        borders; lowest one window's side in from a corner, about 1/4 there: (4/7)² in the
        example).

        Examples
        --------
        >>> from autodip.core.geometry import padding_for
        >>> w = WindowSampler(padding_for(64, 64, 4), side=16, multiple=4, seed=0).weights()
        >>> float(w.max()), float(w[0, 0, 32, 32]), round(float(w[0, 0, 15, 15]), 4)
        (1.0, 1.0, 0.3265)
        """
        rows, cols = self._coverage(0), self._coverage(1)
        grid = np.outer(rows.min() / rows, cols.min() / cols)
        return torch.from_numpy(grid).float()[None, None]

    @property
    def covers_everything(self) -> bool:
        """Whether a step's network input, the window and its margin, is the whole padded frame:
        each step would then cost a whole-image step and fit less, so windows would only lose.

        Examples
        --------
        >>> from autodip.core.geometry import padding_for
        >>> WindowSampler(padding_for(96, 96, 4), side=64, multiple=4, seed=0, margin=20).shape
        (96, 96)
        >>> WindowSampler(padding_for(96, 96, 4), 64, 4, 0, margin=20).covers_everything
        True
        >>> WindowSampler(padding_for(96, 96, 4), 64, 4, 0, margin=8).covers_everything
        False
        """
        return self.shape == self.padded

    def draw(self, step: int) -> Window:
        """The window of optimisation step ``step``: the same for the same seed and step."""
        rng = np.random.default_rng([self.seed, step])
        starts = [self._starts(axis) for axis in (0, 1)]
        return self._window(*(int(s[rng.integers(len(s))]) for s in starts))

    def tiling(self) -> list[tuple[Window, tuple[int, int], torch.Tensor]]:
        """Windows whose fitted parts cover the frame, overlapping by about a quarter of a side:
        how the whole image is evaluated, each window on its own batch statistics as in
        training. Each comes with its fitted part's corner in the padded frame and blending
        weights over that part (the raised cosine of :mod:`autodip.core.tiling`), so that
        neighbours that disagree meet in a ramp rather than a seam.
        """
        axes = []
        for side, length in zip(self.side, self.padded, strict=True):
            quarter = -(-(side // 4) // self.multiple) * self.multiple  # on the grid
            overlap = min(quarter, side - self.multiple) if side < length else 0
            starts = tile_starts(length, side, overlap)
            ramps = [edge_ramp(side, overlap, s > 0, s + side < length) for s in starts]
            axes.append(list(zip(starts, ramps, strict=True)))
        return [
            (self._window(top, left), (top, left), torch.from_numpy(np.outer(down, across)).float())
            for top, down in axes[0]
            for left, across in axes[1]
        ]

    def _window(self, top: int, left: int) -> Window:
        """The window whose fitted part starts at ``(top, left)`` of the padded frame."""
        axes = []
        pad = self.padding
        for axis, start, before, length in ((0, top, pad.top, pad.height),
                                            (1, left, pad.left, pad.width)):  # fmt: skip
            code_side = self.shape[axis]
            code_start = min(max(start - self.margin, 0), self.padded[axis] - code_side)
            axes.append(_axis(code_start, code_side, start, self.side[axis], before, length))
        (rows, est_rows, out_rows), (cols, est_cols, out_cols) = axes
        return Window(rows, cols, est_rows, est_cols, out_rows, out_cols)
