"""Classical baselines: each denoises a seeded σ = 25 image with the true and the estimated σ,
keeps the array contract, validates its inputs and names its missing optional dependency.

BM3D's reference binary costs about 0.7 s per gray and 2 s per RGB call whatever the size, so
each (baseline, image, σ) result is computed once per module and shared by the tests.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from autodip.analysis.noise_level import estimate_sigma
from autodip.bench.baselines import (
    BASELINES,
    OptionalDependencyError,
    bm3d,
    denoise_baseline,
    nlm,
    tv_chambolle,
    wavelet,
)
from autodip.metrics.full_reference import psnr
from autodip.physics.noise import add_gaussian_noise

SIGMA = 25.0
#: The import each baseline needs beyond autodip's own dependencies.
NEEDS = {"bm3d": "bm3d", "wavelet": "pywt"}
SIGMAS = pytest.mark.parametrize("sigma", [SIGMA, None], ids=["true-sigma", "estimated-sigma"])


def smooth_image(channels: int, size: int = 48) -> np.ndarray:
    """Shifted sinusoids per channel plus a brighter rectangle (so there are edges too)."""
    y, x = np.mgrid[0:size, 0:size] / size
    planes = [0.5 + 0.3 * np.sin(2 * np.pi * (x + 0.5 * y) + k) for k in range(channels)]
    clean = np.stack(planes)
    clean[:, size // 4 : size // 2, size // 4 : 3 * size // 4] += 0.15
    return np.clip(clean, 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def images() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Channels -> (clean, noisy at σ = 25), for a gray and an RGB 48×48 image."""
    return {
        c: (smooth_image(c), add_gaussian_noise(smooth_image(c), SIGMA, seed=c)) for c in (1, 3)
    }


@pytest.fixture(scope="module")
def results(images):
    """``results(name, channels, sigma)``: `denoise_baseline`'s answer, computed once."""
    cache: dict[tuple[str, int, float | None], tuple[np.ndarray, float, float]] = {}

    def get(name: str, channels: int, sigma: float | None):
        if name in NEEDS:
            pytest.importorskip(NEEDS[name])
        key = (name, channels, sigma)
        if key not in cache:
            cache[key] = denoise_baseline(name, images[channels][1], sigma)
        return cache[key]

    return get


def test_registry_names():
    assert set(BASELINES) == {"bm3d", "nlm", "tv", "wavelet"}
    assert BASELINES["tv"] is tv_chambolle and BASELINES["nlm"] is nlm
    assert BASELINES["wavelet"] is wavelet and BASELINES["bm3d"] is bm3d


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("channels", [1, 3], ids=["gray", "rgb"])
@SIGMAS
def test_gains_more_than_3_db(name, channels, sigma, images, results):
    clean, noisy = images[channels]
    denoised, _, _ = results(name, channels, sigma)
    assert psnr(denoised, clean) > psnr(noisy, clean) + 3.0


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("channels", [1, 3], ids=["gray", "rgb"])
@SIGMAS
def test_output_contract_and_sigma_used(name, channels, sigma, images, results):
    clean, noisy = images[channels]
    denoised, used, seconds = results(name, channels, sigma)
    assert denoised.dtype == np.float32
    assert denoised.shape == noisy.shape
    assert denoised.min() >= 0.0 and denoised.max() <= 1.0
    assert seconds > 0.0
    wavelet = estimate_sigma(noisy, method="wavelet")  # the classical estimate baselines use
    assert used == (SIGMA if sigma is not None else pytest.approx(wavelet))
    assert sigma is not None or abs(used - SIGMA) < 0.15 * SIGMA  # the estimate is sensible
    np.testing.assert_array_equal(noisy, add_gaussian_noise(clean, SIGMA, seed=channels))


