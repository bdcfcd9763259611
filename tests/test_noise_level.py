from importlib import resources

import numpy as np
import pytest

from autodip.analysis.noise_level import _haar_hh, estimate_sigma
from autodip.io import read_image
from autodip.physics.noise import add_gaussian_noise


@pytest.fixture(scope="module")
def f16() -> np.ndarray:
    pixels, _ = read_image(str(resources.files("autodip") / "data" / "f16_256_clean.png"))
    return pixels


@pytest.mark.parametrize("sigma", [5, 25, 50])
def test_flat_image_estimate_within_five_percent(sigma):
    flat = np.full((1, 128, 128), 0.5, dtype=np.float32)
    assert estimate_sigma(add_gaussian_noise(flat, sigma, seed=0)) == pytest.approx(sigma, rel=0.05)


def test_colour_is_the_mean_of_the_channel_estimates():
    flat = np.full((3, 64, 64), 0.5, dtype=np.float32)
    noisy = add_gaussian_noise(flat, 20, seed=2)
    per_channel = [estimate_sigma(channel, method="wavelet") for channel in noisy]
    assert estimate_sigma(noisy, method="wavelet") == pytest.approx(np.mean(per_channel))
    # 1×H×W == H×W, for both rules
    assert estimate_sigma(noisy[:1], method="wavelet") == pytest.approx(per_channel[0])
    assert estimate_sigma(noisy[:1]) == pytest.approx(estimate_sigma(noisy[0]))


def test_smooth_sample_at_sigma_25_within_fifteen_percent(f16):
    noisy = add_gaussian_noise(f16, 25, seed=0)
    assert estimate_sigma(noisy) == pytest.approx(25, rel=0.15)
    assert estimate_sigma(noisy, method="wavelet") == pytest.approx(25, rel=0.15)
    assert estimate_sigma(noisy, method="wavelet", clip_correction=True) == pytest.approx(
        25, rel=0.15
    )


def test_estimate_is_monotone_in_sigma(f16):
    crop = f16[:, :128, :128]
    sigmas = [0, 5, 10, 25, 50, 75]
    for options in ({}, {"method": "wavelet"}, {"method": "wavelet", "clip_correction": True}):
        estimates = [estimate_sigma(add_gaussian_noise(crop, s, seed=0), **options) for s in sigmas]
        assert np.all(np.diff(estimates) > 0), estimates


def test_clip_correction_reduces_the_clipping_bias(f16):
    noisy = add_gaussian_noise(f16[:, :128, :128], 75, seed=0)
    plain = estimate_sigma(noisy, method="wavelet")
    corrected = estimate_sigma(noisy, method="wavelet", clip_correction=True)
    assert plain < 0.9 * 75  # clipping lowers the plain estimate
    assert abs(corrected - 75) < abs(plain - 75)


def test_clip_correction_with_fewer_than_64_usable_blocks_keeps_the_plain_estimate():
    small = add_gaussian_noise(np.full((1, 14, 14), 0.5, dtype=np.float32), 25, seed=0)  # 49
    wavelet = {"method": "wavelet"}
    assert estimate_sigma(small, clip_correction=True, **wavelet) == estimate_sigma(
        small, **wavelet
    )
    black = np.zeros((1, 64, 64), dtype=np.float32)  # no block mean is above the margin
    assert estimate_sigma(black, clip_correction=True, **wavelet) == 0
    assert estimate_sigma(black, **wavelet) == 0


