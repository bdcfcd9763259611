"""Read and write images, and move them between numpy and torch.

Conventions used everywhere in autodip:

* An image in memory is a ``float32`` numpy array of shape C×H×W (channels first) with
  values in [0, 1]. Colour channels only: an alpha plane is set aside in `ImageInfo`.
* 8-bit files are scaled by 255 and 16-bit files by 65535, so a file read and written
  back at the same bit depth is bit-exact.
* Float data (``.npy``, float TIFF), and integer data other than uint8/uint16, already in
  [0, 1] is used as is. Such data outside [0, 1] is min–max scaled into [0, 1]; the (lo, hi)
  used is kept in `ImageInfo.value_range` so that `write_image` can scale the result back.
* An array (``.npy``) is written back in the layout it was read in (H×W, H×W×C or C×H×W) and,
  for uint8/uint16, in its dtype; other dtypes come back as float32 in their own range.
* A network sees a 1×C×H×W ``float32`` tensor (`image_to_tensor`, `tensor_to_image`).

Supported files: PNG (8 and 16 bit, gray/RGB, with or without alpha), JPEG, BMP, TIFF
(8/16-bit integer and float) and ``.npy`` arrays. Reading looks at the file's content,
not its extension; a few other formats Pillow knows (GIF, WebP, PPM, JPEG 2000) can be
read but not written. Nothing is dropped without a word: an animation must be given a frame
to read, damaged (truncated or corrupt) data is refused unless a partial image is asked for,
and an alpha plane is not written to a format that cannot hold it unless asked to drop it.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import secrets
import stat
import struct
import sys
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import tifffile
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# The exceptions are defined in autodip.errors; they stay importable from here.
from autodip.errors import ImageDamagedError as ImageDamagedError
from autodip.errors import ImageFramesError as ImageFramesError
from autodip.errors import ImageReadError as ImageReadError
from autodip.errors import ImageWriteError as ImageWriteError

__all__ = [
    "ImageDamagedError",
    "ImageFramesError",
    "ImageInfo",
    "ImageReadError",
    "ImageWriteError",
    "image_to_tensor",
    "read_image",
    "tensor_to_image",
    "write_image",
]

#: Output extension (lower case) -> format name.
_EXTENSIONS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".npy": "npy",
}
#: Bit depths each output format can store; 32 means float32.
_DEPTHS = {"png": (8, 16), "jpeg": (8,), "bmp": (8,), "tiff": (8, 16, 32), "npy": (8, 16, 32)}
#: Output formats that can carry an alpha plane.
_ALPHA_FORMATS = frozenset({"png", "tiff", "npy"})
#: Formats Pillow is allowed to identify (its permissive plugins, e.g. TGA, accept junk).
_PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "TIFF", "GIF", "WEBP", "PPM", "JPEG2000")
#: Pillow format name -> our name, where they differ.
_PILLOW_FORMAT_NAMES = {"MPO": "jpeg", "DIB": "bmp"}
#: libjpeg warnings that mean the pixel data is damaged (it pads or guesses the rest).
_JPEG_DAMAGE = (
    "Corrupt JPEG data",
    "Premature end of JPEG file",
    "Inconsistent progression sequence",
    "Invalid SOS parameters",
)
#: Most channels an image may have; also decides the axis order of 3-D arrays.
_MAX_CHANNELS = 16
#: Largest magnitude float data may have: it is written back as float32.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_JPEG_QUALITY = 95

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NPY_MAGIC = b"\x93NUMPY"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
#: PNG colour type -> number of samples per pixel, for the colour types we decode ourselves.
_PNG16_CHANNELS = {2: 3, 4: 2, 6: 4}
#: PNG colour type -> samples per pixel, for all colour types.
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: The seven Adam7 interlace passes: (first column, first row, column step, row step).
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # samples per pixel -> colour type (for writing)
_PNG_IDAT_SIZE = 1 << 20


# --------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    """What `read_image` learnt about a file, so that `write_image` can mirror it.

    Attributes
    ----------
    path : str
        The path the image was read from.
    format : str
        ``"png"``, ``"jpeg"``, ``"bmp"``, ``"tiff"`` or ``"npy"`` (or ``"gif"``,
        ``"webp"``, ``"ppm"``, ``"jpeg2000"`` for formats that can only be read).
    bit_depth : int
        8 or 16 for integer images; 32 for float data.
    mode : str
        ``"L"`` for one channel, ``"RGB"`` for three, ``"C<n>"`` for any other count.
        Alpha is not counted.
    alpha : numpy.ndarray or None
        The H×W alpha plane with its original dtype and values, or None.
    value_range : tuple of float, or None
        For float data, or integer data other than uint8/uint16, that was outside [0, 1]:
        the (lo, hi) mapped onto [0, 1], so that a pixel ``p`` stands for
        ``lo + p * (hi - lo)``. None otherwise.
    dtype : str or None
        The samples' data type in the file, as numpy names it (``"uint8"``, ``"int64"``,
        ``"float64"``, ...); None when not read from a file.
    layout : str or None
        For arrays: the axes as read, ``"HW"``, ``"HWC"`` or ``"CHW"``, after a ``"1"`` for
        each leading axis of length 1 that was dropped (``"1CHW"`` for a 1×C×H×W dump);
        `write_image` writes ``.npy`` back in it. None for other formats.
    frame : int or None
        The frame read (counted from 0), when one was asked for.
    damaged : str or None
        Why the data is incomplete, when a truncated or corrupt file was read with
        ``allow_truncated=True`` (the missing part is padded by the decoder). None otherwise.
    """

    path: str
    format: str
    bit_depth: int
    mode: str
    alpha: np.ndarray | None = field(default=None, compare=False, repr=False)
    value_range: tuple[float, float] | None = None
    dtype: str | None = None
    layout: str | None = None
    frame: int | None = None
    damaged: str | None = None


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


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def read_image(
    path: str | os.PathLike[str], *, frame: int | None = None, allow_truncated: bool = False
) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file as float32 C×H×W pixels in [0, 1].

    The file type is recognised from its content, so the extension does not matter.
    Orientation stored in EXIF is applied. Palette and bilevel images become RGB and
    gray; an alpha channel is removed from the pixels and returned in ``info.alpha``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read: PNG, JPEG, BMP, TIFF or ``.npy`` (also GIF, WebP, PPM and
        JPEG 2000).
    frame : int, optional
        Which frame of an animation (GIF, animated PNG or WebP) to read, counted from 0.
        Without it an animation is refused, so that no frame is dropped unseen. A file
        holding one image has only frame 0.
    allow_truncated : bool, default False
        Return a truncated or corrupt file's image as the decoder pads it (the reason is in
        ``info.damaged``) instead of refusing it.

    Returns
    -------
    pixels : numpy.ndarray
        C×H×W ``float32`` in [0, 1], C-contiguous, colour channels only.
    info : ImageInfo
        Format, bit depth, mode, alpha plane and float value range of the file.

    Raises
    ------
    ImageReadError
        For every failure: missing, empty or unreadable file, a directory, content that
        is not an image, an image of zero size or with more than 16 channels, float data
        with NaN or infinity (in the pixels or a float alpha plane) or beyond the float32
        range, a header claiming more pixels than the limit (see Notes) or more data than
        the file holds, or a frame the file does not have.
    ImageFramesError
        An `ImageReadError` for an animation read without ``frame``.
    ImageDamagedError
        An `ImageReadError` for truncated or corrupt image data (without
        ``allow_truncated``): a file cut short, or a JPEG whose compressed data libjpeg finds
        corrupt (it would otherwise pad the rest of the image without an error).

    Notes
    -----
    Arrays (``.npy``) may be H×W, H×W×C or C×H×W: a 3-D array is channels-first when
    ``shape[0] <= 16 < shape[-1]`` and channels-last when ``shape[-1] <= 16``. Leading
    axes of length 1 are dropped (so a 1×C×H×W dump works). An array never has alpha.

    In a TIFF the sample axis is the channel axis; a TIFF without one but with a single
    extra leading axis (pages) uses that. The last sample is alpha when the ExtraSamples
    tag says so (the alpha is not un-premultiplied).

    16-bit PNGs with colour or alpha are decoded here, not by Pillow (which reduces them
    to 8 bits); their EXIF orientation and ``tRNS`` chunk are ignored, and interlaced ones
    are refused.

    Every decoder checks the size a file claims before it allocates pixels: images of more
    than ``2 * PIL.Image.MAX_IMAGE_PIXELS`` pixels (H × W; about 179 million by default,
    Pillow's decompression-bomb limit) are refused, so a corrupt or hostile header cannot
    exhaust memory. Setting ``MAX_IMAGE_PIXELS`` to None lifts the limit.

    Pillow reads with ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` off whatever its global value,
    and its warnings (and libjpeg's, which a second decode of a JPEG by OpenCV reveals) are
    kept off the user's screen.
    """
    name = os.fspath(path)
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int) or frame < 0):
        raise ValueError(f"frame must be an integer >= 0 (counted from 0), got {frame!r}")
    data = _read_bytes(name)
    try:
        decoded = _decode(data, frame, allow_truncated)
        pixels, bit_depth, value_range = _to_unit_range(decoded.planes)
        alpha = decoded.alpha
        if alpha is not None and alpha.dtype.kind == "f" and not np.isfinite(alpha).all():
            raise _DecodeError("alpha plane contains NaN or infinite values")
    except _FramesError as exc:
        raise ImageFramesError(name, exc.frames) from None
    except _DamagedError as exc:
        raise ImageDamagedError(name, f"the image data is truncated or corrupt ({exc})") from None
    except _DecodeError as exc:
        raise ImageReadError(name, str(exc)) from None
    except Exception as exc:
        raise ImageReadError(name, f"not a readable image ({_short_cause(exc)})") from exc
    if alpha is not None:
        alpha = np.ascontiguousarray(alpha.astype(alpha.dtype.newbyteorder("="), copy=False))
    channels = pixels.shape[0]
    info = ImageInfo(
        path=name,
        format=decoded.format,
        bit_depth=bit_depth,
        mode={1: "L", 3: "RGB"}.get(channels, f"C{channels}"),
        alpha=alpha,
        value_range=value_range,
        dtype=decoded.planes.dtype.name,
        layout=decoded.layout,
        frame=frame,
        damaged=decoded.damaged,
    )
    return pixels, info


