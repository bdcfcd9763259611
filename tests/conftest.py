"""Shared fixtures: tiny seeded images (≤ 64²) so the suite stays fast on a 2-core CPU."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import torch

from autodip.io import read_image
from autodip.physics.noise import add_gaussian_noise


@pytest.fixture(scope="session")
def sample_clean() -> np.ndarray:
    """64×64 RGB crop of the bundled F16 sample, float32 C×H×W in [0, 1]."""
    path = resources.files("autodip") / "data" / "f16_256_clean.png"
    pixels, _ = read_image(str(path))
    return np.ascontiguousarray(pixels[:, 100:164, 60:124])


@pytest.fixture(scope="session")
def sample_noisy(sample_clean: np.ndarray) -> np.ndarray:
    """The crop with Gaussian noise σ = 25, seed 1."""
    return add_gaussian_noise(sample_clean, 25, seed=1)


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
