"""No-reference quality scores (BRISQUE via OpenCV, our NIQE) on the bundled F16 crop."""

from __future__ import annotations

import math
from importlib import resources

import cv2
import numpy as np
import pytest
from PIL import Image

from autodip.io import read_image
from autodip.metrics.no_reference import IQA_SCORES, _half, brisque, niqe
from autodip.physics.noise import add_gaussian_noise

SIGMAS = (0, 15, 50)
# NIQE needs several patches to be meaningful: with the default 96 a 256² image has four,
# and its score is dominated by sampling noise (see the niqe docstring).
NIQE_PATCH = 48


@pytest.fixture(scope="module")
def f16() -> np.ndarray:
    """The bundled 256×256 RGB sample, float32 C×H×W in [0, 1]."""
    pixels, _ = read_image(str(resources.files("autodip") / "data" / "f16_256_clean.png"))
    return pixels


@pytest.fixture(scope="module")
def f16_gray(f16: np.ndarray) -> np.ndarray:
    return np.tensordot(np.array([0.299, 0.587, 0.114]), f16, axes=1)[None].astype(np.float32)


@pytest.fixture(params=["rgb", "gray"])
def noisy_series(request, f16, f16_gray) -> list[np.ndarray]:
    image = f16 if request.param == "rgb" else f16_gray
    return [add_gaussian_noise(image, sigma, seed=0) for sigma in SIGMAS]


def test_brisque_increases_with_noise(noisy_series):
    scores = [brisque(x) for x in noisy_series]
    assert scores[0] + 15 < scores[1] < scores[2] - 15, scores


def test_niqe_clean_and_mild_noise_score_well_below_heavy_noise(noisy_series):
    # NIQE is not monotone between σ = 0 and 15 on this crop (its flat sky looks more
    # natural to NIQE with a little noise), so only the heavy-noise gap is asserted.
    clean, mild, heavy = (niqe(x, patch_size=NIQE_PATCH) for x in noisy_series)
    assert max(clean, mild) + 3 < heavy, (clean, mild, heavy)
    assert 5 < clean < 15


def test_scores_are_deterministic(f16):
    noisy = add_gaussian_noise(f16, 25, seed=3)
    assert brisque(noisy) == brisque(noisy.copy())
    assert niqe(noisy) == niqe(noisy.copy())
    assert niqe(noisy, 32) == niqe(noisy.copy(), 32)


def test_brisque_sees_colour_through_opencv_bgr_to_gray(f16, f16_gray):
    # OpenCV turns a 3-channel image into gray (BGR2GRAY) first: a gray image replicated
    # to three channels scores exactly as the gray one ...
    assert brisque(np.repeat(f16_gray, 3, axis=0)) == brisque(f16_gray)
    assert brisque(f16_gray[0]) == brisque(f16_gray)  # H×W is taken as gray
    # ... and an RGB image as OpenCV's own gray of its BGR 8-bit version.
    bgr = np.ascontiguousarray(np.round(f16[::-1] * 255).astype(np.uint8).transpose(1, 2, 0))
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    assert brisque(f16) == brisque(gray[None] / 255.0)
    assert brisque(f16) != brisque(f16[::-1].copy())  # so the channel order matters


def test_niqe_needs_one_patch_and_names_the_size():
    image = add_gaussian_noise(np.full((3, 64, 64), 0.5, dtype=np.float32), 20, seed=0)
    with pytest.raises(ValueError, match=r"at least 96×96 .*smaller patch_size"):
        niqe(image)
    assert math.isfinite(niqe(image, patch_size=32))
    with pytest.raises(ValueError, match="even integer"):
        niqe(image, patch_size=31)


def test_images_without_contrast_score_worst():
    flat = np.full((3, 128, 128), 0.4, dtype=np.float32)
    assert brisque(flat) == math.inf
    assert niqe(flat, 64) == math.inf


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        brisque(np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match="NaN"):
        niqe(np.full((1, 128, 128), np.nan), 64)


def test_half_is_antialiased_bicubic(f16_gray):
    # Away from the border our MATLAB-imresize-style downscale equals PIL's bicubic.
    lum = f16_gray[0].astype(np.float64) * 255
    pil = Image.fromarray(lum.astype(np.float32), mode="F").resize((128, 128), Image.BICUBIC)
    np.testing.assert_allclose(_half(lum)[4:-4, 4:-4], np.asarray(pil)[4:-4, 4:-4], atol=1e-3)


def test_registry():
    assert set(IQA_SCORES) == {"brisque", "niqe"}
    assert IQA_SCORES["brisque"] is brisque
    assert IQA_SCORES["niqe"] is niqe
