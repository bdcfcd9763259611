"""Read an image file as float32 C×H×W pixels in [0, 1]: `read_image` and its `ImageInfo`.

Reading looks at the file's content, not its extension: ``.npy`` arrays are decoded by numpy,
TIFF by tifffile (Pillow for the layouts it does not decode), 16-bit PNG with colour or alpha by
`autodip.io.png16`, and everything else by Pillow. Nothing is dropped without a word: an
animation must be given a frame to read, and damaged (truncated or corrupt) data is refused
unless a partial image is asked for.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import sys
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np
import tifffile
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# The exceptions are defined in autodip.errors; they stay importable from the module raising them.
from autodip.errors import ImageDamagedError as ImageDamagedError
from autodip.errors import ImageFramesError as ImageFramesError
from autodip.errors import ImageReadError as ImageReadError
from autodip.io.atomic import _os_reason
from autodip.io.decoded import (
    _check_frame,
    _check_pixel_count,
    _DamagedError,
    _Decoded,
    _DecodeError,
    _FramesError,
)
from autodip.io.png16 import (
    _PNG16_CHANNELS,
    _PNG_SIGNATURE,
    _check_png_data,
    _png_header_is,
    _read_png16,
)

__all__ = ["ImageDamagedError", "ImageFramesError", "ImageInfo", "ImageReadError", "read_image"]

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

_NPY_MAGIC = b"\x93NUMPY"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


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


def _short_cause(exc: BaseException) -> str:
    """One short line describing why a decoder failed."""
    if isinstance(exc, UnidentifiedImageError):
        return "unrecognised format"
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
