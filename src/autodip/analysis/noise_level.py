"""Blind estimation of the level of additive white Gaussian noise in an image.

Two estimators, chosen by `estimate_sigma`'s ``method``:

* ``"pca"`` (the default): the eigenvalues of the covariance of the image's 7×7 patches (all
  channels of a patch together). A patch of white Gaussian noise has covariance σ²·I, so every
  direction the clean image leaves empty holds an eigenvalue σ²; the image's structure adds a
  few large ones. The noise's are the largest tail of the sorted eigenvalues whose mean equals
  its median, and σ̂² is that mean (Chen, Zhu and Heng [3]_). Texture occupies few
  directions, so it hardly moves the estimate. Clipping to [0, 1] puts it under σ (−2 % at
  σ = 25, −9 % at σ = 50 on the crops of ``benchmarks/results/sigma_estimator.md``) because
  clipping removes that much of the noise: against the noise actually in the image, the RMS of
  noisy − clean, it is within ±1.6 % for σ = 15–75 there on average (single crops within
  ±2.6 % from σ = 25; Baboon's fur +6.5 % at σ = 15). That is the residual a perfect
  restoration leaves, the discrepancy guard's reference, so it has no clip correction.
* ``"wavelet"``: Donoho's robust median rule on the finest diagonal (HH) wavelet sub-band of the
  orthonormal Haar transform, σ̂ = median(|HH|) / Φ⁻¹(3/4), with Φ⁻¹(3/4) ≈ 0.6745 the third
  quartile of the standard normal distribution. For white Gaussian noise the HH coefficients of
  the noise are i.i.d. N(0, σ²), so the median absolute value of pure noise is σ·Φ⁻¹(3/4);
  edges and texture leave large HH coefficients the median partly ignores — partly: on textured
  images it reads high (mean error 7.0 % at σ = 15 on the twelve 256² development crops, against
  2.3 % for ``"pca"``, ``benchmarks/results/guard-w32.md``; +34 % against +9 % at σ = 5 on the
  crops of ``benchmarks/results/sigma_estimator.md``).

References
----------
.. [1] D. L. Donoho and I. M. Johnstone, "Ideal spatial adaptation by wavelet
   shrinkage", *Biometrika* 81(3), 425–455, 1994 (the MAD/0.6745 noise estimate).
.. [2] D. L. Donoho, "De-noising by soft-thresholding", *IEEE Trans. Inf. Theory*
   41(3), 613–627, 1995.
.. [3] G. Chen, F. Zhu and P. A. Heng, "An efficient statistical method for image noise
   level estimation", *ICCV* 2015 (the eigenvalue tail whose mean equals its median).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from autodip.core.validation import check_float_array

__all__ = ["METHODS", "estimate_sigma"]

#: The estimators `estimate_sigma` knows; the first is the default.
METHODS = ("pca", "wavelet")
#: Side of the PCA estimate's patches.
_PCA_PATCH = 7
#: Most patches the PCA estimate reads (beyond it, a regular sub-grid of patch positions): its
#: cost and memory stay bounded on large images.
_PCA_MAX_PATCHES = 65536
#: Fewest patches per patch dimension for the PCA estimate; with fewer (a tiny image, or few
#: fully known patches) the noise's eigenvalues spread so far (by about ±2/√ of this ratio) that
#: the tail rule reads low (−6 % on a flat 48² colour image, 12 patches per dimension; −2 % at
#: 64², 23), and the wavelet rule is used.
_PCA_MIN_PATCHES_PER_DIMENSION = 20
#: The last few PCA estimates, by a digest of the pixels (see `_fingerprint`).
_PCA_CACHE: OrderedDict[bytes, float | None] = OrderedDict()
_PCA_CACHE_SIZE = 8

#: Φ⁻¹(3/4): the median of |Z| for Z ~ N(0, 1) (often rounded to 0.6745).
_MAD_TO_SIGMA = 0.6744897501960817
#: Most channels a C×H×W image may have (as in `autodip.io.read`); more suggests H×W×C.
_MAX_CHANNELS = 16
#: Clip correction: keep 2×2 blocks whose mean is more than this many σ̂ from 0 and 1
#: (chosen on CBSD68 images 101085–109053, none of which is in the benchmark).
_CLIP_MARGIN = 1.0
#: Clip correction: fewest blocks to estimate from; with fewer the last estimate stands.
_CLIP_MIN_BLOCKS = 64
#: Clip correction: most fixed-point iterations, and the relative change that stops them.
_CLIP_MAX_ITERATIONS = 10
_CLIP_TOLERANCE = 1e-3


def estimate_sigma(
    image: np.ndarray,
    *,
    method: str = "pca",
    clip_correction: bool = False,
    known: np.ndarray | None = None,
) -> float:
    """Estimate the standard deviation of additive white Gaussian noise in an image.

    ``method="pca"`` (default): the patch-covariance eigenvalue rule of Chen, Zhu and Heng [3]_
    on 7×7 patches of all channels together (see the module; falls back to the wavelet rule on
    images too small for it). ``method="wavelet"``: Donoho's rule [1]_, ``median(|HH|) /
    0.6745``, where ``HH`` are the finest-scale diagonal detail coefficients of the orthonormal
    Haar (db1) transform, i.e. ``(a - b - c + d) / 2`` for each non-overlapping 2×2 block
    ``[[a, b], [c, d]]``; the Notes below are about this rule.

    Parameters
    ----------
    image : numpy.ndarray
        Floating-point pixels in [0, 1] (autodip's convention), either H×W or C×H×W
        with 1 ≤ C ≤ 16, at least 2×2, all values finite. Values outside [0, 1] (an
        unclipped noisy image) are accepted. An odd last row or column is ignored.
    method : str, optional
        ``"pca"`` or ``"wavelet"`` (:data:`METHODS`).
    clip_correction : bool, optional
        Wavelet rule only. Reduce the downward bias from clipping to [0, 1] by estimating
        only from 2×2 blocks whose mean lies more than σ̂ away from 0 and from 1 (see Notes). Off by
        default: it helps for σ ≳ 35 or images with large black or white areas, and
        otherwise leaves the texture bias uncompensated.
    known : numpy.ndarray, optional
        H×W mask of the measured pixels (non-zero = known, e.g. an inpainting mask): only the
        patches (2×2 blocks for the wavelet rule) whose pixels are all known are used, so that
        holes and their borders do not read as noise.

    Returns
    -------
    float
        The estimated noise standard deviation on the 0–255 scale (the scale of
        `autodip.physics.noise.add_gaussian_noise`). For C > 1 it is the mean of the
        per-channel estimates, i.e. the estimate for noise of the same σ in every
        channel.

    Raises
    ------
    ValueError
        If ``image`` is not a floating-point array, is not 2-D or 3-D, has more than
        16 channels (probably H×W×C: pass C×H×W), is smaller than 2×2 or contains NaN
        or infinity; for an unknown ``method``, or ``clip_correction`` with ``"pca"``.

    Notes
    -----
    The plain estimate is biased in two opposite directions, by amounts that depend on
    the image (``benchmarks/results/sigma_estimator.md`` measures both on six images):

    * Texture and edges raise it: they add signal to the HH band, and where they
      cover a large part of the image (e.g. Baboon's fur) the median moves up. The
      relative error is largest at small σ (on average +34 % at σ = 5 and +12 % at
      σ = 10 on the benchmark images; a clean image alone gives σ̂ ≈ 1.5–5).
    * Clipping to [0, 1] lowers it: noise is censored in dark and bright regions, so
      there the noisy pixels vary less than σ. The error grows with σ and with the
      fraction of the image near black or white (on average −9 % at σ = 50 and
      −17 % at σ = 75 on the benchmark images).

    Around σ = 25 the two often cancel. ``clip_correction=True`` removes most of the
    clipping bias. For white Gaussian noise the Haar LL and HH coefficients of a block
    are independent (an orthonormal transform of i.i.d. Gaussians), so choosing blocks
    by their mean ``(a + b + c + d) / 4`` does not bias their HH noise; blocks whose
    mean is more than σ̂ from 0 and 1 are rarely clipped. σ̂ sets the threshold, so the
    estimate is iterated to a fixed point from the plain one (at most 10 steps); a
    channel with fewer than 64 such blocks keeps its last estimate. The margin of one
    σ̂ was chosen on CBSD68 images outside the benchmark set. What is left is the
    texture bias, which the clipping bias no longer offsets: on the benchmark images
    the mean error is within ±2 % for σ = 35–75 but +4 % at σ = 25 (plain: −0.6 %).

    On a flat mid-grey image with σ ≲ 50 (so that clipping is rare) there is no bias
    and the estimate has a relative
    standard error of about ``1.17 / sqrt(n)`` for ``n`` HH coefficients (that of a
    sample median of ``|N(0, σ²)|``), e.g. ≈ 1 % for one 256×256 channel.

    Pixels are not quantised here; an image stored in 8 bits adds quantisation noise
    of variance 1/12 (on the 0–255 scale), which is negligible except at σ ≲ 1.

    References
    ----------
    .. [1] D. L. Donoho and I. M. Johnstone, "Ideal spatial adaptation by wavelet
       shrinkage", *Biometrika* 81(3), 425–455, 1994.

    Examples
    --------
    >>> from autodip.physics.noise import add_gaussian_noise
    >>> flat = np.full((1, 128, 128), 0.5, dtype=np.float32)
    >>> noisy = add_gaussian_noise(flat, 25, seed=0)
    >>> bool(abs(estimate_sigma(noisy) - 25) < 1.5)
    True
    >>> bool(abs(estimate_sigma(noisy, method="wavelet") - 25) < 1.5)
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    planes = _validated_planes(image)
    if method == "pca":
        if clip_correction:
            raise ValueError("clip_correction is for method='wavelet'")
        if known is not None and known.shape != planes.shape[1:]:
            raise ValueError(
                f"the known-pixel mask is {known.shape}, the image planes {planes.shape[1:]}"
            )
        key = _fingerprint(planes, known)
        if key not in _PCA_CACHE:
            _PCA_CACHE[key] = _pca_sigma(planes, known)
            while len(_PCA_CACHE) > _PCA_CACHE_SIZE:
                _PCA_CACHE.popitem(last=False)
        sigma = _PCA_CACHE[key]
        if sigma is not None:
            return sigma * 255.0
    return _wavelet_sigma(planes, clip_correction, known)


def _fingerprint(planes: np.ndarray, known: np.ndarray | None) -> bytes:
    """A digest of the pixels (and mask): one run asks σ̂ of the same measurement several times
    (CIFS's λ, the fit guard), and the PCA estimate is worth computing once.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str((planes.shape, planes.dtype.str)).encode())
    digest.update(np.ascontiguousarray(planes).tobytes())
    if known is not None:
        digest.update(np.ascontiguousarray(np.asarray(known) != 0).tobytes())
    return digest.digest()


def _wavelet_sigma(planes: np.ndarray, clip_correction: bool, known: np.ndarray | None) -> float:
    """Donoho's rule per channel, averaged, on the 0–255 scale."""
    blocks = _known_blocks(known, planes.shape[1:]) if known is not None else None
    estimates = []
    for plane in planes:
        hh, means = _haar_hh(plane), _block_means(plane)
        if blocks is not None:
            hh, means = hh[blocks], means[blocks]
        if hh.size == 0:
            raise ValueError("no complete 2×2 block of known pixels to estimate the noise from")
        sigma = _mad_sigma(hh)
        if clip_correction:
            sigma = _clip_corrected(sigma, hh, means)
        estimates.append(sigma)
    return float(np.mean(estimates) * 255.0)


def _pca_sigma(planes: np.ndarray, known: np.ndarray | None) -> float | None:
    """Chen, Zhu and Heng's estimate on ``planes`` (0–1 scale), or ``None`` with too few patches.

    Each patch is the ``C × 7 × 7`` values at one position (on a regular sub-grid of positions
    when there are more than :data:`_PCA_MAX_PATCHES`, and only fully known ones); of the
    eigenvalues ``λ_1 ≥ … ≥ λ_M`` of their covariance, the first tail ``λ_i … λ_M`` whose mean
    is no more than its median (as many values above the mean as below) is taken as the noise's,
    and σ̂² is its mean.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ramp = np.linspace(0, 1, 96)[None, :, None] * np.ones((3, 96, 96))
    >>> round(255 * _pca_sigma(ramp + rng.normal(0, 0.05, ramp.shape), None) / 12.75, 1)
    1.0
    >>> _pca_sigma(np.zeros((3, 8, 8)), None) is None  # 4 patches for 147 dimensions
    True
    """
    channels, height, width = planes.shape
    side = _PCA_PATCH
    if height < side or width < side:
        return None
    positions = (height - side + 1) * (width - side + 1)
    stride = max(1, int(np.ceil(np.sqrt(positions / _PCA_MAX_PATCHES))))
    windows = [sliding_window_view(plane, (side, side))[::stride, ::stride] for plane in planes]
    patches = np.concatenate([w.reshape(-1, side * side) for w in windows], axis=1)
    if known is not None:
        mask = sliding_window_view(np.asarray(known) != 0, (side, side))[::stride, ::stride]
        patches = patches[mask.all(axis=(-2, -1)).reshape(-1)]
    dimensions = channels * side * side
    if len(patches) < _PCA_MIN_PATCHES_PER_DIMENSION * dimensions:
        return None
    columns = np.ascontiguousarray(patches.T, dtype=np.float64)  # one row per dimension: fast
    columns -= columns.mean(axis=1, keepdims=True)
    covariance = columns @ columns.T / (columns.shape[1] - 1)
    eigenvalues = np.linalg.eigvalsh(covariance)[::-1]  # largest first
    for start in range(dimensions):
        tail = eigenvalues[start:]
        mean = tail.mean()
        if np.count_nonzero(tail > mean) >= np.count_nonzero(tail < mean):
            return float(np.sqrt(max(mean, 0.0)))
    return float(np.sqrt(max(eigenvalues[-1], 0.0)))  # not reached: one value is its own median


def _mad_sigma(coefficients: np.ndarray) -> float:
    """Donoho's robust σ estimate ``median(|w|) / Φ⁻¹(3/4)`` of zero-mean coefficients."""
    return float(np.median(np.abs(coefficients)) / _MAD_TO_SIGMA)


def _clip_corrected(sigma: float, hh: np.ndarray, means: np.ndarray) -> float:
    """Iterate the MAD estimate over blocks whose mean is more than σ̂ from 0 and 1."""
    for _ in range(_CLIP_MAX_ITERATIONS):
        margin = _CLIP_MARGIN * sigma
        keep = (means > margin) & (means < 1.0 - margin)
        if np.count_nonzero(keep) < _CLIP_MIN_BLOCKS:
            break
        previous, sigma = sigma, _mad_sigma(hh[keep])
        if abs(sigma - previous) <= _CLIP_TOLERANCE * previous:
            break
    return sigma


def _known_blocks(known: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Which 2×2 blocks of an H×W plane have four known pixels (``known`` non-zero)."""
    if known.shape != tuple(shape):
        raise ValueError(f"the known-pixel mask is {known.shape}, the image planes {shape}")
    h, w = shape[0] // 2 * 2, shape[1] // 2 * 2
    mask = np.asarray(known[:h, :w]) != 0
    return mask.reshape(h // 2, 2, w // 2, 2).all(axis=(1, 3))


def _block_means(plane: np.ndarray) -> np.ndarray:
    """Means of the non-overlapping 2×2 blocks of an H×W plane (the Haar LL band / 2)."""
    h, w = plane.shape[0] // 2 * 2, plane.shape[1] // 2 * 2
    x = plane[:h, :w].astype(np.float64, copy=False)
    return x.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _haar_hh(plane: np.ndarray) -> np.ndarray:
    """Finest-scale diagonal Haar coefficients ``(a - b - c + d) / 2`` of an H×W plane.

    Each non-overlapping 2×2 block gives one coefficient; an odd last row or column is
    dropped.
    """
    h, w = plane.shape[0] // 2 * 2, plane.shape[1] // 2 * 2
    x = plane[:h, :w].astype(np.float64, copy=False)
    a, b = x[0::2, 0::2], x[0::2, 1::2]
    c, d = x[1::2, 0::2], x[1::2, 1::2]
    return (a - b - c + d) / 2.0


def _validated_planes(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a C×H×W array after checking it, or raise ValueError."""
    check_float_array(image)
    if image.ndim == 2:
        image = image[np.newaxis]
    elif image.ndim != 3:
        raise ValueError(f"image must be H×W or C×H×W, got shape {image.shape}")
    channels, height, width = image.shape
    if not 1 <= channels <= _MAX_CHANNELS:
        raise ValueError(
            f"image must be C×H×W with 1 ≤ C ≤ {_MAX_CHANNELS}, got shape {image.shape} "
            "(channels-last H×W×C arrays must be transposed)"
        )
    if height < 2 or width < 2:
        raise ValueError(f"image must be at least 2×2 pixels, got {height}×{width}")
    if not np.all(np.isfinite(image)):
        raise ValueError("image contains NaN or infinity")
    return image
