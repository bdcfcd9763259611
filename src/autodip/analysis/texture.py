r"""Texture features of an image: the input of the width predictor of Liu et al.

Liu et al. ("The Devil is in the Upsampling", Sec. 3.5) describe an image's texture by
three grey-level co-occurrence (GLCM) statistics and its radially averaged power spectrum, and
predict from them the width of a 2-level hourglass (:mod:`autodip.analysis.width_predictor`).
autodip's reading, feature by feature (all computed on the grey image, see :func:`to_gray`):

``glcm_correlation_0``, ``glcm_homogeneity_45``, ``glcm_contrast_0``
    :func:`skimage.feature.graycoprops` of the GLCM at distance 1 and angle 0 (the right
    neighbour) or 45° (the upper-right neighbour), on the grey image quantised to 8 bits
    (256 levels), symmetric and normalised, so that with :math:`p(i, j)` the frequency of the
    level pair :math:`(i, j)`:
    contrast :math:`\sum p(i,j)(i-j)^2` (on the 0–255 scale),
    homogeneity :math:`\sum p(i,j)/(1+(i-j)^2)`, correlation
    :math:`\sum p(i,j)(i-\mu)(j-\mu)/\sigma^2`.
``psd_r75``
    The radius, as a fraction of the Nyquist frequency (0.5 cycles per pixel), of the disc of
    frequencies that holds 75 % of the image's (linear) spectral energy, DC excluded; small for
    smooth images, near 1 for noise-like texture.
``psd_slope``
    The least-squares slope of the azimuthally averaged log power against the log radius, over
    radii from 2/N to 0.5 cycles per pixel; about −2 to −3 for natural images, 0 for white noise.
``psd_high_fraction``
    The fraction of the spectral energy at radii above half the Nyquist frequency
    (0.25 cycles per pixel), i.e. in details of two to four pixels.

The spectrum: the grey image minus its mean, times a separable periodic Hann window (so the
image's borders do not add a spurious cross of energy), is Fourier transformed; the
periodogram :math:`P = |F|^2 / \sum w^2` (white noise of variance :math:`s^2` gives a flat
:math:`P = s^2`) is binned by the integer radius :math:`r = \mathrm{round}(\rho N)`, where
:math:`\rho` is the radial frequency in cycles per pixel and :math:`N = \min(H, W)`, for
:math:`1 \le r \le N/2` (the corners beyond the Nyquist circle are left out). The energy of a bin
is the sum of its :math:`P`; its log power is the mean of :math:`\log P` over the ring.

Labels were made on clean images, but at run time the input is noisy, and noise of σ = 25
multiplies the GLCM contrast of a typical photograph several times. :func:`robust_texture_features`
therefore estimates σ (:func:`autodip.analysis.noise_level.estimate_sigma`) and computes the same
features
after a Gaussian pre-filter of standard deviation ``σ̂ / 25`` pixels (1 px at σ = 25, nothing on a
clean image); the shipped predictor is trained on these features of clean *and* noisy images
(``benchmarks/results/architecture_cv.md`` measures what each step brings).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FEATURE_NAMES",
    "PREFILTER_PX_PER_SIGMA",
    "glcm_features",
    "radial_power_spectrum",
    "robust_texture_features",
    "spectrum_features",
    "texture_features",
    "to_gray",
]

#: The texture features, in the order the width predictor reads them.
FEATURE_NAMES = (
    "glcm_correlation_0",
    "glcm_homogeneity_45",
    "glcm_contrast_0",
    "psd_r75",
    "psd_slope",
    "psd_high_fraction",
)
#: Standard deviation, in pixels per unit of σ̂ (0–255 scale), of the Gaussian pre-filter of
#: :func:`robust_texture_features`: σ̂ = 25 gives a 1-pixel blur.
PREFILTER_PX_PER_SIGMA = 1.0 / 25.0
#: Smallest side accepted: the spectrum needs a few radii to summarise.
_MIN_SIDE = 8
#: ITU-R BT.601 luma weights (those of Pillow's and OpenCV's RGB -> grey conversion).
_LUMA = np.array([0.299, 0.587, 0.114])


def to_gray(image: np.ndarray) -> np.ndarray:
    """The grey image (``H×W`` float64 in [0, 1]) of an ``H×W`` or ``C×H×W`` image in [0, 1].

    One channel is used as it is; three are combined with the BT.601 luma weights
    (0.299, 0.587, 0.114); any other number of channels is averaged.

    Raises
    ------
    ValueError
        If the array is not floating point, not 2-D or 3-D, smaller than 8×8 or not finite.
    """
    if not isinstance(image, np.ndarray) or not np.issubdtype(image.dtype, np.floating):
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be a floating-point array in [0, 1], got {kind}")
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3:
        raise ValueError(f"image must be H×W or C×H×W, got shape {image.shape}")
    if min(image.shape[1:]) < _MIN_SIDE:
        raise ValueError(
            f"texture features need at least {_MIN_SIDE}×{_MIN_SIDE} pixels, "
            f"got {image.shape[1]}×{image.shape[2]}"
        )
    if not np.all(np.isfinite(image)):
        raise ValueError("image contains NaN or infinity")
    planes = image.astype(np.float64, copy=False)
    if planes.shape[0] == 1:
        gray = planes[0]
    elif planes.shape[0] == 3:
        gray = np.tensordot(_LUMA, planes, axes=1)
    else:
        gray = planes.mean(axis=0)
    return np.clip(gray, 0.0, 1.0)


def glcm_features(gray: np.ndarray) -> dict[str, float]:
    """GLCM correlation at 0°, homogeneity at 45° and contrast at 0° of an ``H×W`` grey image.

    Distance 1, the image quantised to 256 levels (``round(255·gray)``), symmetric and
    normalised co-occurrence matrices (:func:`skimage.feature.graycomatrix`). A constant image
    has no defined correlation; it is reported as 1 (every pair is equal).
    """
    from skimage.feature import graycomatrix, graycoprops

    levels = np.round(np.clip(gray, 0.0, 1.0) * 255.0).astype(np.uint8)
    glcm = graycomatrix(
        levels, distances=[1], angles=[0.0, np.pi / 4], levels=256, symmetric=True, normed=True
    )
    correlation = float(graycoprops(glcm, "correlation")[0, 0])
    return {
        # skimage returns 1 for a constant image already; guard other degenerate cases.
        "glcm_correlation_0": correlation if np.isfinite(correlation) else 1.0,
        "glcm_homogeneity_45": float(graycoprops(glcm, "homogeneity")[0, 1]),
        "glcm_contrast_0": float(graycoprops(glcm, "contrast")[0, 0]),
    }


def radial_power_spectrum(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The azimuthally averaged power spectrum of an ``H×W`` grey image.

    Returns
    -------
    radius : numpy.ndarray
        Bin centres ``r / N`` in cycles per pixel, ``r = 1 … N // 2``, ``N = min(H, W)``.
    log_power : numpy.ndarray
        Mean of the natural log of the periodogram over each ring (the "1-D PSD").
    energy : numpy.ndarray
        Sum of the (linear) periodogram over each ring.

    Notes
    -----
    The periodogram is ``|FFT(w·(g − mean g))|² / Σw²`` with ``w`` the separable periodic Hann
    window; white noise of variance ``s²`` has ``E[P] = s²`` at every frequency.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> radius, log_power, energy = radial_power_spectrum(rng.random((64, 64)))
    >>> radius.shape, float(radius[-1])
    ((32,), 0.5)
    """
    height, width = gray.shape
    window = np.outer(_hann(height), _hann(width))
    spectrum = np.fft.fft2((gray - gray.mean()) * window)
    power = (spectrum.real**2 + spectrum.imag**2) / np.sum(window**2)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    side = min(height, width)
    ring = np.rint(np.sqrt(fy**2 + fx**2) * side).astype(np.int64)
    keep = (ring >= 1) & (ring <= side // 2)
    index = ring[keep] - 1
    bins = side // 2
    counts = np.bincount(index, minlength=bins)
    energy = np.bincount(index, weights=power[keep], minlength=bins)
    # A floor far below any real power keeps log finite on exactly flat regions.
    tiny = 1e-12 * max(float(power.mean()), 1e-30)
    log_sum = np.bincount(index, weights=np.log(power[keep] + tiny), minlength=bins)
    radius = np.arange(1, bins + 1) / side
    return radius, log_sum / np.maximum(counts, 1), energy


def spectrum_features(gray: np.ndarray) -> dict[str, float]:
    """``psd_r75``, ``psd_slope`` and ``psd_high_fraction`` of an ``H×W`` grey image.

    See the module's description. A constant image (no energy) gives ``psd_r75`` 0,
    ``psd_slope`` 0 and ``psd_high_fraction`` 0.
    """
    radius, log_power, energy = radial_power_spectrum(gray)
    total = float(energy.sum())
    if total <= 0.0:
        return {"psd_r75": 0.0, "psd_slope": 0.0, "psd_high_fraction": 0.0}
    cumulative = np.concatenate([[0.0], np.cumsum(energy) / total])
    edges = np.concatenate([[0.0], radius])
    # First radius where the cumulative energy reaches 75 %, interpolated inside its bin.
    at = int(np.searchsorted(cumulative, 0.75))
    at = min(max(at, 1), len(edges) - 1)
    lo, hi = cumulative[at - 1], cumulative[at]
    frac = 0.0 if hi <= lo else (0.75 - lo) / (hi - lo)
    r75 = edges[at - 1] + frac * (edges[at] - edges[at - 1])
    fit = radius >= 2.0 / min(gray.shape)
    slope = float(np.polyfit(np.log(radius[fit]), log_power[fit], 1)[0]) if fit.sum() > 1 else 0.0
    return {
        "psd_r75": float(r75 / 0.5),
        "psd_slope": slope,
        "psd_high_fraction": float(energy[radius > 0.25].sum() / total),
    }


def texture_features(image: np.ndarray) -> dict[str, float]:
    """The texture features of Liu et al. (:data:`FEATURE_NAMES`) of an image, as it is.

    Parameters
    ----------
    image : numpy.ndarray
        ``H×W`` or ``C×H×W`` floating-point pixels in [0, 1], at least 8×8.

    Returns
    -------
    dict of str to float
        GLCM correlation (0°), homogeneity (45°), contrast (0°, 0–255 scale) and the power
        spectrum's ``psd_r75``, ``psd_slope`` and ``psd_high_fraction``; deterministic.

    Examples
    --------
    >>> flat = np.full((1, 32, 32), 0.5, dtype=np.float32)
    >>> texture_features(flat)["glcm_contrast_0"]
    0.0
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.random((1, 64, 64)).astype(np.float32)
    >>> texture_features(noise)["psd_r75"] > 0.7
    True
    """
    gray = to_gray(image)
    return {**glcm_features(gray), **spectrum_features(gray)}


def robust_texture_features(image: np.ndarray, sigma: float | None = None) -> dict[str, float]:
    """The texture features after a Gaussian pre-filter scaled by the image's noise level.

    The grey image is blurred with a Gaussian of standard deviation
    ``PREFILTER_PX_PER_SIGMA · σ̂`` pixels (σ̂ = 25 → 1 px) before :func:`texture_features`'
    computation. On a clean image σ̂ is the estimator's texture floor (≈ 1.5–5) and the blur
    is negligible.

    Parameters
    ----------
    image : numpy.ndarray
        ``H×W`` or ``C×H×W`` floating-point pixels in [0, 1], at least 8×8.
    sigma : float, optional
        The noise level on the 0–255 scale; estimated with
        :func:`autodip.analysis.noise_level.estimate_sigma`'s wavelet rule when ``None`` (the
        rule the width predictor's training features were computed with).

    Returns
    -------
    dict of str to float
        The :data:`FEATURE_NAMES` features, plus ``noise_sigma`` (σ̂ used) and
        ``prefilter_px`` (the blur's standard deviation in pixels).

    Examples
    --------
    >>> from autodip.physics.noise import add_gaussian_noise
    >>> ramp = np.tile(np.linspace(0.2, 0.8, 64, dtype=np.float32), (1, 64, 1))
    >>> noisy = add_gaussian_noise(ramp, 25, seed=0)
    >>> raw, robust = texture_features(noisy), robust_texture_features(noisy)
    >>> robust["glcm_contrast_0"] < raw["glcm_contrast_0"] / 4
    True
    """
    from scipy.ndimage import gaussian_filter

    from autodip.analysis.noise_level import estimate_sigma

    gray = to_gray(image)
    if sigma is None:
        sigma = estimate_sigma(np.asarray(image, dtype=np.float32), method="wavelet")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite non-negative number, got {sigma}")
    blur = PREFILTER_PX_PER_SIGMA * float(sigma)
    filtered = gaussian_filter(gray, blur, mode="reflect") if blur > 0 else gray
    return {
        **glcm_features(filtered),
        **spectrum_features(filtered),
        "noise_sigma": float(sigma),
        "prefilter_px": blur,
    }


def _hann(n: int) -> np.ndarray:
    """The periodic Hann window of length ``n`` (``n`` ≥ 2)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)
