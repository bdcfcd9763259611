"""autodip: Deep Image Prior restoration that decides by itself when to stop
and which network to use.

Importing :mod:`autodip` is cheap: the names below load their modules (and PyTorch) on first use.

Examples
--------
>>> import autodip
>>> {"dip-skip", "hourglass"} <= set(autodip.list_nets())
True
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: The public API: what ``from autodip import *`` gives and what the docs promise to keep
#: (grouped in :data:`_EXPORTS` below).
__all__ = [
    "CheckpointError",
    "Denoise",
    "FitConfig",
    "ImageReadError",
    "ImageWriteError",
    "Inpaint",
    "InsufficientMemoryError",
    "Result",
    "SuperResolve",
    "__version__",
    "create_net",
    "denoise",
    "fit",
    "image_to_tensor",
    "inpaint",
    "list_nets",
    "predict_width",
    "psnr",
    "read_image",
    "restore",
    "ssim",
    "super_resolve",
    "tensor_to_image",
    "texture_features",
    "write_image",
]

#: Where each name of :data:`__all__` lives; its module is imported on first use.
_EXPORTS = {
    # restoration in one call
    "restore": "autodip.api",
    "denoise": "autodip.api",
    "inpaint": "autodip.api",
    "super_resolve": "autodip.api",
    # the parts, for researchers who assemble their own run
    "Denoise": "autodip.physics.operators",
    "Inpaint": "autodip.physics.operators",
    "SuperResolve": "autodip.physics.operators",
    "create_net": "autodip.nets",
    "list_nets": "autodip.nets",
    "FitConfig": "autodip.core.run",
    "Result": "autodip.core.run",
    "fit": "autodip.core.run",
    # images
    "read_image": "autodip.io",
    "write_image": "autodip.io",
    "image_to_tensor": "autodip.io",
    "tensor_to_image": "autodip.io",
    # analysis and metrics
    "predict_width": "autodip.analysis.width_predictor",
    "texture_features": "autodip.analysis.texture",
    "psnr": "autodip.metrics.full_reference",
    "ssim": "autodip.metrics.full_reference",
    # the exceptions users see
    "ImageReadError": "autodip.errors",
    "ImageWriteError": "autodip.errors",
    "InsufficientMemoryError": "autodip.errors",
    "CheckpointError": "autodip.errors",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'autodip' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
