import math

import numpy as np
import pytest
import torch

from autodip.metrics.full_reference import psnr, ssim


def test_psnr_known_value_and_data_range():
    ref = np.zeros((1, 8, 8))
    assert psnr(ref + 0.1, ref) == pytest.approx(20.0)
    assert psnr(ref + 25.5, ref, data_range=255) == pytest.approx(20.0)
    assert math.isinf(psnr(ref, ref))


def test_metrics_accept_tensors_and_arrays():
    x = torch.rand(1, 3, 16, 16)
    assert psnr(x, x.numpy()[0] * 0.9) == pytest.approx(psnr(x.numpy(), x[0] * 0.9))


def test_ssim_is_one_for_identical_and_lower_for_noisy():
    rng = np.random.default_rng(0)
    x = rng.random((3, 32, 32))
    assert ssim(x, x) == pytest.approx(1.0)
    assert ssim(np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1), x) < 0.9


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(np.zeros((1, 4, 4)), np.zeros((1, 4, 5)))


def test_psnr_y_uses_bt601_luma_and_shaves_the_border():
    from autodip.metrics.full_reference import psnr_y

    ref = np.zeros((3, 10, 10))
    img = ref.copy()
    img[1] += 0.1  # green only: ΔY = 128.553 · 0.1 / 255
    expected = -20 * np.log10(128.553 * 0.1 / 255)
    assert psnr_y(img, ref) == pytest.approx(expected)
    img[:, :2, :] = 1.0  # a damaged border is ignored once shaved
    assert psnr_y(img, ref, border=2) == pytest.approx(expected)
    with pytest.raises(ValueError, match="border"):
        psnr_y(img, ref, border=5)
