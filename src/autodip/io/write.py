"""Write float32 C×H×W pixels in [0, 1] to an image file: `write_image` and `check_output`.

The extension picks the format; the bit depth, alpha plane, value range and array layout of the
`ImageInfo` the input was read with are mirrored where the format can hold them. The file is
replaced atomically (`autodip.io.atomic`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

# The exception is defined in autodip.errors; it stays importable from the module raising it.
from autodip.errors import ImageWriteError as ImageWriteError
from autodip.io.atomic import _exists_error, _os_reason, replace_atomically
from autodip.io.convert import _as_chw
from autodip.io.png16 import _encode_png16
from autodip.io.read import _MAX_CHANNELS, ImageInfo

__all__ = ["IMAGE_SUFFIXES", "ImageWriteError", "check_output", "write_image"]

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
#: The file extensions autodip reads and writes (lower case): what a folder of inputs is
#: filtered by.
IMAGE_SUFFIXES = frozenset(_EXTENSIONS)
#: Bit depths each output format can store; 32 means float32.
_DEPTHS = {"png": (8, 16), "jpeg": (8,), "bmp": (8,), "tiff": (8, 16, 32), "npy": (8, 16, 32)}
#: Output formats that can carry an alpha plane.
_ALPHA_FORMATS = frozenset({"png", "tiff", "npy"})
_JPEG_QUALITY = 95


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
