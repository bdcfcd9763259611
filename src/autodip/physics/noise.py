"""Synthetic corruptions for tests and benchmarks, always seeded.

Gaussian noise follows the DIP convention: ``σ`` is given on the 0–255 scale and the noisy image is
clipped to [0, 1] (Ulyanov et al., ``get_noisy_image``). Poisson noise with peak ``scale`` draws
``Poisson(x / scale) · scale``.
"""

from __future__ import annotations

import numpy as np


def add_gaussian_noise(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Return ``clip(image + N(0, (sigma/255)²), 0, 1)`` as float32; ``image`` is left unchanged.

    Examples
    --------
    >>> clean = np.full((1, 64, 64), 0.5, dtype=np.float32)
    >>> noisy = add_gaussian_noise(clean, 25, seed=0)
    >>> bool(abs(noisy.std() * 255 - 25) < 1.5)
    True
    """
    if sigma < 0:
        raise ValueError(f"sigma must be non-negative, got {sigma}")
    rng = np.random.default_rng(seed)
    noisy = image + rng.normal(0.0, sigma / 255.0, size=image.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def add_poisson_noise(image: np.ndarray, scale: float, seed: int = 0) -> np.ndarray:
    """Return ``clip(Poisson(image / scale) · scale, 0, 1)`` as float32
    (smaller scale, less noise).
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    rng = np.random.default_rng(seed)
    return np.clip(rng.poisson(image / scale) * scale, 0.0, 1.0).astype(np.float32)
