r"""Classical denoisers for the benchmark tables: TV, non-local means, wavelet shrinkage and BM3D.

Each baseline takes a noisy image ``y`` (float C×H×W in [0, 1]) and the standard deviation ``σ``
of its additive white Gaussian noise on the 0–255 scale (the scale of
`autodip.noise.add_gaussian_noise`), and returns a float32 C×H×W estimate clipped to [0, 1].
Every parameter is a fixed, published function of ``σ``; none was tuned on benchmark images.
Below ``s = σ / 255`` is the noise level on the [0, 1] scale of the pixels.

* ``tv``: Chambolle's ROF solver with weight ``1/λ``, ``λ = 0.7079/s + 0.002686/s²``
  (Getreuer's fit of the optimal λ); see `tv_chambolle`.
* ``nlm``: fast non-local means, 5×5 patches, 13×13 search window, ``h = 0.8 s`` and the noise
  variance subtracted from patch distances (scikit-image's recommendation); see `nlm`.
* ``wavelet``: BayesShrink soft thresholding of the Haar transform, in YCbCr for RGB; see
  `wavelet`.
* ``bm3d``: BM3D with its default profile, CBM3D (opponent colour space) for RGB; see `bm3d`.

`denoise_baseline` applies one of them by name, with the true ``σ`` or, when none is given,
with `autodip.noise_level.estimate_sigma`'s blind estimate, and times the call, so that a
benchmark can report each baseline "with the true σ and with the estimated σ".

Optional dependencies
---------------------
``pip install 'autodip[bench]'`` installs both.

* ``wavelet`` needs PyWavelets (MIT/BSD licence), which scikit-image does not install itself.
* ``bm3d`` needs the ``bm3d`` package (with ``bm4d``) from Tampere University. **Its licence is
  not open source: use is allowed for non-commercial purposes only**, results made public must
  cite the authors, and the software may not be redistributed without Tampere University's
  consent. autodip does not ship it; it is imported only when `bm3d` is called.

Examples
--------
>>> from autodip.noise import add_gaussian_noise
>>> from autodip.metrics import psnr
>>> y, x = np.mgrid[0:48, 0:48] / 48
>>> clean = (0.5 + 0.3 * np.sin(2 * np.pi * (x + y)))[None].astype(np.float32)
>>> noisy = add_gaussian_noise(clean, 25, seed=0)
>>> denoised, sigma, seconds = denoise_baseline("tv", noisy, 25)
>>> bool(psnr(denoised, clean) > psnr(noisy, clean) + 3)
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from difflib import get_close_matches
from numbers import Real
from types import ModuleType

import numpy as np

from autodip.noise_level import estimate_sigma
from autodip.validation import check_float_array

__all__ = [
    "BASELINES",
    "Baseline",
    "OptionalDependencyError",
    "bm3d",
    "denoise_baseline",
    "nlm",
    "tv_chambolle",
    "wavelet",
]

#: A baseline: ``(image, sigma) -> denoised`` with σ on the 0–255 scale.
Baseline = Callable[[np.ndarray, float], np.ndarray]

#: Most channels a C×H×W image may have (as in `autodip.noise_level`); more suggests H×W×C.
_MAX_CHANNELS = 16
#: Smallest height and width accepted: BM3D's 8×8 blocks (and NLM's 5×5 patches) must fit.
_MIN_SIZE = 8

#: Getreuer's fit of the MSE-optimal ROF fidelity λ for Gaussian noise, λ = a/s + b/s² with s
#: the noise std on the [0, 1] scale (IPOL 2012 demo, tvdenoise.c, ``LambdaTune``).
_TV_LAMBDA_A = 0.7079
_TV_LAMBDA_B = 0.002686

#: scikit-image's settings for fast NLM: 5×5 patches and a 13×13 search window (the gallery
#: example "Non-local means denoising for preserving textures") and h = 0.8 σ when σ is given
#: (the Notes of `skimage.restoration.denoise_nl_means`).
_NLM_PATCH_SIZE = 5
_NLM_PATCH_DISTANCE = 6
_NLM_H_PER_SIGMA = 0.8

_BENCH_EXTRA = "pip install 'autodip[bench]'"


class OptionalDependencyError(ModuleNotFoundError):
    """A baseline's optional dependency is not installed; the message says how to install it."""


