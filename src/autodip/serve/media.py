"""Uploads and what a browser can show of them.

An upload is decoded by :func:`autodip.io.read_image`, the command line's reader, with its limits
(a header claiming more pixels than Pillow's decompression-bomb limit is refused before any pixel
is allocated). The browser cannot show a 16-bit or float TIFF, an ``.npy`` array or a 5-channel
image, so the page is sent PNG previews: 8-bit, at most three channels, and for 16-bit and float
data tone-mapped by a percentile stretch (:func:`display_range`), the same stretch for the input,
the estimates and the result so that they compare.
"""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autodip.errors import UploadError
from autodip.io import ImageFramesError, ImageInfo, ImageReadError, read_image

#: Percentiles of the tone-mapping stretch for 16-bit and float images.
STRETCH_PERCENTILES = (0.5, 99.5)
#: Output extensions of the formats :func:`autodip.io.write_image` can write; others get PNG.
WRITABLE = {"png": ".png", "jpeg": ".jpg", "bmp": ".bmp", "tiff": ".tif", "npy": ".npy"}


@dataclass
class Upload:
    """An image the page sent, decoded, with its preview.

    Attributes
    ----------
    id
        The server's name for it (random); the client never names a file on the server.
    name
        The file name the client gave, cleaned (:func:`clean_name`): shown, and the stem of the
        download's name, never a path.
    pixels, info
        :func:`autodip.io.read_image`'s result.
    display
        The ``(lo, hi)`` values shown as black and white (:func:`display_range`).
    preview
        The PNG the page shows.
    """

    id: str
    name: str
    pixels: np.ndarray
    info: ImageInfo
    display: tuple[float, float]
    preview: bytes = field(repr=False)

    def describe(self) -> dict[str, Any]:
        """What the page shows of the image: size, channels, format, bit depth."""
        channels, height, width = self.pixels.shape
        info = self.info
        return {
            "id": self.id,
            "name": self.name,
            "width": width,
            "height": height,
            "channels": channels,
            "alpha": info.alpha is not None,
            "format": info.format,
            "bit_depth": info.bit_depth,
            "dtype": info.dtype,
            "tone_mapped": self.display != (0.0, 1.0),
            "output": self.output_name,
        }

    @property
    def output_name(self) -> str:
        """The result's file name: the input's stem and format (PNG for read-only formats)."""
        stem = Path(self.name).stem or "image"
        return f"{stem}-restored{WRITABLE.get(self.info.format, '.png')}"


def clean_name(name: str | None) -> str:
    r"""A client's file name reduced to a safe base name: no folders, no control characters.

    >>> clean_name("../../etc/passwd"), clean_name("C:\\a\\b c.png"), clean_name("")
    ('passwd', 'b c.png', 'image')
    """
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f\"<>|:*?]", "", base).strip(" .")
    return base[:120] or "image"


def read_upload(folder: Path, name: str | None, data: bytes) -> Upload:
    """Decode ``data`` (an uploaded file) with :func:`autodip.io.read_image`.

    The bytes go to a file of the server's naming in ``folder`` (the reader reads files), which is
    removed once read. Raises :class:`UploadError` saying why an image cannot be used.
    """
    shown = clean_name(name)
    pixels, info = _decode(folder, shown, data, "image")
    display = display_range(pixels, info)
    upload_id = secrets.token_hex(8)
    return Upload(upload_id, shown, pixels, info, display, to_png(pixels, display))


def read_mask(folder: Path, name: str | None, data: bytes, size: tuple[int, int]) -> np.ndarray:
    """Decode a mask file (white = known pixel) for an image of ``size`` = (H, W).

    Returns the ``1×H×W`` mask in [0, 1] (the mean of its channels). Raises :class:`UploadError`
    when it cannot be read or has another size.
    """
    pixels, _ = _decode(folder, clean_name(name), data, "mask")
    if tuple(pixels.shape[1:]) != tuple(size):
        raise UploadError(
            f"the mask is {pixels.shape[2]}×{pixels.shape[1]} pixels but the image is "
            f"{size[1]}×{size[0]}; they must match"
        )
    return pixels.mean(axis=0, keepdims=True)


def _decode(folder: Path, shown: str, data: bytes, what: str) -> tuple[np.ndarray, ImageInfo]:
    if not data:
        raise UploadError(f"the {what} '{shown}' is empty")
    path = folder / f"upload-{secrets.token_hex(8)}"
    path.write_bytes(data)
    try:
        return read_image(path)
    except ImageFramesError as error:
        raise UploadError(
            f"cannot read the {what} '{shown}': it is an animation of {error.frames} frames; "
            "save the frame you mean as an image of its own"
        ) from None
    except ImageReadError as error:  # its reason names no server path
        raise UploadError(f"cannot read the {what} '{shown}': {error.reason}") from None
    finally:
        path.unlink(missing_ok=True)


def display_range(pixels: np.ndarray, info: ImageInfo) -> tuple[float, float]:
    """The values shown as black and white: ``(0, 1)`` for 8-bit images; for 16-bit and float
    data the :data:`STRETCH_PERCENTILES` of the values, so a 12-bit microscope image in a 16-bit
    file is not shown almost black.
    """
    if info.bit_depth == 8 and info.value_range is None:
        return (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(pixels, STRETCH_PERCENTILES))
    if not hi - lo > 1e-6:
        return (0.0, 1.0)
    return (lo, hi)


def to_png(pixels: np.ndarray, display: tuple[float, float] = (0.0, 1.0)) -> bytes:
    r"""An 8-bit PNG a browser shows of ``C×H×W`` pixels in [0, 1], stretched to ``display``.

    Three or more channels show the first three as RGB, one or two the first as gray.

    >>> to_png(np.zeros((1, 2, 3), np.float32))[:8] == b"\x89PNG\r\n\x1a\n"
    True
    """
    from PIL import Image

    lo, hi = display
    shown = pixels[:3] if pixels.shape[0] >= 3 else pixels[:1]
    scaled = np.clip((np.asarray(shown, np.float32) - lo) / (hi - lo), 0.0, 1.0)
    values = (scaled.transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)
    picture = Image.fromarray(values[..., 0] if values.shape[2] == 1 else values)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def masked_png(pixels: np.ndarray, display: tuple[float, float], mask: np.ndarray) -> bytes:
    """:func:`to_png` of the input with the pixels to fill (mask ≤ 0.5) tinted red, as the page
    paints them: what an inpainting run starts from.
    """
    shown = np.clip(
        (np.asarray(pixels[:3], np.float32) - display[0]) / (display[1] - display[0]), 0, 1
    )
    rgb = np.repeat(shown, 3, axis=0) if shown.shape[0] < 3 else shown
    missing = np.asarray(mask[0]) <= 0.5
    red = np.array([1.0, 40 / 255, 40 / 255], np.float32)[:, None]
    rgb = rgb.copy()
    rgb[:, missing] = 0.45 * rgb[:, missing] + 0.55 * red
    return to_png(rgb)


def mask_to_png(mask: np.ndarray) -> bytes:
    """The ``1×H×W`` mask as an 8-bit gray PNG: white known, black missing (values > 0.5 known)."""
    return to_png((np.asarray(mask) > 0.5).astype(np.float32))
