"""Inpainting and super-resolution baselines: recovery of smooth synthetic images, the array
contract (shapes, dtype, known pixels kept, inputs untouched), masks per channel and input checks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autodip.bench.baselines import (
    BASELINES,
    INPAINT_BASELINES,
    SR_BASELINES,
    TASK_BASELINES,
    bicubic,
    biharmonic,
    inpaint_baseline,
    lanczos,
    navier_stokes,
    telea,
    upscale_baseline,
)
from autodip.metrics.full_reference import psnr
from autodip.physics.operators import SuperResolve

INPAINTERS = pytest.mark.parametrize("name", sorted(INPAINT_BASELINES))
UPSCALERS = pytest.mark.parametrize("name", sorted(SR_BASELINES))
CHANNELS = pytest.mark.parametrize("channels", [1, 3], ids=["gray", "rgb"])
#: Least PSNR (dB) on the smooth 48² image with half its pixels or a 10×10 hole unknown: OpenCV's
#: one-pass methods measure 36.4–43.3 dB, the biharmonic fill 59.5–72.2 dB (input: 8–26 dB).
INPAINT_FLOOR = {"telea": 35.0, "navier-stokes": 40.0, "biharmonic": 55.0}


def smooth_image(channels: int, size: int = 48) -> np.ndarray:
    """Shifted sinusoids per channel, in [0.2, 0.8]."""
    y, x = np.mgrid[0:size, 0:size] / size
    planes = [0.5 + 0.3 * np.sin(2 * np.pi * (x + 0.5 * y) + k) for k in range(channels)]
    return np.stack(planes).astype(np.float32)


def masks(size: int = 48) -> dict[str, np.ndarray]:
    """Half of the pixels dropped at random (seeded), and a 10×10 hole; 1 = known."""
    scattered = (np.random.default_rng(0).random((size, size)) >= 0.5).astype(np.float32)
    hole = np.ones((size, size), np.float32)
    hole[16:26, 20:30] = 0
    return {"scattered": scattered, "hole": hole}


def low_resolution(hr: np.ndarray, factor: int) -> np.ndarray:
    """The measurement `autodip bench` and the tasks benchmark make: SuperResolve's A."""
    return SuperResolve(factor).A(torch.from_numpy(hr)[None])[0].clamp(0, 1).numpy()


def test_registries():
    assert set(INPAINT_BASELINES) == {"telea", "navier-stokes", "biharmonic"}
    assert INPAINT_BASELINES["telea"] is telea and INPAINT_BASELINES["biharmonic"] is biharmonic
    assert INPAINT_BASELINES["navier-stokes"] is navier_stokes
    assert set(SR_BASELINES) == {"bicubic", "lanczos"}
    assert SR_BASELINES["bicubic"] is bicubic and SR_BASELINES["lanczos"] is lanczos
    assert set(TASK_BASELINES) == {"denoise", "inpaint", "sr"}
    assert TASK_BASELINES["denoise"] is BASELINES and TASK_BASELINES["sr"] is SR_BASELINES
    assert TASK_BASELINES["inpaint"] is INPAINT_BASELINES


@INPAINTERS
@CHANNELS
@pytest.mark.parametrize("kind", ["scattered", "hole"])
def test_inpainting_recovers_a_smooth_image(name, channels, kind):
    clean, mask = smooth_image(channels), masks()[kind]
    damaged = clean * mask
    before = damaged.copy()
    filled, seconds = inpaint_baseline(name, damaged, mask)
    assert psnr(filled, clean) > INPAINT_FLOOR[name]
    assert np.abs(filled - clean).max() < 0.15
    assert filled.dtype == np.float32 and filled.shape == clean.shape and seconds > 0
    np.testing.assert_array_equal(filled[:, mask > 0.5], damaged[:, mask > 0.5])  # known kept
    np.testing.assert_array_equal(damaged, before)  # input untouched


@INPAINTERS
def test_opencv_fill_is_exact_on_a_constant_image(name):
    """OpenCV's Telea adds 0.5 and a unit gradient term meant for grey levels: on [0, 1] floats
    the fill would be off by up to ~1.4; through 16-bit it is exact to 1e-4.
    """
    flat = np.full((3, 24, 24), 0.3, dtype=np.float32)
    mask = masks(24)["scattered"]
    filled = INPAINT_BASELINES[name](flat * mask, mask)
    np.testing.assert_allclose(filled, 0.3, atol=1e-4)


