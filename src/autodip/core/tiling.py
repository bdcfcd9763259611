r"""Restore an image too large for one run in overlapping tiles, blended without seams.

The image is cut into ``tile × tile`` pieces that overlap by ``overlap`` pixels (the last tile of a
row or column is moved back to end at the border, so every tile has the full size when the image
allows). Each tile is restored on its own, and the results are blended with weights that fall
smoothly to zero across each overlap (a raised cosine,
:math:`w(d) = \sin^2\!\big(\tfrac{\pi}{2}\,\tfrac{d + 1/2}{\text{overlap}}\big)` at distance ``d``
from a tile edge that borders another tile; 1 elsewhere and at the image border):

.. math::

    \hat x(p) = \frac{\sum_k w_k(p)\, \hat x_k(p)}{\sum_k w_k(p)}.

Two tiles that disagree by a constant therefore meet in a smooth ramp instead of a step. Each
tile's DIP has its own stop, so neighbouring tiles may differ slightly in sharpness; the overlap
hides that too. Denoising and inpainting are tiled (super-resolution inputs are small by nature).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: The smallest tile :func:`autodip.api.restore` accepts: each tile is a whole DIP fit, and a
#: tile much smaller than this holds too little of the image for the prior (the default
#: hourglass's deepest scale would be a few pixels), while the number of runs grows as
#: 1/tile².
MIN_TILE = 16


@dataclass(frozen=True)
class Tile:
    """One piece: rows ``top:top+height`` and columns ``left:left+width`` of the image."""

    top: int
    left: int
    height: int
    width: int

    @property
    def rows(self) -> slice:
        """The tile's rows."""
        return slice(self.top, self.top + self.height)

    @property
    def cols(self) -> slice:
        """The tile's columns."""
        return slice(self.left, self.left + self.width)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Where tiles of ``tile`` pixels overlapping by ``overlap`` start along an axis of ``length``
    (the last one moved back to end at the border).

    Examples
    --------
    >>> tile_starts(100, 64, 16)
    [0, 36]
    """
    if tile < 1:
        raise ValueError(f"tile size must be positive, got {tile}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile size={tile}), got {overlap}")
    if length <= tile:
        return [0]
    stride = tile - overlap
    count = math.ceil((length - tile) / stride) + 1
    starts = [min(i * stride, length - tile) for i in range(count)]
    return sorted(set(starts))


def default_overlap(tile: int) -> int:
    """The overlap of neighbouring tiles when none is given: a quarter of the tile's side."""
    return tile // 4


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Tiles covering ``height × width`` with at least ``overlap`` pixels shared by neighbours.

    Examples
    --------
    >>> [(t.top, t.left) for t in plan_tiles(100, 60, 64, 16)]
    [(0, 0), (36, 0)]
    """
    rows, cols = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    return [Tile(top, left, min(tile, height), min(tile, width)) for top in rows for left in cols]


def edge_ramp(length: int, overlap: int, fade_start: bool, fade_end: bool) -> np.ndarray:
    """Blending weights along one axis of a tile: the raised cosine over ``overlap`` pixels at
    each end that borders another tile (``fade_start``, ``fade_end``), 1 elsewhere.
    """
    weight = np.ones(length)
    if overlap == 0:
        return weight
    d = np.arange(min(overlap, length))
    ramp = np.sin(0.5 * np.pi * (d + 0.5) / overlap) ** 2
    if fade_start:
        weight[: ramp.size] = np.minimum(weight[: ramp.size], ramp)
    if fade_end:
        weight[length - ramp.size :] = np.minimum(weight[length - ramp.size :], ramp[::-1])
    return weight


def blend_weights(tile: Tile, height: int, width: int, overlap: int) -> np.ndarray:
    """The tile's ``height_t × width_t`` weights: ramps on edges that border other tiles."""
    vertical = edge_ramp(tile.height, overlap, tile.top > 0, tile.top + tile.height < height)
    horizontal = edge_ramp(tile.width, overlap, tile.left > 0, tile.left + tile.width < width)
    return np.outer(vertical, horizontal)


def restore_in_tiles(
    image: np.ndarray,
    tile: int,
    overlap: int,
    restore_tile: Callable[[Tile, np.ndarray], np.ndarray],
) -> np.ndarray:
    """Restore ``image`` (``C×H×W``) tile by tile with ``restore_tile`` and blend the results.

    ``restore_tile(tile, pixels)`` gets the tile's position and pixels and returns its restored
    ``C×h×w`` pixels.
    """
    channels, height, width = image.shape
    total = np.zeros((channels, height, width), np.float64)
    weights = np.zeros((height, width), np.float64)
    for piece in plan_tiles(height, width, tile, overlap):
        restored = restore_tile(piece, image[:, piece.rows, piece.cols])
        if restored.shape != (channels, piece.height, piece.width):
            raise ValueError(
                f"a tile came back with shape {restored.shape}, expected "
                f"{(channels, piece.height, piece.width)}"
            )
        w = blend_weights(piece, height, width, overlap)
        total[:, piece.rows, piece.cols] += w * restored
        weights[piece.rows, piece.cols] += w
    return (total / weights).astype(np.float32)