def _read_bytes(name: str) -> bytes:
    """Return the whole content of a regular, non-empty file."""
    try:
        st = os.stat(name)
        if stat.S_ISDIR(st.st_mode):
            raise ImageReadError(name, "is a directory, not an image")
        if not stat.S_ISREG(st.st_mode):
            raise ImageReadError(name, "not a regular file")
        if st.st_size == 0:
            raise ImageReadError(name, "file is empty")
        with open(name, "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        raise ImageReadError(name, "no such file") from None
    except OSError as exc:
        raise ImageReadError(name, _os_reason(exc)) from None
    except ValueError as exc:  # e.g. an embedded NUL character in the path
        raise ImageReadError(name, f"invalid path ({exc})") from None
    if not data:
        raise ImageReadError(name, "file is empty")
    return data


def _decode(data: bytes, frame: int | None, allow_truncated: bool) -> _Decoded:
    """Decode file content: C×H×W planes in the file's dtype, alpha or None, format, ..."""
    if data.startswith(_NPY_MAGIC):
        decoded = _read_npy(data)
    elif data[:4] in _TIFF_MAGICS:
        decoded = _Decoded(*_read_tiff(data))
    elif _png_header_is(data, depths=(16,), colour_types=tuple(_PNG16_CHANNELS)):
        return _read_png16(data, frame, allow_truncated)
    else:
        png = data.startswith(_PNG_SIGNATURE)
        damaged = _check_png_data(data, allow_truncated) if png else None
        if damaged is not None and not allow_truncated:
            raise _DamagedError(damaged)
        decoded = _read_pillow(data, frame, allow_truncated)
        return decoded._replace(damaged=damaged or decoded.damaged)
    _check_frame(frame, 1)
    return decoded


def _check_frame(frame: int | None, frames: int) -> None:
    """Refuse a frame the file does not have, and an animation read without a frame."""
    if frame is None and frames > 1:
        raise _FramesError(frames)
    if frame is not None and frame >= frames:
        holds = "one image (frame 0)" if frames == 1 else f"{frames} frames (0 to {frames - 1})"
        raise _DecodeError(f"there is no frame {frame}: the file holds {holds}")


def _png_header_is(data: bytes, depths: tuple[int, ...], colour_types: tuple[int, ...]) -> bool:
    """Tell from the IHDR chunk whether a PNG has one of the given bit depths and colour types."""
    if not data.startswith(_PNG_SIGNATURE) or len(data) < 29 or data[12:16] != b"IHDR":
        return False
    return data[24] in depths and data[25] in colour_types


def _check_pixel_count(height: int, width: int) -> None:
    """Refuse an image of more than ``2 * Image.MAX_IMAGE_PIXELS`` pixels (see `read_image`).

    Called with the size a header claims, before any pixel buffer is allocated.
    """
    limit = Image.MAX_IMAGE_PIXELS
    if limit and height * width > 2 * limit:
        raise _DecodeError(
            f"image is too large ({width}×{height} pixels; the limit is {2 * limit})"
        )


def _to_unit_range(planes: np.ndarray) -> tuple[np.ndarray, int, tuple[float, float] | None]:
    """Scale C×H×W planes into float32 [0, 1]; return them with bit depth and value range."""
    if planes.shape[0] == 0:
        raise _DecodeError("image has no channels")
    if planes.shape[0] > _MAX_CHANNELS:
        raise _DecodeError(
            f"image has {planes.shape[0]} channels; at most {_MAX_CHANNELS} are supported"
        )
    if planes.shape[1] == 0 or planes.shape[2] == 0:
        raise _DecodeError("image has zero size")
    _check_pixel_count(planes.shape[1], planes.shape[2])
    kind, size = planes.dtype.kind, planes.dtype.itemsize
    if kind == "b":
        return np.ascontiguousarray(planes, dtype=np.float32), 8, None
    if kind == "u" and size in (1, 2):
        scale = np.float32(255 if size == 1 else 65535)
        pixels = np.ascontiguousarray(planes, dtype=np.float32) / scale
        return pixels, 8 * size, None
    if kind not in "iuf":
        raise _DecodeError(f"unsupported data type {planes.dtype}")
    # Float data, and integers other than uint8/uint16, are treated as measurements.
    if kind == "f" and not np.isfinite(planes).all():
        raise _DecodeError("data contains NaN or infinite values")
    lo, hi = float(planes.min()), float(planes.max())
    if max(-lo, hi) > _FLOAT32_MAX:  # it could not be written back (nor scaled: hi - lo = inf)
        raise _DecodeError(
            f"values reach {lo if -lo > hi else hi:.3g}, beyond the float32 range (±3.4e38)"
        )
    if lo >= 0.0 and hi <= 1.0:
        return np.ascontiguousarray(planes, dtype=np.float32), 32, None
    span = hi - lo if hi > lo else 1.0
    # (a channels-last array gives a strided view: copy in C order, as promised)
    pixels = ((np.ascontiguousarray(planes, dtype=np.float64) - lo) / span).astype(np.float32)
    return np.clip(pixels, 0.0, 1.0, out=pixels), 32, (lo, hi)


def _read_npy(data: bytes) -> _Decoded:
    """Decode a ``.npy`` file; see `read_image` for the axis rule."""
    _check_npy_header(data)
    arr = np.load(io.BytesIO(data), allow_pickle=False)
    dropped = 0
    while arr.ndim > 3 and arr.shape[0] == 1:
        arr = arr[0]
        dropped += 1
    if arr.ndim == 2:
        planes, layout = arr[np.newaxis], "HW"
    elif arr.ndim == 3 and arr.shape[0] <= _MAX_CHANNELS < arr.shape[-1]:
        planes, layout = arr, "CHW"
    elif arr.ndim == 3 and arr.shape[-1] <= _MAX_CHANNELS:
        planes, layout = np.moveaxis(arr, -1, 0), "HWC"
    elif arr.ndim == 3:
        raise _DecodeError(
            f"cannot tell the channel axis of an array of shape {arr.shape} "
            f"(expected at most {_MAX_CHANNELS} channels, first or last)"
        )
    else:
        raise _DecodeError(
            f"an array of shape {arr.shape} is not an image (expected H×W, H×W×C or C×H×W)"
        )
    return _Decoded(planes, None, "npy", "1" * dropped + layout)


def _check_npy_header(data: bytes) -> None:
    """Refuse a ``.npy`` whose header claims more data than the file holds, before loading."""
    fp = io.BytesIO(data)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
    else:  # 2.0 and 3.0 share a layout (3.0 allows UTF-8 field names, refused anyway)
        shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    needed = math.prod(shape) * dtype.itemsize
    available = len(data) - fp.tell()
    if needed > available:
        raise _DecodeError(
            f"array data is truncated (the header claims {dtype} of shape {shape}: "
            f"{needed} bytes, but the file holds {available})"
        )


class _NeedsPillowError(Exception):
    """The TIFF is valid but uses a layout that tifffile does not decode to pixels."""


def _read_tiff(data: bytes) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Decode a TIFF with tifffile, falling back on Pillow (palette, CMYK, JPEG inside)."""
    try:
        return _read_tiff_tifffile(data)
    except _DecodeError:
        raise
    except Exception as tiff_error:
        try:
            return _read_pillow(data)
        except _DecodeError:
            raise
        except Exception:
            raise tiff_error from None


def _read_tiff_tifffile(data: bytes) -> tuple[np.ndarray, np.ndarray | None, str]:
    photometric_kinds = (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.MINISWHITE)
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages[0]
        photometric = page.photometric
        if photometric not in (*photometric_kinds, tifffile.PHOTOMETRIC.RGB):
            raise _NeedsPillowError(f"photometric {photometric.name} is not supported")
        extrasamples = tuple(page.extrasamples)
        series = tif.series[0]
        _check_tiff_size(series.shape, series.axes)
        arr, axes = series.asarray(), series.axes
    # Drop length-1 axes (except the spatial ones); one channel axis may remain.
    keep = [
        i for i, (ax, n) in enumerate(zip(axes, arr.shape, strict=True)) if n != 1 or ax in "YX"
    ]
    arr = arr.reshape([arr.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    alpha = None
    if arr.ndim == 2:
        planes = arr[np.newaxis]
    elif arr.ndim == 3:
        channel_axis = axes.find("S")
        if channel_axis < 0:
            channel_axis = next(i for i, ax in enumerate(axes) if ax not in "YX")
        planes = np.moveaxis(arr, channel_axis, 0)
        is_alpha = (tifffile.EXTRASAMPLE.ASSOCALPHA, tifffile.EXTRASAMPLE.UNASSALPHA)
        if "S" in axes and extrasamples and extrasamples[-1] in is_alpha:
            planes, alpha = planes[:-1], planes[-1]
    else:
        raise _DecodeError(f"TIFF holds a {arr.ndim}-D array (axes {axes}), not one 2-D image")
    if photometric == tifffile.PHOTOMETRIC.MINISWHITE:  # 0 means white: flip to 0 = black
        if planes.dtype.kind == "b":
            planes = ~planes
        elif planes.dtype.kind in "ui":
            planes = np.iinfo(planes.dtype).max - planes
    return planes, alpha, "tiff"


def _check_tiff_size(shape: tuple[int, ...], axes: str) -> None:
    """Refuse a TIFF series too large to decode (see `read_image`), before allocating it."""
    sizes = dict(zip(axes, shape, strict=True))
    height, width = sizes.get("Y", 1), sizes.get("X", 1)
    _check_pixel_count(height, width)
    per_pixel = math.prod(shape) // max(1, height * width)
    if per_pixel > _MAX_CHANNELS + 1:  # colour channels and an alpha
        raise _DecodeError(
            f"TIFF holds {per_pixel} samples per pixel (axes {axes}, shape {shape}); "
            f"at most {_MAX_CHANNELS} channels are supported"
        )


class _TruncatedError(Exception):
    """Pillow found the file cut short (its ``image file is truncated``)."""


def _read_pillow(data: bytes, frame: int | None = None, allow_truncated: bool = False) -> _Decoded:
    """Decode any format Pillow knows; apply EXIF orientation and normalise the mode.

    A file cut short is refused (`_DamagedError`) or, with ``allow_truncated``, read again
    with Pillow's padding of the missing part.
    """
    try:
        return _read_pillow_once(data, frame, allow_truncated, pad=False)
    except _TruncatedError as exc:
        if not allow_truncated:
            raise _DamagedError(str(exc)) from None
        decoded = _read_pillow_once(data, frame, allow_truncated, pad=True)
        return decoded._replace(damaged=decoded.damaged or str(exc))


def _read_pillow_once(data: bytes, frame: int | None, allow_truncated: bool, pad: bool) -> _Decoded:
    """One decode by Pillow; ``pad`` sets ``LOAD_TRUNCATED_IMAGES`` (off otherwise)."""
    Image.init()
    formats = [f for f in _PILLOW_FORMATS if f in Image.OPEN]
    with warnings.catch_warnings():  # EXIF, decompression-bomb (below our limit) ...: not ours
        warnings.simplefilter("ignore")
        try:
            opened = Image.open(io.BytesIO(data), formats=formats)
        except Image.DecompressionBombError:  # Pillow applies the same limit when it opens
            raise _DecodeError(
                f"image is too large (more than {2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels)"
            ) from None
        with opened:
            _check_pixel_count(opened.height, opened.width)
            _seek_frame(opened, frame)
            damaged = _jpeg_damage(data) if opened.format in ("JPEG", "MPO") else None
            if damaged is not None and not allow_truncated:
                raise _DamagedError(damaged)
            _load_pillow(opened, pad)
            fmt = _PILLOW_FORMAT_NAMES.get(opened.format or "", (opened.format or "").lower())
            try:
                im = ImageOps.exif_transpose(opened)
            except Exception:  # a broken EXIF block should not make the pixels unreadable
                im = opened.copy()
    im = _normalise_pillow_mode(im)
    arr = np.asarray(im)
    planes = arr[np.newaxis] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
    # Mode "I" is how some Pillow versions open 16-bit gray PNGs; keep 16 bits when it fits.
    if im.mode == "I" and planes.size and planes.min() >= 0 and planes.max() <= 65535:
        planes = planes.astype(np.uint16)
    alpha = None
    if im.mode in ("LA", "RGBA"):
        planes, alpha = planes[:-1], planes[-1]
    return _Decoded(planes, alpha, fmt, damaged=damaged)


def _seek_frame(opened: Image.Image, frame: int | None) -> None:
    """Go to ``frame`` of an animation; refuse an animation without one (see `read_image`).

    Only GIF, PNG and WebP count as animations: the extra images of an MPO (a camera JPEG's
    preview or second view) follow its main image, and TIFF pages follow tifffile's rule.
    """
    animated = opened.format in ("GIF", "PNG", "WEBP")
    frames = int(getattr(opened, "n_frames", 1)) if animated else 1
    _check_frame(frame, frames)
    if frame:
        opened.seek(frame)


def _load_pillow(opened: Image.Image, pad: bool) -> None:
    """Load the pixels with ``LOAD_TRUNCATED_IMAGES`` set to ``pad`` for this call only."""
    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = pad
    try:
        opened.load()
    except OSError as exc:
        if "truncated" in str(exc):
            raise _TruncatedError(_short_cause(exc)) from None
        raise
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


def _jpeg_damage(data: bytes) -> str | None:
    """The first libjpeg warning that a JPEG's compressed data is damaged, or None.

    Pillow silences libjpeg's warnings, and libjpeg pads corrupt or missing data without an
    error. OpenCV's libjpeg prints them on the C ``stderr``: decode the file (8× reduced, gray:
    the entropy decoding that warns is the same) with file descriptor 2 caught in a temporary
    file. Not thread-safe: another thread's output to fd 2 in that moment is swallowed.
    """
    try:
        import cv2
    except ImportError:  # pragma: no cover - a dependency; without it the check is skipped
        return None
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to catch (e.g. pythonw)
        return None
    with tempfile.TemporaryFile() as caught:
        with contextlib.suppress(Exception):  # Python's own buffered output goes out first
            sys.stderr.flush()
        os.dup2(caught.fileno(), 2)
        try:
            flags = cv2.IMREAD_REDUCED_GRAYSCALE_8 | cv2.IMREAD_IGNORE_ORIENTATION
            cv2.imdecode(np.frombuffer(data, np.uint8), flags)
        except Exception:  # OpenCV cannot decode it: Pillow will say what is wrong
            pass
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        caught.seek(0)
        lines = caught.read().decode("utf-8", "replace").splitlines()
    damage = [line.strip() for line in lines if any(w in line for w in _JPEG_DAMAGE)]
    return damage[0] if damage else None


def _normalise_pillow_mode(im: Image.Image) -> Image.Image:
    """Convert a Pillow image to L, LA, RGB, RGBA, I;16*, I or F."""
    mode = im.mode
    transparent = "transparency" in im.info
    if mode in ("P", "PA"):
        return im.convert("RGBA" if mode == "PA" or transparent else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode in ("L", "RGB"):
        return im.convert(mode + "A") if transparent else im
    if mode in ("La", "RGBa"):
        return im.convert(mode.upper())
    if mode in ("LA", "RGBA", "I", "F") or mode.startswith("I;16"):
        return im
    return im.convert("RGB")  # CMYK, YCbCr, HSV, LAB, RGBX, ...


def _read_png16(data: bytes, frame: int | None, allow_truncated: bool) -> _Decoded:
    """Decode a non-interlaced 16-bit PNG with colour and/or alpha (types 2, 4 and 6).

    Of an animated one (``acTL`` chunk) only a single-frame one is read: its frames are not
    decoded here, and Pillow would reduce them to 8 bits.
    """
    chunks = _png_chunks(data, partial=allow_truncated)
    width, height, _depth, colour_type, compression, filter_method, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    channels = _PNG16_CHANNELS[colour_type]
    if interlace:
        kind = "gray+alpha" if colour_type == 4 else "colour"
        raise _DecodeError(f"interlaced 16-bit {kind} PNG is not supported")
    if compression or filter_method:
        raise _DecodeError("not a readable image (unknown PNG compression or filter method)")
    if width == 0 or height == 0:
        raise _DecodeError("image has zero size")
    _check_pixel_count(height, width)
    frames = next((_png_frames(body) for kind, body in chunks if kind == b"acTL"), 1)
    _check_frame(frame, frames)
    if frames > 1:
        raise _DecodeError(
            f"the frames of a 16-bit animated PNG cannot be read ({frames} frames); save the "
            "frame you mean as a PNG of its own"
        )
    bpp = 2 * channels  # bytes per pixel
    stride = width * bpp
    expected = height * (stride + 1)
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    try:
        raw = zlib.decompressobj().decompress(idat, expected)
    except zlib.error as exc:
        raise _DecodeError(f"not a readable image (corrupt PNG data: {exc})") from None
    damaged = None
    if len(raw) < expected:
        damaged = f"PNG image data is truncated: {len(raw)} of {expected} bytes"
        if not allow_truncated:
            raise _DamagedError(damaged)
        raw = raw.ljust(expected, b"\0")  # the missing rows: black, as Pillow pads
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    pixels = _png_unfilter(rows[:, 0], rows[:, 1:], bpp)
    arr = pixels.view(">u2").reshape(height, width, channels).astype(np.uint16)
    planes = np.moveaxis(arr, -1, 0)
    alpha = None
    if channels in (2, 4):
        planes, alpha = planes[:-1], planes[-1]
    return _Decoded(planes, alpha, "png", damaged=damaged)


def _png_frames(actl: bytes) -> int:
    """The number of frames an ``acTL`` chunk announces (1 if it is malformed)."""
    return struct.unpack(">I", actl[:4])[0] if len(actl) >= 4 else 1


def _check_png_data(data: bytes, partial: bool = False) -> str | None:
    """Say why a PNG's image data is shorter than its header says, before Pillow reads it.

    Pillow fills the missing rows with black when the compressed data ends early, so a
    damaged file, or a tiny one whose header claims millions of pixels, would otherwise be
    read as a (mostly black, possibly huge) image. The data is decompressed in pieces and
    only counted, never kept. Returns None when the data is complete. ``partial`` accepts a
    file cut short (see `_png_chunks`).
    """
    chunks = _png_chunks(data, partial)
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    samples = _PNG_SAMPLES.get(colour_type)
    if samples is None or depth not in (1, 2, 4, 8, 16) or interlace > 1:
        return None  # an invalid header: let Pillow say what is wrong
    _check_pixel_count(height, width)
    passes = ((0, 0, 1, 1),) if interlace == 0 else _ADAM7
    expected = 0
    for x0, y0, dx, dy in passes:
        columns, rows = max(0, -((x0 - width) // dx)), max(0, -((y0 - height) // dy))
        if columns and rows:  # each row: a filter-type byte and its packed samples
            expected += rows * (1 + (columns * depth * samples + 7) // 8)
    decompressor = zlib.decompressobj()
    pending = b"".join(body for kind, body in chunks if kind == b"IDAT")
    found = 0
    try:
        while found < expected:
            piece = decompressor.decompress(pending, min(expected - found, _PNG_IDAT_SIZE))
            if not piece:
                break
            found += len(piece)
            pending = decompressor.unconsumed_tail
    except zlib.error as exc:
        raise _DecodeError(f"not a readable image (corrupt PNG data: {exc})") from None
    if found < expected:
        return f"PNG image data is truncated: {found} of {expected} bytes"
    return None


def _png_chunks(data: bytes, partial: bool = False) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, body) chunks, checking lengths and CRCs; IHDR comes first.

    A file cut inside a chunk is refused (`_DamagedError`), or with ``partial`` read up to
    where it ends.
    """
    chunks = []
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(crc) < 4:
            if not chunks:  # not even a whole header: nothing to restore
                raise _DecodeError("not a readable image (PNG file is truncated)")
            if partial:  # keep what there is of the last chunk
                chunks.append((kind, body))
                break
            raise _DamagedError("PNG file is truncated")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            name = kind.decode("latin-1")
            raise _DecodeError(f"not a readable image (corrupt PNG: bad CRC in {name} chunk)")
        chunks.append((kind, body))
        if kind == b"IEND":
            break
        pos += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise _DecodeError("not a readable image (PNG header is damaged)")
    return chunks


