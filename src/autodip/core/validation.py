"""The image contract, checked in one place: NumPy arrays for the analysis functions, ``1×C×H×W``
tensors in [0, 1] for a run (one message everywhere).
"""

from __future__ import annotations

from typing import Any

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


def as_chw(
    image: Any,
    what: str = "image",
    *,
    dtype: Any = None,
    floating: bool = False,
    channels: tuple[int, ...] | None = None,
    finite: bool = False,
    single_batch: bool = False,
) -> np.ndarray:
    """``image`` as a ``C×H×W`` NumPy array: the one coercion of every module that takes pixels.

    Accepts ``H×W`` (one channel) and ``C×H×W`` arrays or tensors (a tensor is detached and copied
    to the CPU), and ``1×C×H×W`` with ``single_batch``.

    Parameters
    ----------
    image
        The pixels.
    what
        The argument's name in error messages.
    dtype
        Convert to this dtype (``None``: keep it).
    floating
        Refuse integer pixels (they are not in [0, 1]).
    channels
        The channel counts allowed (``None``: any).
    finite
        Refuse NaN and infinite values.
    single_batch
        Accept a batch of one image, ``1×C×H×W``.

    Raises
    ------
    ValueError
        Naming ``what`` and the shape or dtype that is wrong.

    Examples
    --------
    >>> as_chw(np.zeros((4, 5))).shape
    (1, 4, 5)
    >>> as_chw(torch.zeros(1, 3, 4, 5), dtype=np.float64, single_batch=True).dtype
    dtype('float64')
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu().numpy()
    array = np.asarray(image)
    if floating and array.dtype.kind != "f":
        raise ValueError(f"{what} must be floating point in [0, 1], got dtype {array.dtype}")
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    if single_batch and array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(f"{what}: expected a single image, got a batch of {array.shape[0]}")
        array = array[0]
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or 0 in array.shape:
        raise ValueError(
            f"{what} must be a non-empty C×H×W (or H×W) array, got shape {array.shape}"
        )
    if channels is not None and array.shape[0] not in channels:
        allowed = " or ".join(map(str, channels))
        raise ValueError(f"{what} must have {allowed} channels, got shape {array.shape}")
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"{what} contains NaN or infinity")
    return array