def tv_chambolle(image: np.ndarray, sigma: float) -> np.ndarray:
    r"""Total-variation (ROF) denoising with Chambolle's projection algorithm.

    Solves, for each channel separately (scikit-image's colour handling),

    .. math::

        \hat u = \arg\min_u \; \mathrm{TV}(u) + \frac{\lambda}{2} \lVert u - y \rVert_2^2,
        \qquad \lambda = \frac{0.7079}{s} + \frac{0.002686}{s^2}, \quad s = \sigma / 255,

    with :func:`skimage.restoration.denoise_tv_chambolle` [1]_, whose ``weight`` is
    :math:`1/\lambda` (default stopping tolerance and at most 200 iterations). The rule for
    :math:`\lambda` is Getreuer's empirical fit of the MSE-optimal fidelity weight for white
    Gaussian noise on images in [0, 1] [2]_ (his demo then refines λ by the discrepancy
    principle; we use the fit alone, one solve per call). At σ = 25 it gives weight ≈ 0.133.
    Getreuer's colour model couples the channels (vectorial TV); here they are independent.

    Parameters
    ----------
    image : numpy.ndarray
        Noisy image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16, at least 8×8.
    sigma : float
        Noise standard deviation on the 0–255 scale, > 0.

    Returns
    -------
    numpy.ndarray
        The denoised image, float32 C×H×W, clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``image`` is not such an array or ``sigma`` is not a finite positive number.

    References
    ----------
    .. [1] A. Chambolle, "An algorithm for total variation minimization and applications",
       *J. Math. Imaging Vis.* 20, 89–97, 2004.
    .. [2] P. Getreuer, "Rudin–Osher–Fatemi total variation denoising using split Bregman",
       *Image Processing On Line* 2, 74–95, 2012, :doi:`10.5201/ipol.2012.g-tvd`.

    Examples
    --------
    >>> flat = np.full((1, 16, 16), 0.5, dtype=np.float32)
    >>> out = tv_chambolle(flat, 25)
    >>> out.dtype, out.shape, bool(np.allclose(out, 0.5))
    (dtype('float32'), (1, 16, 16), True)
    """
    from skimage.restoration import denoise_tv_chambolle

    pixels, s = _check_image(image), _check_sigma(sigma) / 255.0
    weight = 1.0 / (_TV_LAMBDA_A / s + _TV_LAMBDA_B / s**2)
    planes, channel_axis = _channels_last(pixels)
    out = denoise_tv_chambolle(planes, weight=weight, channel_axis=channel_axis)
    return _to_chw(out, pixels.shape)