def _png_unfilter(types: np.ndarray, filtered: np.ndarray, bpp: int) -> np.ndarray:
    """Undo PNG row filters.

    Parameters
    ----------
    types : numpy.ndarray
        Filter type of each row (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth).
    filtered : numpy.ndarray
        H×stride ``uint8`` filtered bytes, without the filter-type column.
    bpp : int
        Bytes per complete pixel: the distance to the "left" byte.

    Returns
    -------
    numpy.ndarray
        H×stride ``uint8`` reconstructed bytes.

    Notes
    -----
    None, Sub and Up only look at the current and previous row, so they are undone one
    row at a time (Sub as a wrapping cumulative sum). Average and Paeth need the byte to
    the left already reconstructed; a pixel depends on its left, upper and upper-left
    neighbours only, so all pixels on one anti-diagonal (constant row + column) are
    reconstructed together: H + W - 1 vectorised steps instead of H×W scalar ones.
    """
    height, stride = filtered.shape
    if height and int(types.max()) > 4:
        raise _DecodeError(f"not a readable image (unknown PNG row filter {int(types.max())})")
    if not types.any():
        return filtered.copy()
    if int(types.max()) <= 2:
        out = np.empty_like(filtered)
        prev = np.zeros(stride, dtype=np.uint8)
        for r in range(height):
            row = filtered[r]
            if types[r] == 1:
                row = np.cumsum(row.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
            elif types[r] == 2:
                row = row + prev
            out[r] = row
            prev = out[r]
        return out
    width = stride // bpp
    src = filtered.reshape(height, width, bpp).astype(np.int16)
    rec = np.zeros((height + 1, width + 1, bpp), dtype=np.int16)  # zero row/column padding
    kinds = types.astype(np.intp)
    for diag in range(height + width - 1):
        r = np.arange(max(0, diag - width + 1), min(height - 1, diag) + 1)
        x = diag - r
        left, up, upleft = rec[r + 1, x], rec[r, x + 1], rec[r, x]
        p = left + up - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        t = kinds[r][:, np.newaxis]
        predictor = np.select(
            [t == 1, t == 2, t == 3, t == 4], [left, up, (left + up) >> 1, paeth], 0
        )
        rec[r + 1, x + 1] = (src[r, x] + predictor) & 0xFF
    return rec[1:, 1:].astype(np.uint8).reshape(height, stride)


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def write_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    info: ImageInfo | None = None,
    *,
    bit_depth: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write C×H×W float pixels in [0, 1] to an image file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The output file. Its extension picks the format: ``.png``, ``.jpg``/``.jpeg``,
        ``.bmp``, ``.tif``/``.tiff`` or ``.npy``. Missing parent directories are created.
    pixels : numpy.ndarray
        C×H×W (or H×W) floating-point pixels; values outside [0, 1] are clipped.
        PNG, JPEG and BMP hold 1 or 3 channels; TIFF and ``.npy`` up to 16 (for ``.npy``
        that includes an alpha plane, which it stores as a last channel).
    info : ImageInfo, optional
        Usually the info of the input image. Its bit depth is used when the format can
        store it, its alpha plane is written back unchanged when the plane matches the
        pixels' H×W (a format that cannot hold alpha is refused: see Raises), for float
        output its value range scales the pixels back out (``lo + p * (hi - lo)``), and an
        array read from ``.npy`` is written in its layout (``info.layout``) and, if it was
        uint8 or uint16, its dtype.
    bit_depth : int, optional
        8 or 16 (PNG, TIFF, ``.npy``) or 32 for float32 (TIFF, ``.npy``); overrides
        ``info``. Without either, PNG and TIFF get 8 bits, JPEG and BMP always 8 bits,
        and ``.npy`` float32 (uint8/uint16 when ``info`` is such an array).
    overwrite : bool, default False
        Replace an existing file. Without it an existing file is left untouched.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    ImageWriteError
        For an unknown extension, a bit depth or channel count the format cannot store
        (more than 16 channels never: `read_image` could not read them back), an alpha
        plane (in ``info``) that the format cannot hold (JPEG, BMP: pass
        ``dataclasses.replace(info, alpha=None)`` to drop it), or an operating-system error
        (permissions, full disk, ...).
    ValueError
        If ``pixels`` is not a floating-point image array or contains NaN.

    Notes
    -----
    The file is first written to a hidden temporary file (``.<name>.<random>.tmp``) in
    the same directory and then renamed onto the target, so a reader never sees a partial
    file; the temporary file is removed if anything fails. Integer output is rounded to
    the nearest step (``round(p * 255)`` or ``round(p * 65535)``); an alpha plane of a
    different dtype is converted to the output's depth. JPEG is written at quality 95
    without chroma subsampling. ``.npy`` output is in the layout of ``info.layout``, else
    H×W or H×W×C (channels last); `read_image` reads it back in the same orientation, alpha
    included as a last channel.
    """
    target = Path(path)
    chw = _as_chw(pixels, "pixels")
    if np.isnan(chw).any():
        raise ValueError("pixels contain NaN values")
    fmt, depth = check_output(target, chw.shape[0], info, bit_depth=bit_depth)
    if target.is_dir():
        raise ImageWriteError(target, "is a directory")
    if not overwrite and target.exists():
        raise _exists_error(target)

    alpha = info.alpha if info is not None and fmt in _ALPHA_FORMATS else None
    if alpha is not None and alpha.shape != chw.shape[1:]:
        alpha = None  # the image was resized or cropped: its old alpha no longer fits
    if fmt == "npy" and alpha is not None and chw.shape[0] >= _MAX_CHANNELS:
        # H×W×17 would be read back as 17-wide C×H×W (or not at all): refuse, don't garble
        raise ImageWriteError(
            target,
            f"an array holds at most {_MAX_CHANNELS} channels including alpha, and this "
            f"image has {chw.shape[0]} and alpha; write .tiff to keep the alpha",
        )
    value_range = info.value_range if info is not None and depth == 32 else None
    layout = info.layout if info is not None and fmt == "npy" else None
    payload = _encode(fmt, _quantise(chw, depth, value_range), _convert_alpha(alpha, depth), layout)

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(
            target, f"cannot create directory '{target.parent}': {_os_reason(exc)}"
        ) from exc
    try:
        replace_atomically(target, payload, overwrite)
    except FileExistsError:  # the target appeared while we were writing
        raise
    except OSError as exc:
        raise ImageWriteError(target, _os_reason(exc)) from exc
    return target


def check_output(
    path: str | os.PathLike[str],
    channels: int,
    info: ImageInfo | None = None,
    *,
    bit_depth: int | None = None,
) -> tuple[str, int]:
    """Check that an image of ``channels`` channels can be written to ``path``; return its format
    and bit depth.

    Call it before a long computation so that a bad output name fails at once.

    Raises
    ------
    ImageWriteError
        For an unknown extension, a bit depth or channel count the format cannot store
        (any format: more than 16 channels), or an alpha plane in ``info`` that the format
        cannot hold (JPEG, BMP).
    """
    target = Path(path)
    fmt = _EXTENSIONS.get(target.suffix.lower())
    if fmt is None:
        supported = ", ".join(sorted(_EXTENSIONS))
        found = f"unknown extension '{target.suffix}'" if target.suffix else "no extension"
        raise ImageWriteError(target, f"{found}; supported extensions are {supported}")
    depth = _output_depth(target, fmt, bit_depth, info)
    if channels > _MAX_CHANNELS:
        raise ImageWriteError(
            target, f"an image has at most {_MAX_CHANNELS} channels, not {channels}"
        )
    if fmt in ("png", "jpeg", "bmp") and channels not in (1, 3):
        raise ImageWriteError(
            target,
            f"{fmt.upper()} holds 1 (gray) or 3 (RGB) colour channels, not {channels}; "
            "write .tiff or .npy instead",
        )
    if info is not None and info.alpha is not None and fmt not in _ALPHA_FORMATS:
        raise ImageWriteError(
            target,
            f"{fmt.upper()} cannot hold the alpha (transparency) plane of '{info.path}', "
            "which would be lost; write .png or .tiff to keep it",
        )
    return fmt, depth


def _output_depth(target: Path, fmt: str, requested: int | None, info: ImageInfo | None) -> int:
    """Choose the bit depth to write; see `write_image`."""
    allowed = _DEPTHS[fmt]
    if requested is not None:
        if requested not in allowed:
            choices = " or ".join(str(d) for d in allowed)
            raise ImageWriteError(
                target, f"{fmt.upper()} cannot store {requested}-bit data (use {choices})"
            )
        return requested
    if fmt == "npy":  # an array comes back as it was read if uint8/uint16, else float32
        same = info is not None and info.format == "npy" and info.dtype in ("uint8", "uint16")
        return info.bit_depth if same and info is not None else 32
    if info is not None and info.bit_depth in allowed:
        return info.bit_depth
    return 8


def _quantise(chw: np.ndarray, depth: int, value_range: tuple[float, float] | None) -> np.ndarray:
    """Clip to [0, 1] and convert to H×W×C of the output depth (uint8, uint16, float32)."""
    unit = np.clip(chw.astype(np.float64), 0.0, 1.0)
    if depth == 32:
        if value_range is not None:
            lo, hi = value_range
            # not lo + p (hi - lo): hi - lo rounds, and 0 and 1 must give lo and hi exactly
            unit = (1.0 - unit) * lo + unit * hi
        out = unit.astype(np.float32)
    else:
        dtype = np.uint8 if depth == 8 else np.uint16
        out = np.rint(unit * np.iinfo(dtype).max).astype(dtype)
    return np.ascontiguousarray(np.moveaxis(out, 0, -1))


def _convert_alpha(alpha: np.ndarray | None, depth: int) -> np.ndarray | None:
    """Return an H×W alpha plane in the output's dtype; unchanged if it already matches."""
    if alpha is None:
        return None
    target = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: np.dtype(np.float32)}[depth]
    if alpha.dtype == target or (depth == 32 and alpha.dtype.kind == "f"):
        return alpha.astype(target)  # float alpha keeps its values (rounded to float32)
    if alpha.dtype.kind == "b":
        unit = alpha.astype(np.float64)
    elif alpha.dtype.kind in "ui":
        unit = alpha.astype(np.float64) / np.iinfo(alpha.dtype).max
    else:
        unit = alpha.astype(np.float64)
    unit = np.clip(unit, 0.0, 1.0)
    if depth == 32:
        return unit.astype(np.float32)
    return np.rint(unit * np.iinfo(target).max).astype(target)


