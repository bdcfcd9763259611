"""Compressed size of an image, the complexity measure of JPEG-based DIP stopping rules.

`jpeg_size` is the number of bytes of the image encoded as baseline JPEG by OpenCV (bundled
libjpeg-turbo) at a given quality with 4:2:0 chroma subsampling, OpenCV's default. Takagi et al.
[1]_ monitor this size of the DIP output during optimisation as a proxy for the amount of noise
it contains, to stop early without a clean reference (autodip's CIFS stopping criterion).

References
----------
.. [1] T. Takagi, S. Ishizaki, S. Maeda, "JPEG information regularized deep image prior for
   denoising", *Proc. IEEE International Conference on Image Processing (ICIP)*, 2023.
"""

from __future__ import annotations

import operator

import cv2
import numpy as np

from autodip.core.validation import check_float_array

__all__ = ["jpeg_size"]

#: Largest height or width libjpeg-turbo encodes.
_MAX_DIMENSION = 65500


def jpeg_size(image: np.ndarray, quality: int = 95) -> int:
    """Number of bytes of ``image`` encoded as a baseline 4:2:0 JPEG at ``quality``.

    The pixels are quantised to 8 bits as ``round(clip(x, 0, 1) · 255)`` (round half to
    even) and encoded with ``cv2.imencode(".jpg", ...)`` using
    ``IMWRITE_JPEG_QUALITY = quality`` and ``IMWRITE_JPEG_SAMPLING_FACTOR_420``; colour is
    handed to OpenCV in its BGR order, so the luma/chroma split is that of the RGB image.

    Parameters
    ----------
    image : numpy.ndarray
        Floating-point pixels in [0, 1], C×H×W with C = 1 (gray) or 3 (RGB), or H×W
        (gray); all finite, at least 1×1 and at most 65500×65500. Values outside [0, 1]
        are clipped.
    quality : int, optional
        JPEG quality factor, 0–100 (libjpeg's scaling of the standard quantisation
        tables). Default 95.

    Returns
    -------
    int
        The size in bytes of the whole JPEG stream: headers (JFIF, quantisation and
        Huffman tables, ≈ 600 bytes for colour and ≈ 330 for gray) plus the entropy-coded
        scan.

    Raises
    ------
    ValueError
        If ``image`` is not a floating-point array of one of the shapes above, contains
        NaN or infinity, or ``quality`` is not an integer in 0–100.
    RuntimeError
        If OpenCV fails to encode the image.

    Notes
    -----
    Pillow (``Image.save(buf, "JPEG", quality=q, subsampling="4:2:0")``, without
    ``optimize`` or ``progressive``) gives the same byte count, checked with Pillow 12
    (libjpeg-turbo 3.x) and OpenCV 5.0 (libjpeg-turbo 3.1): byte-identical streams for
    colour, and for gray streams that differ only in the sampling factor written in the
    frame header (1×1 by OpenCV, 2×2 by Pillow; both mean no subsampling for one
    component). ``tests/test_compression.py`` pins this. Both default to 4:2:0, so the
    explicit sampling-factor flag does not change OpenCV's output; it guards against a
    change of default.

    Examples
    --------
    >>> flat = np.full((3, 64, 64), 0.5, dtype=np.float32)
    >>> noisy = np.clip(flat + np.random.default_rng(0).normal(0, 0.1, flat.shape), 0, 1)
    >>> jpeg_size(flat) < jpeg_size(noisy)
    True
    """
    pixels = _opencv_pixels(image)
    quality = _validated_quality(quality)
    return len(_encode(pixels, quality))


def _jpeg_bytes(image: np.ndarray, quality: int = 95) -> bytes:
    """The JPEG stream whose length `jpeg_size` returns (for tests and inspection)."""
    return _encode(_opencv_pixels(image), _validated_quality(quality)).tobytes()


def _encode(pixels: np.ndarray, quality: int) -> np.ndarray:
    """Encode H×W or H×W×3 (BGR) uint8 pixels; return OpenCV's 1-D uint8 buffer."""
    params = [
        cv2.IMWRITE_JPEG_QUALITY,
        quality,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    ]
    ok, buffer = cv2.imencode(".jpg", pixels, params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {pixels.shape} image as JPEG")
    return buffer


def _opencv_pixels(image: np.ndarray) -> np.ndarray:
    """Check a float C×H×W / H×W image and return it as contiguous uint8 H×W or H×W×3 BGR."""
    check_float_array(image)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[0] == 3)):
        raise ValueError(f"image must be C×H×W with C = 1 or 3, or H×W, got shape {image.shape}")
    height, width = image.shape[-2:]
    if not (1 <= height <= _MAX_DIMENSION and 1 <= width <= _MAX_DIMENSION):
        raise ValueError(
            f"image height and width must be 1–{_MAX_DIMENSION} for JPEG, got {height}×{width}"
        )
    if not np.all(np.isfinite(image)):
        raise ValueError("image contains NaN or infinity")
    pixels = np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = pixels[::-1].transpose(1, 2, 0)  # RGB C×H×W -> BGR H×W×C
    return np.ascontiguousarray(pixels)


def _validated_quality(quality: int) -> int:
    """Return ``quality`` as an int in 0–100, or raise ValueError."""
    if isinstance(quality, (bool, np.bool_)):
        raise ValueError(f"quality must be an integer in 0–100, got {quality!r}")
    try:
        value = operator.index(quality)
    except TypeError:
        raise ValueError(f"quality must be an integer in 0–100, got {quality!r}") from None
    if not 0 <= value <= 100:
        raise ValueError(f"quality must be an integer in 0–100, got {value}")
    return int(value)