def nlm(image: np.ndarray, sigma: float) -> np.ndarray:
    r"""Non-local means with the settings scikit-image recommends for its fast mode.

    Each pixel becomes a weighted mean of the pixels in its 13×13 search window,

    .. math::

        \hat u(i) = \frac{\sum_j w_{ij}\, y(j)}{\sum_j w_{ij}}, \qquad
        w_{ij} = \exp\!\Big(-\frac{\max(d^2(P_i, P_j) - 2 s^2,\, 0)}{h^2}\Big),
        \quad h = 0.8\, s, \quad s = \sigma / 255,

    where :math:`d^2` is the mean squared difference of the 5×5 patches around ``i`` and ``j``
    (over all channels, so colour patches are compared jointly) [1]_. This is
    :func:`skimage.restoration.denoise_nl_means` with ``fast_mode=True`` (uniform patch
    weights, Darbon et al.'s integral-image algorithm [2]_) and ``sigma`` given so that the
    noise variance is subtracted from patch distances [3]_. ``h = 0.8 σ`` is the starting point
    its Notes give for that mode; 5×5 patches and ``patch_distance=6`` come from its gallery
    example "Non-local means denoising for preserving textures".

    Parameters
    ----------
    image : numpy.ndarray
        Noisy image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16, at least 8×8.
    sigma : float
        Noise standard deviation on the 0–255 scale, > 0.

    Returns
    -------
    numpy.ndarray
        The denoised image, float32 C×H×W, clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``image`` is not such an array or ``sigma`` is not a finite positive number.

    References
    ----------
    .. [1] A. Buades, B. Coll and J.-M. Morel, "A non-local algorithm for image denoising",
       *CVPR* 2005, 60–65.
    .. [2] J. Darbon, A. Cunha, T. F. Chan, S. Osher and G. J. Jensen, "Fast nonlocal filtering
       applied to electron cryomicroscopy", *ISBI* 2008, 1331–1334.
    .. [3] A. Buades, B. Coll and J.-M. Morel, "Non-local means denoising", *Image Processing
       On Line* 1, 208–212, 2011, :doi:`10.5201/ipol.2011.bcm_nlm`.

    Examples
    --------
    >>> flat = np.full((3, 16, 16), 0.5, dtype=np.float32)
    >>> out = nlm(flat, 25)
    >>> out.dtype, out.shape, bool(np.allclose(out, 0.5))
    (dtype('float32'), (3, 16, 16), True)
    """
    from skimage.restoration import denoise_nl_means

    pixels, s = _check_image(image), _check_sigma(sigma) / 255.0
    planes, channel_axis = _channels_last(pixels)
    out = denoise_nl_means(
        planes,
        patch_size=_NLM_PATCH_SIZE,
        patch_distance=_NLM_PATCH_DISTANCE,
        h=_NLM_H_PER_SIGMA * s,
        fast_mode=True,
        sigma=s,
        preserve_range=True,
        channel_axis=channel_axis,
    )
    return _to_chw(out, pixels.shape)


def wavelet(image: np.ndarray, sigma: float) -> np.ndarray:
    r"""Wavelet shrinkage with BayesShrink's sub-band thresholds and soft thresholding.

    :func:`skimage.restoration.denoise_wavelet` with its defaults otherwise (Haar wavelet, three
    levels fewer than the most possible, at least one): each detail sub-band ``w`` of the
    orthonormal transform is soft-thresholded,
    :math:`\eta_T(w) = \operatorname{sign}(w) \max(|w| - T, 0)`, at the BayesShrink threshold
    [1]_

    .. math::

        T = \frac{s^2}{\hat\sigma_x}, \qquad
        \hat\sigma_x = \sqrt{\max(\overline{w^2} - s^2,\, \epsilon)}, \qquad s = \sigma / 255,

    with :math:`\overline{w^2}` the sub-band's mean square and :math:`\epsilon` the machine
    epsilon. A 3-channel image is denoised in YCbCr (``convert2ycbcr=True``, which scikit-image
    recommends for RGB; σ is converted to each YCbCr channel); other channel counts are
    denoised channel by channel.

    Parameters
    ----------
    image : numpy.ndarray
        Noisy image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16, at least 8×8.
    sigma : float
        Noise standard deviation on the 0–255 scale, > 0.

    Returns
    -------
    numpy.ndarray
        The denoised image, float32 C×H×W, clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``image`` is not such an array or ``sigma`` is not a finite positive number.
    OptionalDependencyError
        If PyWavelets is not installed (``pip install 'autodip[bench]'``).

    References
    ----------
    .. [1] S. G. Chang, B. Yu and M. Vetterli, "Adaptive wavelet thresholding for image
       denoising and compression", *IEEE Trans. Image Process.* 9(9), 1532–1546, 2000.

    Examples
    --------
    >>> flat = np.full((3, 16, 16), 0.5, dtype=np.float32)
    >>> out = wavelet(flat, 25)  # doctest: +SKIP
    >>> out.dtype, out.shape, bool(np.allclose(out, 0.5, atol=1e-6))  # doctest: +SKIP
    (dtype('float32'), (3, 16, 16), True)
    """
    pixels, s = _check_image(image), _check_sigma(sigma) / 255.0
    try:
        import pywt  # noqa: F401  (scikit-image imports it only inside the call)
    except ImportError as error:
        raise OptionalDependencyError(
            f"the 'wavelet' baseline needs PyWavelets: {_BENCH_EXTRA} (or pip install PyWavelets)",
            name="pywt",
        ) from error
    from skimage.restoration import denoise_wavelet

    planes, channel_axis = _channels_last(pixels)
    out = denoise_wavelet(
        planes,
        sigma=s,
        method="BayesShrink",
        mode="soft",
        rescale_sigma=True,
        convert2ycbcr=pixels.shape[0] == 3,
        channel_axis=channel_axis,
    )
    return _to_chw(out, pixels.shape)


