"""Move images between numpy (C×H×W pixels) and torch (the 1×C×H×W tensor a network sees)."""

from __future__ import annotations

import numpy as np
import torch

from autodip.core.validation import as_chw

__all__ = ["image_to_tensor", "tensor_to_image"]


def image_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """Turn C×H×W float pixels into a 1×C×H×W float32 tensor for a network.

    Parameters
    ----------
    pixels : numpy.ndarray
        C×H×W (or H×W) floating-point image, normally from `read_image`.

    Returns
    -------
    torch.Tensor
        A new 1×C×H×W ``float32`` CPU tensor; it shares no memory with ``pixels``.

    Raises
    ------
    ValueError
        If ``pixels`` is not a 2-D or 3-D floating-point array.
    """
    chw = _as_chw(pixels, "pixels")
    return torch.from_numpy(np.array(chw, dtype=np.float32, order="C", copy=True)).unsqueeze(0)


def tensor_to_image(t: torch.Tensor) -> np.ndarray:
    """Turn a network output back into C×H×W float32 pixels in [0, 1].

    Parameters
    ----------
    t : torch.Tensor
        1×C×H×W or C×H×W (or H×W) tensor on any device, of any floating dtype.

    Returns
    -------
    numpy.ndarray
        A new C×H×W ``float32`` array, detached from autograd, clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``t`` has a batch of more than one image or not 2 to 4 dimensions.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(t).__name__}")
    x = t.detach()
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"expected a batch of one image, got shape {tuple(x.shape)}")
        x = x[0]
    elif x.ndim == 2:
        x = x.unsqueeze(0)
    elif x.ndim != 3:
        raise ValueError(f"expected a 1×C×H×W or C×H×W tensor, got shape {tuple(x.shape)}")
    return x.float().clamp(0.0, 1.0).cpu().contiguous().numpy()


def _as_chw(pixels: np.ndarray, what: str) -> np.ndarray:
    """Check that ``pixels`` is a floating C×H×W (or H×W) array; return it as C×H×W."""
    return as_chw(pixels, what, floating=True)


def as_image_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Accept ``H×W``, ``C×H×W`` or ``1×C×H×W`` arrays or tensors in [0, 1]; return ``1×C×H×W``.

    A NumPy array's values are copied as float32 (see :func:`autodip.io.image_to_tensor`).
    """
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = image[None]
        if image.ndim == 3:
            return image_to_tensor(image)
        image = torch.from_numpy(np.array(image, dtype=np.float32))
    if image.ndim == 2:
        image = image[None, None]
    elif image.ndim == 3:
        image = image[None]
    return image.float()