def _encode(
    fmt: str, hwc: np.ndarray, alpha: np.ndarray | None, layout: str | None = None
) -> bytes:
    """Encode H×W×C samples (already of the output dtype) plus optional alpha into bytes."""
    colour_channels = hwc.shape[-1]
    if alpha is not None:
        hwc = np.concatenate([hwc, alpha[..., np.newaxis]], axis=-1)
    buffer = io.BytesIO()
    if fmt == "npy":
        np.save(buffer, _array_layout(hwc, layout), allow_pickle=False)
    elif fmt == "tiff":
        _write_tiff(buffer, hwc, colour_channels, has_alpha=alpha is not None)
    elif fmt == "png" and hwc.dtype == np.uint16:
        buffer.write(_encode_png16(hwc))
    else:
        image = Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc)
        if fmt == "jpeg":
            image.save(buffer, format="JPEG", quality=_JPEG_QUALITY, subsampling=0)
        else:
            image.save(buffer, format=fmt.upper())
    return buffer.getvalue()


def _array_layout(hwc: np.ndarray, layout: str | None) -> np.ndarray:
    """Arrange H×W×C samples in an array layout of `ImageInfo.layout` (e.g. ``"1CHW"``).

    Without a layout, or for ``"HW"`` with more than one channel: H×W for one channel,
    else H×W×C.
    """
    axes = (layout or "").lstrip("1")
    leading = (1,) * (len(layout or "") - len(axes))
    if axes == "CHW":
        arr = np.moveaxis(hwc, -1, 0)
    elif axes == "HWC" or hwc.shape[-1] > 1:
        arr = hwc
    else:
        arr = hwc[..., 0]
    return np.ascontiguousarray(arr).reshape(leading + arr.shape)