@INPAINTERS
def test_mask_per_channel_and_odd_size(name):
    clean = smooth_image(3, size=40)[:, :37, :31]
    mask = np.ones_like(clean)
    mask[0, 5:9, 5:9] = 0
    mask[2, 20:25, 10:14] = 0
    filled = INPAINT_BASELINES[name](clean * mask, mask)
    assert filled.shape == (3, 37, 31)
    np.testing.assert_array_equal(filled[1], clean[1])  # nothing to fill there
    assert np.abs(filled - clean).max() < 0.05


@INPAINTERS
def test_nothing_unknown_returns_the_image(name):
    image = smooth_image(1, size=16)
    filled = INPAINT_BASELINES[name](image, np.ones((16, 16)))
    np.testing.assert_array_equal(filled, image)
    assert filled is not image


@INPAINTERS
@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.ones((16, 15)), "mask must be"),
        (np.ones((2, 16, 16)), "mask must be"),
        (np.zeros((16, 16)), "no known pixel"),
        (np.stack([np.ones((16, 16)), np.zeros((16, 16)), np.ones((16, 16))]), "no known pixel"),
        (np.full((16, 16), np.nan), "NaN"),
        (np.full((16, 16), "1"), "numbers"),
    ],
    ids=["shape", "channels", "all-unknown", "one-channel-unknown", "nan", "strings"],
)
def test_invalid_mask_raises_value_error(name, mask, message):
    with pytest.raises(ValueError, match=message):
        INPAINT_BASELINES[name](smooth_image(3, size=16), mask)


@INPAINTERS
def test_invalid_image_raises_value_error(name):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        INPAINT_BASELINES[name](np.full((1, 16, 16), 2.0, np.float32), np.ones((16, 16)))
    with pytest.raises(ValueError, match="C×H×W"):
        INPAINT_BASELINES[name](np.full((16, 16), 0.5, np.float32), np.ones((16, 16)))


@UPSCALERS
@CHANNELS
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_upscaling_has_factor_size_and_beats_nearest_neighbour(name, channels, factor):
    hr = smooth_image(channels)
    low = low_resolution(hr, factor)
    before = low.copy()
    up, seconds = upscale_baseline(name, low, factor)
    assert up.shape == (channels, 48, 48) and up.dtype == np.float32 and seconds > 0
    assert up.min() >= 0.0 and up.max() <= 1.0
    nearest = low.repeat(factor, axis=1).repeat(factor, axis=2)
    assert psnr(up, hr) > psnr(nearest, hr) + 10.0  # measured: +11.8 to +16.2 dB
    np.testing.assert_array_equal(low, before)


@UPSCALERS
def test_upscaling_odd_sizes_and_a_constant(name):
    up = SR_BASELINES[name](np.full((2, 7, 5), 0.4, dtype=np.float32), 3)
    assert up.shape == (2, 21, 15)
    np.testing.assert_allclose(up, 0.4, atol=1e-6)


@UPSCALERS
@pytest.mark.parametrize("factor", [1, 65, 2.0, 2.5, True, "2"])
def test_invalid_factor_raises_value_error(name, factor):
    with pytest.raises(ValueError, match="factor"):
        upscale_baseline(name, np.zeros((1, 4, 4), np.float32), factor)


def test_numpy_integer_factor_is_accepted():
    assert bicubic(np.zeros((1, 4, 4), np.float32), np.int64(2)).shape == (1, 8, 8)


@pytest.mark.parametrize(
    ("call", "guess", "names"),
    [
        (lambda: inpaint_baseline("telia", np.zeros((1, 8, 8), np.float32), np.ones((8, 8))),
         "telea", "biharmonic, navier-stokes, telea"),
        (lambda: upscale_baseline("bicubc", np.zeros((1, 8, 8), np.float32), 2),
         "bicubic", "bicubic, lanczos"),
    ],
    ids=["inpaint", "sr"],
)  # fmt: skip
def test_unknown_name_lists_close_matches_and_all_names(call, guess, names):
    with pytest.raises(KeyError, match=f"Did you mean '{guess}'") as caught:
        call()
    assert f"Available: {names}" in str(caught.value)