def bm3d(image: np.ndarray, sigma: float) -> np.ndarray:
    r"""BM3D: collaborative filtering of groups of similar blocks in a 3-D transform domain.

    Runs the reference implementation of Tampere University (the ``bm3d`` package [1]_, [2]_)
    with its default ``'np'`` profile and both stages (hard thresholding, then Wiener filtering
    with the first estimate as pilot). A gray image goes to ``bm3d.bm3d(y, s)``; an RGB image to
    ``bm3d.bm3d_rgb(y, s)``, i.e. CBM3D in the opponent colour space [3]_, with
    :math:`s = \sigma / 255` the noise std of every channel; any other channel count is
    denoised channel by channel as gray.

    **Licence**: the ``bm3d`` package may be used for non-commercial purposes only (see the
    module docstring); it is not installed with autodip.

    Parameters
    ----------
    image : numpy.ndarray
        Noisy image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16, at least 8×8.
    sigma : float
        Noise standard deviation on the 0–255 scale, > 0.

    Returns
    -------
    numpy.ndarray
        The denoised image, float32 C×H×W, clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``image`` is not such an array or ``sigma`` is not a finite positive number.
    OptionalDependencyError
        If ``bm3d`` is not installed (``pip install 'autodip[bench]'``).

    References
    ----------
    .. [1] K. Dabov, A. Foi, V. Katkovnik and K. Egiazarian, "Image denoising by sparse 3-D
       transform-domain collaborative filtering", *IEEE Trans. Image Process.* 16(8),
       2080–2095, 2007.
    .. [2] Y. Mäkinen, L. Azzari and A. Foi, "Collaborative filtering of correlated noise: exact
       transform-domain variance for improved shrinkage and patch matching", *IEEE Trans.
       Image Process.* 29, 8339–8354, 2020.
    .. [3] K. Dabov, A. Foi, V. Katkovnik and K. Egiazarian, "Color image denoising via sparse
       3D collaborative filtering with grouping constraint in luminance-chrominance space",
       *ICIP* 2007.

    Examples
    --------
    >>> flat = np.full((1, 16, 16), 0.5, dtype=np.float32)
    >>> out = bm3d(flat, 25)  # doctest: +SKIP
    >>> out.dtype, out.shape  # doctest: +SKIP
    (dtype('float32'), (1, 16, 16))
    """
    pixels, s = _check_image(image), _check_sigma(sigma) / 255.0
    module = _import_bm3d()
    planes = pixels.astype(np.float64)
    if planes.shape[0] == 3:
        out = module.bm3d_rgb(np.moveaxis(planes, 0, -1), s)
        return _to_chw(out, pixels.shape)
    return _to_chw(np.stack([module.bm3d(plane, s) for plane in planes], axis=-1), pixels.shape)


#: The baselines by name (the names `autodip bench` configs use), each ``(image, sigma)``.
BASELINES: dict[str, Baseline] = {
    "bm3d": bm3d,
    "nlm": nlm,
    "tv": tv_chambolle,
    "wavelet": wavelet,
}