def _write_tiff(buffer: io.BytesIO, hwc: np.ndarray, colour_channels: int, has_alpha: bool) -> None:
    """Write H×W×C samples as a zlib-compressed TIFF (RGB or gray, alpha as extra sample)."""
    total = hwc.shape[-1]
    photometric = "rgb" if colour_channels == 3 else "minisblack"
    if total == 1:
        tifffile.imwrite(buffer, hwc[..., 0], photometric=photometric, compression="zlib")
        return
    extra = total - (3 if photometric == "rgb" else 1)
    extrasamples = ["unspecified"] * extra
    if has_alpha:
        extrasamples[-1] = "unassalpha"
    tifffile.imwrite(
        buffer,
        hwc,
        photometric=photometric,
        planarconfig="contig",
        extrasamples=extrasamples or None,
        compression="zlib",
    )


def _encode_png16(hwc: np.ndarray) -> bytes:
    """Encode H×W×C ``uint16`` (C = 1 to 4: gray, gray+alpha, RGB, RGBA) as a PNG.

    Pillow cannot write 16-bit colour PNGs, and PNG is simple: an IHDR header chunk,
    zlib-compressed IDAT chunks holding the rows (each prefixed by its filter type) as
    big-endian samples, and an IEND chunk; every chunk carries a CRC-32. Rows use the Up
    filter (the byte-wise difference to the row above), which is vectorised and helps
    compression of smooth images.
    """
    height, width, channels = hwc.shape
    samples = hwc.astype(">u2").view(np.uint8).reshape(height, width * channels * 2)
    rows = np.empty((height, samples.shape[1] + 1), dtype=np.uint8)
    rows[:, 0] = 2  # Up
    rows[:, 1:] = samples
    rows[1:, 1:] -= samples[:-1]  # uint8 arithmetic wraps modulo 256, as PNG wants
    header = struct.pack(">IIBBBBB", width, height, 16, _PNG_COLOUR_TYPES[channels], 0, 0, 0)
    compressed = zlib.compress(rows.tobytes(), 6)
    parts = [_PNG_SIGNATURE, _png_chunk(b"IHDR", header)]
    for start in range(0, len(compressed), _PNG_IDAT_SIZE):
        parts.append(_png_chunk(b"IDAT", compressed[start : start + _PNG_IDAT_SIZE]))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def replace_atomically(target: Path, payload: bytes, overwrite: bool) -> None:
    """Write ``payload`` to a temporary file beside ``target``, then rename it onto it.

    The temporary file gets the umask's permissions (an overwritten file keeps its own) and is
    flushed to disk before the rename, so a reader never sees a partial file.
    """
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            if not overwrite:  # it appeared while we were writing
                raise _exists_error(target)
            with contextlib.suppress(OSError):  # keep the replaced file's permissions
                os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _exists_error(target: Path) -> FileExistsError:
    return FileExistsError(f"'{target}' already exists (pass overwrite=True to replace it)")


