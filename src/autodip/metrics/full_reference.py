r"""Image quality metrics with an explicit data range.

``psnr(x, ref) = 10 log10(R² / MSE(x, ref))`` with ``R`` the data range (1 for images in [0, 1]);
``ssim`` is the structural similarity of Wang et al. (2004) with a 7×7 uniform window, as
:func:`skimage.metrics.structural_similarity` computes it, averaged over channels.
"""

from __future__ import annotations

import numpy as np
import torch

from autodip.core.validation import as_chw

ArrayLike = np.ndarray | torch.Tensor


def _as_chw(image: ArrayLike) -> np.ndarray:
    return as_chw(image, dtype=np.float64, single_batch=True)


def psnr(image: ArrayLike, reference: ArrayLike, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB; ``inf`` for identical images.

    Examples
    --------
    >>> round(psnr(np.full((1, 4, 4), 0.1), np.zeros((1, 4, 4))), 6)
    20.0
    """
    x, ref = _as_chw(image), _as_chw(reference)
    if x.shape != ref.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {ref.shape}")
    mse = float(np.mean((x - ref) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def ssim(image: ArrayLike, reference: ArrayLike, data_range: float = 1.0) -> float:
    """Mean structural similarity over channels (scikit-image's default 7×7 window)."""
    from skimage.metrics import structural_similarity

    x, ref = _as_chw(image), _as_chw(reference)
    if x.shape != ref.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {ref.shape}")
    win = min(7, *x.shape[1:])
    win -= 1 - win % 2  # odd window no larger than the image
    return float(structural_similarity(x, ref, data_range=data_range, channel_axis=0, win_size=win))


def luma(image: ArrayLike) -> np.ndarray:
    r"""The ITU-R BT.601 luma ``Y`` of an RGB image in [0, 1], as MATLAB's ``rgb2ycbcr`` gives it.

    .. math::

        Y = (16 + 65.481\,R + 128.553\,G + 24.966\,B) / 255,

    the convention of super-resolution papers (Set5/Set14 tables). A one-channel image is returned
    as it is.

    Examples
    --------
    >>> float(luma(np.ones((3, 1, 1)))[0, 0, 0]) == 235 / 255
    True
    """
    x = _as_chw(image)
    if x.shape[0] == 1:
        return x
    if x.shape[0] != 3:
        raise ValueError(f"luma needs 1 or 3 channels, got {x.shape[0]}")
    weights = np.array([65.481, 128.553, 24.966]).reshape(3, 1, 1)
    return ((16.0 + (weights * x).sum(axis=0, keepdims=True)) / 255.0).astype(np.float64)


def psnr_y(image: ArrayLike, reference: ArrayLike, border: int = 0) -> float:
    """PSNR of the luma channel with ``border`` pixels shaved on each side (SR convention).

    Examples
    --------
    >>> ref = np.zeros((3, 8, 8)); img = ref.copy(); img[:, 0, :] = 1.0
    >>> psnr_y(img, ref, border=1)
    inf
    """
    y, ref = luma(image), luma(reference)
    if border < 0 or 2 * border >= min(y.shape[-2:]):
        raise ValueError(f"border {border} leaves nothing of a {y.shape[-2]}×{y.shape[-1]} image")
    if border:
        y = y[:, border:-border, border:-border]
        ref = ref[:, border:-border, border:-border]
    return psnr(y, ref)