@pytest.mark.parametrize("name", ["tv", "nlm", "wavelet"])
def test_other_channel_counts_and_odd_sizes(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    noisy = add_gaussian_noise(smooth_image(2, size=40)[:, :37, :31], SIGMA, seed=5)
    out = BASELINES[name](noisy, SIGMA)
    assert out.shape == (2, 37, 31) and out.dtype == np.float32


@pytest.mark.parametrize("name", ["tv", "nlm", "wavelet"])
def test_larger_sigma_smooths_more(name, images):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    noisy = images[1][1]
    removed = [np.abs(BASELINES[name](noisy, s) - noisy).mean() for s in (10.0, 50.0)]
    assert removed[1] > removed[0]


def fake_bm3d(calls: list[tuple[str, tuple[int, ...], float]]) -> SimpleNamespace:
    """A stand-in for the bm3d package that records (function, input shape, sigma_psd)."""

    def record(function: str):
        def run(z: np.ndarray, sigma_psd: float) -> np.ndarray:
            calls.append((function, z.shape, sigma_psd))
            return z

        return run

    return SimpleNamespace(bm3d=record("bm3d"), bm3d_rgb=record("bm3d_rgb"))


@pytest.mark.parametrize(
    ("channels", "expected"),
    [(1, ["bm3d"]), (3, ["bm3d_rgb"]), (2, ["bm3d", "bm3d"])],
    ids=["gray", "rgb", "two-channels"],
)
def test_bm3d_dispatch_and_sigma_scale(monkeypatch, channels, expected):
    calls: list[tuple[str, tuple[int, ...], float]] = []
    monkeypatch.setitem(sys.modules, "bm3d", fake_bm3d(calls))
    image = smooth_image(channels, size=16)[:, :16, :12]
    out = bm3d(image, 51.0)
    assert [function for function, _, _ in calls] == expected
    shapes = {shape for _, shape, _ in calls}
    assert shapes == ({(16, 12, 3)} if channels == 3 else {(16, 12)})  # channels last
    assert all(sigma_psd == pytest.approx(0.2) for _, _, sigma_psd in calls)  # 51 / 255
    np.testing.assert_allclose(out, image, atol=1e-7)


@pytest.mark.parametrize(
    ("name", "module", "needed"),
    [("bm3d", "bm3d", "NON-COMMERCIAL"), ("wavelet", "pywt", "PyWavelets")],
)
def test_missing_optional_dependency_says_how_to_install(monkeypatch, name, module, needed):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    noisy = add_gaussian_noise(smooth_image(1, size=16), SIGMA, seed=0)
    with pytest.raises(OptionalDependencyError, match=r"autodip\[bench\]") as caught:
        denoise_baseline(name, noisy, SIGMA)
    assert isinstance(caught.value, ModuleNotFoundError)
    assert needed in str(caught.value)


def test_unknown_name_lists_close_matches_and_all_names(images):
    with pytest.raises(KeyError, match="Did you mean 'nlm'") as caught:
        denoise_baseline("nlmm", images[1][1], SIGMA)
    assert "Available: bm3d, nlm, tv, wavelet" in str(caught.value)


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("sigma", [0.0, -5.0, float("nan"), float("inf"), True, "25"])
def test_invalid_sigma_raises_value_error(name, sigma, images):
    noisy = images[1][1]
    with pytest.raises(ValueError, match="sigma"):
        BASELINES[name](noisy, sigma)
    with pytest.raises(ValueError, match="sigma"):
        denoise_baseline(name, noisy, sigma)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((1, 16, 16), 128, dtype=np.uint8), "floating point"),
        (np.full((16, 16), 0.5, dtype=np.float32), "C×H×W"),
        (np.full((24, 24, 3), 0.5, dtype=np.float32), "C×H×W"),
        (np.full((1, 4, 16), 0.5, dtype=np.float32), "at least 8×8"),
        (np.full((1, 16, 16), np.nan, dtype=np.float32), "NaN"),
        (np.full((1, 16, 16), 1.5, dtype=np.float32), r"\[0, 1\]"),
        ([[[0.5] * 16] * 16], "numpy array"),
    ],
    ids=["uint8", "HxW", "HxWxC", "too-small", "nan", "out-of-range", "list"],
)
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_invalid_image_raises_value_error(name, image, message):
    with pytest.raises(ValueError, match=message):
        BASELINES[name](image, SIGMA)
    with pytest.raises(ValueError, match=message):
        denoise_baseline(name, image)


def test_noise_free_image_is_returned_when_estimated_sigma_is_zero():
    flat = np.full((3, 16, 16), 0.25, dtype=np.float32)
    denoised, used, _ = denoise_baseline("nlm", flat)
    assert used == 0.0
    np.testing.assert_array_equal(denoised, flat)
    assert denoised is not flat
