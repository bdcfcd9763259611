"""What the decoders hand `~autodip.io.read.read_image`, and the checks they all make.

A decoder returns a `_Decoded` (C×H×W planes in the file's dtype, and what else it learnt) or
raises a `_DecodeError`; `read_image` turns that into the public `ImageReadError` (or one of its
kinds). Every decoder checks the size a file claims, and the frame asked for, before it allocates
pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image


class _DecodeError(Exception):
    """Raised by the decoders; `read_image` turns it into an `ImageReadError`."""


class _FramesError(_DecodeError):
    """An animation was read without choosing a frame; becomes an `ImageFramesError`."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        super().__init__(f"{frames} frames")


class _DamagedError(_DecodeError):
    """Truncated or corrupt image data; becomes an `ImageDamagedError`."""


class _Decoded(NamedTuple):
    """What a decoder found: C×H×W planes in the file's dtype, and what else it learnt."""

    planes: np.ndarray
    alpha: np.ndarray | None
    format: str
    layout: str | None = None
    damaged: str | None = None


def _check_frame(frame: int | None, frames: int) -> None:
    """Refuse a frame the file does not have, and an animation read without a frame."""
    if frame is None and frames > 1:
        raise _FramesError(frames)
    if frame is not None and frame >= frames:
        holds = "one image (frame 0)" if frames == 1 else f"{frames} frames (0 to {frames - 1})"
        raise _DecodeError(f"there is no frame {frame}: the file holds {holds}")


def _check_pixel_count(height: int, width: int) -> None:
    """Refuse an image of more than ``2 * Image.MAX_IMAGE_PIXELS`` pixels (see `read_image`).

    Called with the size a header claims, before any pixel buffer is allocated.
    """
    limit = Image.MAX_IMAGE_PIXELS
    if limit and height * width > 2 * limit:
        raise _DecodeError(
            f"image is too large ({width}×{height} pixels; the limit is {2 * limit})"
        )
