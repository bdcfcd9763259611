"""Checks shared by the functions that take an image as a NumPy array (one message everywhere)."""

from __future__ import annotations

import numpy as np


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