# --------------------------------------------------------------------------------------
# numpy <-> torch
# --------------------------------------------------------------------------------------


def image_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """Turn C×H×W float pixels into a 1×C×H×W float32 tensor for a network.

    Parameters
    ----------
    pixels : numpy.ndarray
        C×H×W (or H×W) floating-point image, normally from `read_image`.

    Returns
    -------
    torch.Tensor
        A new 1×C×H×W ``float32`` CPU tensor; it shares no memory with ``pixels``.

    Raises
    ------
    ValueError
        If ``pixels`` is not a 2-D or 3-D floating-point array.
    """
    chw = _as_chw(pixels, "pixels")
    return torch.from_numpy(np.array(chw, dtype=np.float32, order="C", copy=True)).unsqueeze(0)


def tensor_to_image(t: torch.Tensor) -> np.ndarray:
    """Turn a network output back into C×H×W float32 pixels in [0, 1].

    Parameters
    ----------
    t : torch.Tensor
        1×C×H×W or C×H×W (or H×W) tensor on any device, of any floating dtype.

    Returns
    -------
    numpy.ndarray
        A new C×H×W ``float32`` array, detached from autograd, clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``t`` has a batch of more than one image or not 2 to 4 dimensions.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(t).__name__}")
    x = t.detach()
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"expected a batch of one image, got shape {tuple(x.shape)}")
        x = x[0]
    elif x.ndim == 2:
        x = x.unsqueeze(0)
    elif x.ndim != 3:
        raise ValueError(f"expected a 1×C×H×W or C×H×W tensor, got shape {tuple(x.shape)}")
    return x.float().clamp(0.0, 1.0).cpu().contiguous().numpy()


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _as_chw(pixels: np.ndarray, what: str) -> np.ndarray:
    """Check that ``pixels`` is a floating C×H×W (or H×W) array; return it as C×H×W."""
    arr = np.asarray(pixels)
    if arr.dtype.kind != "f":
        raise ValueError(f"{what} must be floating point in [0, 1], got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3 or 0 in arr.shape:
        raise ValueError(f"{what} must be a non-empty C×H×W array, got shape {arr.shape}")
    return arr


def _os_reason(exc: OSError) -> str:
    """Short lower-case reason for an OS error, e.g. ``permission denied``."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _short_cause(exc: BaseException) -> str:
    """One short line describing why a decoder failed."""
    if isinstance(exc, UnidentifiedImageError):
        return "unrecognised format"
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