def _stripes(size: int = 128) -> np.ndarray:
    """A textured image: fine stripes in two directions, strong in the finest wavelet band."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    texture = 0.5 + 0.2 * np.sin(2.6 * x + 0.3 * y) + 0.15 * np.sin(2.9 * y - 0.5 * x)
    return np.stack([texture, 0.9 * texture, 0.8 * texture + 0.1])


def test_texture_leaves_the_pca_estimate_where_it_moves_the_wavelet_one():
    noisy = add_gaussian_noise(_stripes(), 15, seed=0)
    pca, wavelet = estimate_sigma(noisy), estimate_sigma(noisy, method="wavelet")
    assert pca == pytest.approx(15, rel=0.08)
    assert wavelet > 1.3 * 15  # the stripes read as noise in the HH band


def test_the_pca_estimate_reads_only_known_patches():
    flat = add_gaussian_noise(np.full((3, 96, 96), 0.5, dtype=np.float32), 20, seed=1)
    known = np.ones((96, 96))
    known[::16, :] = 0  # a hole every 16th row: 7×7 patches fit between them
    known[:, 40:50] = 0
    holed = flat * known  # holes are black, not noise
    assert estimate_sigma(holed, known=known) == pytest.approx(20, rel=0.05)
    # without the mask the noiseless holes pull the estimate down
    assert estimate_sigma(holed) < estimate_sigma(holed, known=known) - 1


def test_too_few_patches_for_pca_falls_back_to_the_wavelet_rule():
    small = add_gaussian_noise(np.full((3, 16, 16), 0.5, dtype=np.float32), 25, seed=0)
    assert estimate_sigma(small) == estimate_sigma(small, method="wavelet")


def test_the_method_is_checked():
    image = np.full((1, 32, 32), 0.5, dtype=np.float32)
    with pytest.raises(ValueError, match="method must be one of pca, wavelet"):
        estimate_sigma(image, method="mad")
    with pytest.raises(ValueError, match="clip_correction is for method='wavelet'"):
        estimate_sigma(image, clip_correction=True)


def test_haar_hh_is_the_orthonormal_diagonal_band():
    x = np.arange(20, dtype=np.float64).reshape(4, 5) ** 2  # odd width: last column dropped
    expected = np.array(
        [
            [(x[i, j] - x[i, j + 1] - x[i + 1, j] + x[i + 1, j + 1]) / 2 for j in (0, 2)]
            for i in (0, 2)
        ]
    )
    np.testing.assert_allclose(_haar_hh(x), expected)
    # a linear ramp has no diagonal detail; a 2×2 checkerboard is all diagonal detail
    assert np.allclose(_haar_hh(np.add.outer(np.arange(6.0), np.arange(6.0))), 0)
    checker = np.indices((4, 4)).sum(axis=0) % 2 * 1.0
    assert np.allclose(np.abs(_haar_hh(checker)), 1.0)


def test_input_is_not_modified_and_float64_works():
    noisy = add_gaussian_noise(np.full((1, 16, 16), 0.5, dtype=np.float32), 25, seed=0)
    copy = noisy.copy()
    assert estimate_sigma(noisy.astype(np.float64)) == pytest.approx(estimate_sigma(noisy))
    assert np.array_equal(noisy, copy)


def test_two_by_two_is_the_smallest_image():
    assert estimate_sigma(np.array([[0.0, 1.0], [1.0, 0.0]])) == pytest.approx(
        255 / 0.6745, rel=1e-3
    )


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ([[0.5, 0.5], [0.5, 0.5]], "numpy array"),
        (np.zeros((4, 4), dtype=np.uint8), "floating point"),
        (np.zeros((4, 4), dtype=bool), "floating point"),
        (np.zeros(16), "H×W or C×H×W"),
        (np.zeros((1, 1, 4, 4)), "H×W or C×H×W"),
        (np.zeros((64, 64, 3)), "channels-last"),
        (np.zeros((0, 4, 4)), "1 ≤ C"),
        (np.zeros((1, 1, 8)), "at least 2×2"),
        (np.zeros((8, 1)), "at least 2×2"),
        (np.array([[0.0, np.nan], [0.0, 0.0]]), "NaN or infinity"),
        (np.array([[0.0, np.inf], [0.0, 0.0]]), "NaN or infinity"),
    ],
)
def test_bad_input_raises_value_error(image, message):
    with pytest.raises(ValueError, match=message):
        estimate_sigma(image)


def test_the_same_pixels_are_estimated_once_and_others_again(monkeypatch):
    from autodip.analysis import noise_level

    calls = []
    real = noise_level._pca_sigma
    monkeypatch.setattr(noise_level, "_pca_sigma", lambda *a: calls.append(1) or real(*a))
    noisy = add_gaussian_noise(np.full((3, 64, 64), 0.5, dtype=np.float32), 20, seed=7)
    first = estimate_sigma(noisy)
    assert estimate_sigma(noisy.copy()) == first and len(calls) == 1  # same pixels: cached
    other = noisy.copy()
    other[0, 0, 0] += 0.5
    estimate_sigma(other)  # one pixel changed: estimated again
    known = np.ones((64, 64))
    known[:8] = 0
    estimate_sigma(noisy, known=known)  # another mask: estimated again
    assert len(calls) == 3