def denoise_baseline(
    name: str, image: np.ndarray, sigma: float | None = None
) -> tuple[np.ndarray, float, float]:
    """Denoise ``image`` with the baseline registered as ``name``, with the true or estimated σ.

    Parameters
    ----------
    name : str
        A key of `BASELINES`: ``"bm3d"``, ``"nlm"``, ``"tv"`` or ``"wavelet"``.
    image : numpy.ndarray
        Noisy image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16, at least 8×8.
    sigma : float or None, optional
        Noise standard deviation on the 0–255 scale, > 0. ``None`` (the default) uses the
        blind estimate ``autodip.noise_level.estimate_sigma(image)``.

    Returns
    -------
    denoised : numpy.ndarray
        Float32 C×H×W in [0, 1]. If σ was estimated as exactly 0 (an image with no noise, e.g.
        constant), a copy of ``image`` as float32: there is nothing to remove.
    sigma_used : float
        The σ passed to the baseline (the given one, or the estimate).
    seconds : float
        Wall-clock time of the whole call, σ estimation included.

    Raises
    ------
    KeyError
        If ``name`` is not registered; the message lists close matches and all names.
    ValueError
        If ``image`` is not such an array or ``sigma`` is not None and not a finite positive
        number.
    OptionalDependencyError
        If the baseline's optional dependency is not installed.

    Examples
    --------
    >>> from autodip.noise import add_gaussian_noise
    >>> noisy = add_gaussian_noise(np.full((1, 64, 64), 0.5, dtype=np.float32), 20, seed=0)
    >>> denoised, used, seconds = denoise_baseline("nlm", noisy)
    >>> bool(abs(used - 20) < 2), bool(denoised.std() < noisy.std() / 3)
    (True, True)
    """
    started = time.perf_counter()
    if name not in BASELINES:
        close = get_close_matches(str(name), BASELINES, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown baseline {name!r}.{hint} Available: {', '.join(sorted(BASELINES))}"
        )
    pixels = _check_image(image)
    if sigma is None:
        used = estimate_sigma(pixels)
        if used == 0.0:
            return pixels.astype(np.float32), 0.0, time.perf_counter() - started
    else:
        used = _check_sigma(sigma)
    denoised = BASELINES[name](pixels, used)
    return denoised, float(used), time.perf_counter() - started


def _check_image(image: np.ndarray) -> np.ndarray:
    """Return ``image`` unchanged after checking it is a float C×H×W array in [0, 1]."""
    check_float_array(image)
    if image.ndim != 3 or not 1 <= image.shape[0] <= _MAX_CHANNELS:
        raise ValueError(
            f"image must be C×H×W with 1 ≤ C ≤ {_MAX_CHANNELS}, got shape {image.shape} "
            "(add a channel axis to an H×W image; transpose an H×W×C one)"
        )
    if min(image.shape[1:]) < _MIN_SIZE:
        raise ValueError(
            f"image must be at least {_MIN_SIZE}×{_MIN_SIZE} pixels, "
            f"got {image.shape[1]}×{image.shape[2]}"
        )
    if not np.all(np.isfinite(image)):
        raise ValueError("image contains NaN or infinity")
    low, high = float(image.min()), float(image.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"image values must lie in [0, 1], got [{low:.4g}, {high:.4g}]")
    return image


def _check_sigma(sigma: float) -> float:
    """Return ``sigma`` as a float after checking it is a finite positive number."""
    if isinstance(sigma, bool) or not isinstance(sigma, Real):
        raise ValueError(f"sigma must be a number (0–255 scale), got {sigma!r}")
    value = float(sigma)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"sigma must be finite and > 0 (0–255 scale), got {sigma!r}")
    return value


def _channels_last(pixels: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Float64 H×W (one channel) or H×W×C planes, and the ``channel_axis`` skimage needs."""
    planes = pixels.astype(np.float64)
    if planes.shape[0] == 1:
        return planes[0], None
    return np.moveaxis(planes, 0, -1), -1


def _to_chw(out: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An H×W or H×W×C result as float32 C×H×W of ``shape``, clipped to [0, 1]."""
    chw = out[np.newaxis] if out.ndim == 2 else np.moveaxis(out, -1, 0)
    if chw.shape != shape:
        raise RuntimeError(f"denoiser returned shape {out.shape} for an image of shape {shape}")
    return np.ascontiguousarray(np.clip(chw, 0.0, 1.0), dtype=np.float32)


def _import_bm3d() -> ModuleType:
    """The ``bm3d`` module, or OptionalDependencyError saying how to get it and its licence."""
    try:
        import bm3d as module
    except ImportError as error:
        raise OptionalDependencyError(
            f"the 'bm3d' baseline needs the bm3d package: {_BENCH_EXTRA} (or pip install bm3d). "
            "Note that bm3d is licensed by Tampere University for NON-COMMERCIAL use only.",
            name="bm3d",
        ) from error
    return module
