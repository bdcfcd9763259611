r"""Classical baselines for the benchmark tables: denoising, inpainting and super-resolution.

Denoising: TV, non-local means, wavelet shrinkage and BM3D (`BASELINES`); inpainting: Telea's
and the Navier–Stokes method of OpenCV, and biharmonic inpainting (`INPAINT_BASELINES`);
super-resolution: bicubic and Lanczos interpolation (`SR_BASELINES`). `TASK_BASELINES` holds the
three registries by task, as `autodip bench` looks them up.

Denoising
---------
Each denoising baseline takes a noisy image ``y`` (float C×H×W in [0, 1]) and the standard
deviation ``σ`` of its additive white Gaussian noise on the 0–255 scale (the scale of
`autodip.physics.noise.add_gaussian_noise`), and returns a float32 C×H×W estimate clipped to [0, 1].
Every parameter is a fixed, published function of ``σ``; none was tuned on benchmark images.
Below ``s = σ / 255`` is the noise level on the [0, 1] scale of the pixels.

* ``tv``: Chambolle's ROF solver with weight ``1/λ``, ``λ = 0.7079/s + 0.002686/s²``
  (Getreuer's fit of the optimal λ); see `tv_chambolle`.
* ``nlm``: fast non-local means, 5×5 patches, 13×13 search window, ``h = 0.8 s`` and the noise
  variance subtracted from patch distances (scikit-image's recommendation); see `nlm`.
* ``wavelet``: BayesShrink soft thresholding of the Haar transform, in YCbCr for RGB; see
  `wavelet`.
* ``bm3d``: BM3D with its default profile, CBM3D (opponent colour space) for RGB; see `bm3d`.

`denoise_baseline` applies one of them by name, with the true ``σ`` or, when none is given, with
`autodip.analysis.noise_level.estimate_sigma`'s blind wavelet estimate, and times the call, so that
a benchmark can report each baseline "with the true σ and with the estimated σ".

Inpainting and super-resolution
-------------------------------
An inpainting baseline takes the damaged image (float C×H×W in [0, 1]) and the mask of
`autodip.physics.operators.Inpaint` (H×W or C×H×W, > 0.5 = known) and returns the image with the
unknown pixels filled; the known ones are kept. `inpaint_baseline` applies one by name.

* ``telea``: fast marching from the hole's border, Telea's weighted first-order extrapolation
  (``cv2.inpaint`` with ``INPAINT_TELEA``, radius 3); see `telea`.
* ``navier-stokes``: Bertalmio, Bertozzi and Sapiro's fluid-dynamics inpainting
  (``cv2.inpaint`` with ``INPAINT_NS``, radius 3); see `navier_stokes`.
* ``biharmonic``: the smooth fill solving Δ²u = 0 in the hole
  (`skimage.restoration.inpaint_biharmonic`); see `biharmonic`.

A super-resolution baseline takes the low-resolution image and an integer factor and returns
an image exactly ``factor`` times larger, by Pillow's separable interpolation with the pixel
centres aligned (as MATLAB's ``imresize``, and as `autodip.physics.operators.SuperResolve` samples).
`upscale_baseline` applies one by name.

* ``bicubic``: Keys' cubic convolution with ``a = −0.5`` (the kernel of MATLAB's ``imresize``,
  with which Set5's ``LR_bicubic`` files were made); see `bicubic`.
* ``lanczos``: the Lanczos-3 windowed sinc; see `lanczos`.

None of them has a parameter tuned on benchmark images; all use the scikit-image, OpenCV and
Pillow that autodip already depends on.

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
>>> from autodip.physics.noise import add_gaussian_noise
>>> from autodip.metrics.full_reference import psnr
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
from numbers import Integral, Real
from types import ModuleType
from typing import Any

import numpy as np

from autodip.analysis.noise_level import estimate_sigma
from autodip.core.validation import check_float_array
from autodip.errors import OptionalDependencyError as OptionalDependencyError

__all__ = [
    "BASELINES",
    "INPAINT_BASELINES",
    "SR_BASELINES",
    "TASK_BASELINES",
    "Baseline",
    "InpaintBaseline",
    "OptionalDependencyError",
    "UpscaleBaseline",
    "bicubic",
    "biharmonic",
    "bm3d",
    "denoise_baseline",
    "inpaint_baseline",
    "lanczos",
    "navier_stokes",
    "nlm",
    "telea",
    "tv_chambolle",
    "upscale_baseline",
    "wavelet",
]

#: A baseline: ``(image, sigma) -> denoised`` with σ on the 0–255 scale.
Baseline = Callable[[np.ndarray, float], np.ndarray]
#: An inpainting baseline: ``(image, mask) -> filled`` with the mask's 1 = known.
InpaintBaseline = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: A super-resolution baseline: ``(low_resolution, factor) -> image factor× larger``.
UpscaleBaseline = Callable[[np.ndarray, int], np.ndarray]

#: Most channels a C×H×W image may have (as in `autodip.analysis.noise_level`); more suggests H×W×C.
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

#: ``inpaintRadius`` of ``cv2.inpaint``: 3 pixels, as in OpenCV's tutorial "Image Inpainting".
_CV_INPAINT_RADIUS = 3
#: Largest super-resolution factor (that of `autodip.physics.operators.SuperResolve`).
_MAX_FACTOR = 64
#: OpenCV's inpainting runs on 16-bit planes (see `telea`): the scale of [0, 1] there.
_UINT16_MAX = 65535.0

_BENCH_EXTRA = "pip install 'autodip[bench]'"


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


def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    r"""Inpainting by fast marching with Telea's first-order extrapolation (OpenCV).

    The hole is filled from its border inwards, in the order of the distance :math:`T` to the
    border that the fast marching method computes; each hole pixel :math:`p` becomes a weighted
    mean of first-order extrapolations from the known (or already filled) pixels :math:`q` within
    :math:`\varepsilon` of it [1]_,

    .. math::

        \hat u(p) = \frac{\sum_{q \in B_\varepsilon(p)} w(p, q)\,
                          \big[u(q) + \nabla u(q) \cdot (p - q)\big]}
                         {\sum_{q \in B_\varepsilon(p)} w(p, q)}, \qquad
        w = \mathrm{dir} \cdot \mathrm{dst} \cdot \mathrm{lev},

    where the weights favour neighbours along the normal to the front (dir), close to :math:`p`
    (dst) and on the same level set of :math:`T` (lev). This is ``cv2.inpaint`` with
    ``INPAINT_TELEA`` and :math:`\varepsilon` = 3 pixels (OpenCV's tutorial), run on each channel
    with that channel's mask. Each channel goes to OpenCV as 16-bit: its Telea code adds a
    rounding offset of 0.5 and a unit-length gradient term meant for integer grey levels, which
    on [0, 1] floats would shift the fill by up to ~1.4; on 0–65535 both are below 3·10⁻⁵.

    Parameters
    ----------
    image : numpy.ndarray
        Damaged image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16 (unknown pixels' values are
        ignored).
    mask : numpy.ndarray
        H×W, 1×H×W or C×H×W; values > 0.5 are known (as `autodip.physics.operators.Inpaint`). Every
        channel needs at least one known pixel.

    Returns
    -------
    numpy.ndarray
        Float32 C×H×W in [0, 1]: the known pixels as given, the others filled.

    Raises
    ------
    ValueError
        If ``image`` or ``mask`` is not such an array, or a channel has no known pixel.

    References
    ----------
    .. [1] A. Telea, "An image inpainting technique based on the fast marching method",
       *Journal of Graphics Tools* 9(1), 23–34, 2004.

    Examples
    --------
    >>> y, x = np.mgrid[0:32, 0:32] / 32
    >>> clean = (0.3 + 0.4 * x * y)[None].astype(np.float32)
    >>> mask = np.ones((32, 32)); mask[12:18, 12:18] = 0
    >>> bool(np.abs(telea(clean * mask, mask) - clean).max() < 0.05)
    True
    """
    import cv2

    return _cv_inpaint(image, mask, cv2.INPAINT_TELEA)


def navier_stokes(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    r"""Inpainting after Bertalmio, Bertozzi and Sapiro's Navier–Stokes method (OpenCV).

    The paper treats the intensity :math:`u` as a stream function and transports its
    smoothness :math:`\omega = \Delta u` into the hole along the isophotes (the lines of constant
    intensity), with anisotropic diffusion [1]_:

    .. math::

        \partial_t \omega + \nabla^\perp u \cdot \nabla \omega
            = \nu\, \nabla \cdot \big(g(|\nabla \omega|)\, \nabla \omega\big).

    OpenCV's ``cv2.inpaint`` with ``INPAINT_NS`` computes it in one pass, in the fast-marching
    order of `telea`: each hole pixel becomes a weighted mean of the known (or already filled)
    pixels within 3 pixels, weighted by :math:`1 / (1 + |r|^2)` for the offset :math:`r` and by
    how closely :math:`r` follows the isophote direction at that neighbour, rather than
    iterating the equation to steady state. Each channel is inpainted with its own mask, as
    16-bit (as in `telea`).

    Parameters
    ----------
    image : numpy.ndarray
        Damaged image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16 (unknown pixels' values are
        ignored).
    mask : numpy.ndarray
        H×W, 1×H×W or C×H×W; values > 0.5 are known. Every channel needs a known pixel.

    Returns
    -------
    numpy.ndarray
        Float32 C×H×W in [0, 1]: the known pixels as given, the others filled.

    Raises
    ------
    ValueError
        If ``image`` or ``mask`` is not such an array, or a channel has no known pixel.

    References
    ----------
    .. [1] M. Bertalmio, A. L. Bertozzi and G. Sapiro, "Navier–Stokes, fluid dynamics, and
       image and video inpainting", *CVPR* 2001, I-355–I-362.

    Examples
    --------
    >>> y, x = np.mgrid[0:32, 0:32] / 32
    >>> clean = (0.3 + 0.4 * x * y)[None].astype(np.float32)
    >>> mask = np.ones((32, 32)); mask[12:18, 12:18] = 0
    >>> bool(np.abs(navier_stokes(clean * mask, mask) - clean).max() < 0.05)
    True
    """
    import cv2

    return _cv_inpaint(image, mask, cv2.INPAINT_NS)


def biharmonic(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    r"""Biharmonic inpainting: the smoothest fill that meets the known pixels.

    In each channel the hole :math:`\Omega` is filled with the solution of

    .. math::

        \Delta^2 u = 0 \ \text{in } \Omega, \qquad u = y \ \text{on the known pixels},

    discretised with the 13-point biharmonic stencil and solved as one sparse linear system
    (:func:`skimage.restoration.inpaint_biharmonic` [1]_, [2]_). Thin-plate smooth, it
    continues gradients as well as values across the hole, so it suits small or scattered holes
    in smooth regions and blurs texture and edges across large ones. Each channel is inpainted
    with its own mask.

    Parameters
    ----------
    image : numpy.ndarray
        Damaged image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16 (unknown pixels' values are
        ignored).
    mask : numpy.ndarray
        H×W, 1×H×W or C×H×W; values > 0.5 are known. Every channel needs a known pixel.

    Returns
    -------
    numpy.ndarray
        Float32 C×H×W, clipped to [0, 1]: the known pixels as given, the others filled.

    Raises
    ------
    ValueError
        If ``image`` or ``mask`` is not such an array, or a channel has no known pixel.

    References
    ----------
    .. [1] S. B. Damelin and N. S. Hoang, "On surface completion and image inpainting by
       biharmonic functions: numerical aspects", *International Journal of Mathematics and
       Mathematical Sciences* 2018, 3950312, :doi:`10.1155/2018/3950312`.
    .. [2] C.-K. Chui and H. N. Mhaskar, "MRA contextual-recovery extension of smooth functions
       on manifolds", *Applied and Computational Harmonic Analysis* 28(1), 104–113, 2010.

    Examples
    --------
    >>> y, x = np.mgrid[0:32, 0:32] / 32
    >>> clean = (0.3 + 0.4 * x * y)[None].astype(np.float32)
    >>> mask = np.ones((32, 32)); mask[12:18, 12:18] = 0
    >>> bool(np.abs(biharmonic(clean * mask, mask) - clean).max() < 0.005)
    True
    """
    from skimage.restoration import inpaint_biharmonic

    pixels, unknown = _check_inpainting(image, mask)
    out = pixels.astype(np.float64)
    for channel, hole in zip(out, unknown, strict=True):
        if hole.any():
            channel[hole] = inpaint_biharmonic(channel, hole)[hole]
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0), dtype=np.float32)


def bicubic(image: np.ndarray, factor: int) -> np.ndarray:
    r"""Bicubic upscaling by ``factor``: Keys' cubic convolution with :math:`a = -0.5`.

    Each output pixel, at the position of its centre in input pixels, is the separable
    convolution of the input with the kernel [1]_

    .. math::

        k(t) = \begin{cases}
            (a + 2)|t|^3 - (a + 3)|t|^2 + 1 & |t| \le 1, \\
            a|t|^3 - 5a|t|^2 + 8a|t| - 4a & 1 < |t| < 2, \\
            0 & \text{otherwise,}
        \end{cases} \qquad a = -\tfrac12,

    the kernel of MATLAB's ``imresize`` (with which the ``LR_bicubic`` inputs of Set5 and the
    like were made) and of Pillow's ``BICUBIC``, which computes it here on float32 planes (no
    8-bit rounding). Pixel centres are aligned, as in `autodip.physics.operators.SuperResolve`; near
    the border Pillow renormalises the kernel over the pixels that exist. PyTorch's ``bicubic``
    mode uses :math:`a = -0.75` instead.

    Parameters
    ----------
    image : numpy.ndarray
        Low-resolution image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16.
    factor : int
        Integer upscaling factor, 2 to 64.

    Returns
    -------
    numpy.ndarray
        Float32 C×(factor·H)×(factor·W), clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``image`` is not such an array or ``factor`` not such an integer.

    References
    ----------
    .. [1] R. Keys, "Cubic convolution interpolation for digital image processing", *IEEE
       Trans. Acoust., Speech, Signal Process.* 29(6), 1153–1160, 1981.

    Examples
    --------
    >>> bicubic(np.full((3, 5, 7), 0.25, dtype=np.float32), 4).shape
    (3, 20, 28)
    """
    from PIL import Image

    return _pil_upscale(image, factor, Image.Resampling.BICUBIC)


def lanczos(image: np.ndarray, factor: int) -> np.ndarray:
    r"""Lanczos-3 upscaling by ``factor``: a windowed sinc three lobes wide.

    As `bicubic`, with the separable kernel [1]_

    .. math::

        k(t) = \operatorname{sinc}(t)\, \operatorname{sinc}(t / 3) \ \text{for } |t| < 3,
        \quad 0 \text{ otherwise}, \qquad \operatorname{sinc}(t) = \frac{\sin \pi t}{\pi t},

    (Pillow's ``LANCZOS`` on float32 planes, pixel centres aligned). Sharper than bicubic, with
    more ringing at edges.

    Parameters
    ----------
    image : numpy.ndarray
        Low-resolution image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16.
    factor : int
        Integer upscaling factor, 2 to 64.

    Returns
    -------
    numpy.ndarray
        Float32 C×(factor·H)×(factor·W), clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``image`` is not such an array or ``factor`` not such an integer.

    References
    ----------
    .. [1] C. E. Duchon, "Lanczos filtering in one and two dimensions", *Journal of Applied
       Meteorology* 18(8), 1016–1022, 1979.

    Examples
    --------
    >>> out = lanczos(np.full((1, 6, 6), 0.5, dtype=np.float32), 2)
    >>> out.shape, bool(np.allclose(out, 0.5))
    ((1, 12, 12), True)
    """
    from PIL import Image

    return _pil_upscale(image, factor, Image.Resampling.LANCZOS)


#: The baselines by name (the names `autodip bench` configs use), each ``(image, sigma)``.
BASELINES: dict[str, Baseline] = {
    "bm3d": bm3d,
    "nlm": nlm,
    "tv": tv_chambolle,
    "wavelet": wavelet,
}

#: The inpainting baselines by name, each ``(image, mask)`` with the mask's 1 = known.
INPAINT_BASELINES: dict[str, InpaintBaseline] = {
    "biharmonic": biharmonic,
    "navier-stokes": navier_stokes,
    "telea": telea,
}

#: The super-resolution baselines by name, each ``(low_resolution, factor)``.
SR_BASELINES: dict[str, UpscaleBaseline] = {
    "bicubic": bicubic,
    "lanczos": lanczos,
}

#: The registries by task (``"denoise"``, ``"inpaint"``, ``"sr"``), for `autodip bench`.
TASK_BASELINES: dict[str, dict[str, Callable[..., np.ndarray]]] = {
    "denoise": BASELINES,
    "inpaint": INPAINT_BASELINES,
    "sr": SR_BASELINES,
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
        blind estimate ``autodip.analysis.noise_level.estimate_sigma(image, method="wavelet")``:
        Donoho's wavelet rule, the estimate a user of a classical denoiser usually has (it is
        scikit-image's), and the one every cached baseline of the benchmarks was run with.

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
    >>> from autodip.physics.noise import add_gaussian_noise
    >>> noisy = add_gaussian_noise(np.full((1, 64, 64), 0.5, dtype=np.float32), 20, seed=0)
    >>> denoised, used, seconds = denoise_baseline("nlm", noisy)
    >>> bool(abs(used - 20) < 2), bool(denoised.std() < noisy.std() / 3)
    (True, True)
    """
    started = time.perf_counter()
    baseline = _lookup(BASELINES, name, "denoising")
    pixels = _check_image(image)
    if sigma is None:
        used = estimate_sigma(pixels, method="wavelet")
        if used == 0.0:
            return pixels.astype(np.float32), 0.0, time.perf_counter() - started
    else:
        used = _check_sigma(sigma)
    denoised = baseline(pixels, used)
    return denoised, float(used), time.perf_counter() - started


def inpaint_baseline(name: str, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """Fill the unknown pixels of ``image`` with the inpainting baseline registered as ``name``.

    Parameters
    ----------
    name : str
        A key of `INPAINT_BASELINES`: ``"telea"``, ``"navier-stokes"`` or ``"biharmonic"``.
    image : numpy.ndarray
        Damaged image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16.
    mask : numpy.ndarray
        H×W, 1×H×W or C×H×W; values > 0.5 are known (as `autodip.physics.operators.Inpaint`).

    Returns
    -------
    filled : numpy.ndarray
        Float32 C×H×W in [0, 1], the known pixels unchanged.
    seconds : float
        Wall-clock time of the call.

    Raises
    ------
    KeyError
        If ``name`` is not registered; the message lists close matches and all names.
    ValueError
        If ``image`` or ``mask`` is not such an array, or a channel has no known pixel.

    Examples
    --------
    >>> image = np.full((3, 16, 16), 0.5, dtype=np.float32)
    >>> mask = np.ones((16, 16)); mask[4:8, 4:8] = 0
    >>> filled, seconds = inpaint_baseline("telea", image * mask, mask)
    >>> bool(np.abs(filled - 0.5).max() < 1e-3)
    True
    """
    started = time.perf_counter()
    filled = _lookup(INPAINT_BASELINES, name, "inpainting")(image, mask)
    return filled, time.perf_counter() - started


def upscale_baseline(name: str, image: np.ndarray, factor: int) -> tuple[np.ndarray, float]:
    """Upscale ``image`` by ``factor`` with the super-resolution baseline registered as ``name``.

    Parameters
    ----------
    name : str
        A key of `SR_BASELINES`: ``"bicubic"`` or ``"lanczos"``.
    image : numpy.ndarray
        Low-resolution image, floating point C×H×W in [0, 1], 1 ≤ C ≤ 16.
    factor : int
        Integer upscaling factor, 2 to 64.

    Returns
    -------
    upscaled : numpy.ndarray
        Float32 C×(factor·H)×(factor·W) in [0, 1].
    seconds : float
        Wall-clock time of the call.

    Raises
    ------
    KeyError
        If ``name`` is not registered; the message lists close matches and all names.
    ValueError
        If ``image`` is not such an array or ``factor`` not such an integer.

    Examples
    --------
    >>> upscaled, seconds = upscale_baseline("lanczos", np.zeros((1, 4, 6), np.float32), 3)
    >>> upscaled.shape
    (1, 12, 18)
    """
    started = time.perf_counter()
    upscaled = _lookup(SR_BASELINES, name, "super-resolution")(image, factor)
    return upscaled, time.perf_counter() - started


def _lookup(registry: dict[str, Callable[..., np.ndarray]], name: str, task: str) -> Any:
    """``registry[name]``, or a KeyError naming close matches and every ``task`` baseline."""
    if name not in registry:
        close = get_close_matches(str(name), registry, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown {task} baseline {name!r}.{hint} Available: {', '.join(sorted(registry))}"
        )
    return registry[name]


def _check_image(image: np.ndarray, min_size: int = _MIN_SIZE) -> np.ndarray:
    """Return ``image`` unchanged after checking it is a float C×H×W array in [0, 1]."""
    check_float_array(image)
    if image.ndim != 3 or not 1 <= image.shape[0] <= _MAX_CHANNELS:
        raise ValueError(
            f"image must be C×H×W with 1 ≤ C ≤ {_MAX_CHANNELS}, got shape {image.shape} "
            "(add a channel axis to an H×W image; transpose an H×W×C one)"
        )
    if min(image.shape[1:]) < min_size:
        raise ValueError(
            f"image must be at least {min_size}×{min_size} pixels, "
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


def _check_inpainting(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The checked image and its C×H×W boolean mask of *unknown* pixels."""
    pixels = _check_image(image, min_size=1)
    known = np.asarray(mask)
    if known.ndim == 2:
        known = known[np.newaxis]
    fits = known.ndim == 3 and known.shape[1:] == pixels.shape[1:]
    if not fits or known.shape[0] not in (1, pixels.shape[0]):
        raise ValueError(
            f"mask must be H×W, 1×H×W or C×H×W for an image of shape {pixels.shape}, "
            f"got shape {np.shape(mask)}"
        )
    if not np.issubdtype(known.dtype, np.number) and known.dtype != bool:
        raise ValueError(f"mask must hold numbers or booleans, got dtype {known.dtype}")
    if not np.all(np.isfinite(known)):
        raise ValueError("mask contains NaN or infinity")
    unknown = np.broadcast_to(~(known > 0.5), pixels.shape).copy(order="C")  # skimage: C order
    if unknown.reshape(pixels.shape[0], -1).all(axis=1).any():
        raise ValueError("the mask leaves a channel with no known pixel (> 0.5 = known)")
    return pixels, unknown


def _cv_inpaint(image: np.ndarray, mask: np.ndarray, method: int) -> np.ndarray:
    """``cv2.inpaint`` (radius 3) on each channel as 16-bit; known pixels kept exactly."""
    import cv2

    pixels, unknown = _check_inpainting(image, mask)
    out = pixels.astype(np.float32)
    for channel, hole in zip(out, unknown, strict=True):
        if hole.any():
            plane = np.round(channel * _UINT16_MAX).astype(np.uint16)
            filled = cv2.inpaint(plane, hole.astype(np.uint8), _CV_INPAINT_RADIUS, method)
            channel[hole] = filled[hole] / _UINT16_MAX
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0))


def _pil_upscale(image: np.ndarray, factor: int, resample: int) -> np.ndarray:
    """Each channel resized by Pillow in float32 ("F" mode) to ``factor`` times its size."""
    from PIL import Image

    pixels = _check_image(image, min_size=1)
    if isinstance(factor, bool) or not isinstance(factor, Integral):
        raise ValueError(f"factor must be an integer, got {factor!r}")
    if not 2 <= factor <= _MAX_FACTOR:
        raise ValueError(f"factor must be from 2 to {_MAX_FACTOR}, got {factor}")
    size = (pixels.shape[2] * int(factor), pixels.shape[1] * int(factor))  # Pillow: (W, H)
    planes = [
        np.asarray(Image.fromarray(plane).resize(size, resample))
        for plane in pixels.astype(np.float32)
    ]
    return np.ascontiguousarray(np.clip(np.stack(planes), 0.0, 1.0), dtype=np.float32)


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
