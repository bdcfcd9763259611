import numpy as np
import pytest

from autodip.physics.noise import add_gaussian_noise, add_poisson_noise


def test_gaussian_noise_is_seeded_clipped_and_has_the_right_sigma():
    clean = np.full((1, 128, 128), 0.5, dtype=np.float32)
    a = add_gaussian_noise(clean, 25, seed=3)
    assert np.array_equal(a, add_gaussian_noise(clean, 25, seed=3))
    assert not np.array_equal(a, add_gaussian_noise(clean, 25, seed=4))
    assert abs(a.std() * 255 - 25) < 1
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    assert np.all(clean == 0.5)  # input untouched


def test_poisson_noise_grows_with_scale():
    clean = np.full((1, 64, 64), 0.5, dtype=np.float32)
    low, high = add_poisson_noise(clean, 0.01, seed=0), add_poisson_noise(clean, 0.1, seed=0)
    assert low.std() < high.std()


def test_negative_sigma_is_rejected():
    with pytest.raises(ValueError):
        add_gaussian_noise(np.zeros((1, 4, 4)), -1)
