import numpy as np
import pytest

from autodip.analysis.texture import (
    FEATURE_NAMES,
    radial_power_spectrum,
    robust_texture_features,
    texture_features,
    to_gray,
)
from autodip.physics.noise import add_gaussian_noise


def smooth_gradient(h=64, w=80):
    yy, xx = np.mgrid[0:h, 0:w]
    return (0.2 + 0.3 * xx / (w - 1) + 0.3 * yy / (h - 1))[None].astype(np.float32)


def random_texture(h=64, w=80, seed=0):
    return np.random.default_rng(seed).random((1, h, w)).astype(np.float32)


@pytest.mark.parametrize("make", [smooth_gradient, random_texture])
def test_features_are_finite_deterministic_and_named(make):
    image = make()
    first, second = texture_features(image), texture_features(image.copy())
    assert tuple(first) == FEATURE_NAMES
    assert first == second
    assert all(np.isfinite(v) for v in first.values())
    robust = robust_texture_features(image)
    assert set(robust) == {*FEATURE_NAMES, "noise_sigma", "prefilter_px"}
    assert robust == robust_texture_features(image)
    assert all(np.isfinite(v) for v in robust.values())


def test_input_is_not_modified(sample_noisy):
    before = sample_noisy.copy()
    texture_features(sample_noisy)
    robust_texture_features(sample_noisy)
    assert np.array_equal(before, sample_noisy)


def test_smooth_gradient_and_random_texture_differ_in_the_expected_direction():
    smooth, rough = texture_features(smooth_gradient()), texture_features(random_texture())
    assert smooth["glcm_contrast_0"] < 10 < 1000 < rough["glcm_contrast_0"]
    assert smooth["glcm_homogeneity_45"] > rough["glcm_homogeneity_45"]
    assert smooth["glcm_correlation_0"] > 0.99 and abs(rough["glcm_correlation_0"]) < 0.1
    # Energy of the gradient sits at the lowest frequencies; white noise spreads over the band.
    assert smooth["psd_r75"] < 0.1 < 0.6 < rough["psd_r75"]
    assert smooth["psd_high_fraction"] < 0.01 < 0.5 < rough["psd_high_fraction"]
    assert smooth["psd_slope"] < -2 and abs(rough["psd_slope"]) < 0.3


def test_white_noise_has_a_flat_spectrum_at_its_variance():
    rng = np.random.default_rng(1)
    gray = 0.5 + 0.1 * rng.standard_normal((128, 128))
    radius, log_power, energy = radial_power_spectrum(gray)
    assert radius[0] == 1 / 128 and radius[-1] == 0.5
    # Mean of log of an exponential variable is log(mean) − γ (Euler's constant).
    # (The Hann window leaves fewer independent samples, hence the loose tolerance.)
    assert np.mean(log_power[8:]) == pytest.approx(np.log(0.01) - 0.5772, abs=0.12)
    assert abs(np.polyfit(np.log(radius[8:]), log_power[8:], 1)[0]) < 0.1
    assert np.all(energy > 0)


def test_gray_rgb_and_single_channel_agree():
    gray = random_texture(seed=3)
    rgb = np.repeat(gray, 3, axis=0)
    assert np.allclose(to_gray(rgb), gray[0])
    assert texture_features(rgb) == pytest.approx(texture_features(gray), rel=1e-9, abs=1e-12)
    assert texture_features(gray[0]) == texture_features(gray)


def test_flat_image_gives_defined_values():
    flat = np.full((1, 16, 16), 0.5, dtype=np.float32)
    assert texture_features(flat) == {
        "glcm_correlation_0": 1.0,
        "glcm_homogeneity_45": 1.0,
        "glcm_contrast_0": 0.0,
        "psd_r75": 0.0,
        "psd_slope": 0.0,
        "psd_high_fraction": 0.0,
    }


def test_prefilter_scales_with_the_noise_and_undoes_most_of_its_contrast():
    clean = smooth_gradient(96, 96)
    noisy = add_gaussian_noise(clean, 25, seed=0)
    robust = robust_texture_features(noisy)
    assert robust["noise_sigma"] == pytest.approx(25, rel=0.1)
    assert robust["prefilter_px"] == pytest.approx(robust["noise_sigma"] / 25)
    raw = texture_features(noisy)
    assert raw["glcm_contrast_0"] > 1000  # ≈ 2σ² on the 0–255 scale
    assert robust["glcm_contrast_0"] < raw["glcm_contrast_0"] / 5
    given = robust_texture_features(noisy, sigma=0.0)
    assert given["prefilter_px"] == 0 and given["glcm_contrast_0"] == raw["glcm_contrast_0"]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((1, 16, 16), dtype=np.uint8), "floating-point"),
        (np.zeros((1, 4, 16), dtype=np.float32), "at least 8×8"),
        (np.full((1, 16, 16), np.nan, dtype=np.float32), "NaN"),
        (np.zeros((2, 1, 16, 16), dtype=np.float32), "H×W or C×H×W"),
    ],
)
def test_bad_inputs_are_rejected(image, message):
    with pytest.raises(ValueError, match=message):
        texture_features(image)
    with pytest.raises(ValueError):
        robust_texture_features(image)
