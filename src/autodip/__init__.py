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

_EXPORTS = {
    "read_image": "autodip.io",
    "write_image": "autodip.io",
    "ImageReadError": "autodip.io",
    "image_to_tensor": "autodip.io",
    "tensor_to_image": "autodip.io",
    "create_net": "autodip.nets",
    "list_nets": "autodip.nets",
    "FitConfig": "autodip.runner",
    "Result": "autodip.runner",
    "fit": "autodip.runner",
    "Denoise": "autodip.operators",
    "denoise": "autodip.restore",
    "predict_width": "autodip.width_predictor",
    "texture_features": "autodip.texture",
    "psnr": "autodip.metrics",
    "ssim": "autodip.metrics",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'autodip' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
