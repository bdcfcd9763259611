"""The image contract, checked in one place: NumPy arrays for the analysis functions, ``1×C×H×W``
tensors in [0, 1] for a run (one message everywhere).
"""

from __future__ import annotations

import numpy as np
import torch


def check_float_array(image: object) -> None:
    """Raise ``ValueError`` unless ``image`` is a floating-point NumPy array.

    Examples
    --------
    >>> check_float_array(np.zeros((2, 2), np.uint8))
    Traceback (most recent call last):
    ...
    ValueError: image must be floating point with values in [0, 1], got dtype uint8 (convert 8-bit pixels with image / 255)
    """  # noqa: E501 - a doctest line
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(
            f"image must be floating point with values in [0, 1], got dtype {image.dtype} "
            "(convert 8-bit pixels with image / 255)"
        )


def check_image_tensor(y: torch.Tensor, name: str = "y") -> None:
    """Check the image contract: float ``1×C×H×W`` with finite values in [0, 1]."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.ndim != 4 or y.shape[0] != 1:
        raise ValueError(f"{name} must have shape 1×C×H×W, got {tuple(y.shape)}")
    if not y.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {y.dtype}")
    if not torch.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    lo, hi = float(y.min()), float(y.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
