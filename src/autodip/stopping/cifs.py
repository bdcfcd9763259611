r"""CIFS: the compressed-image-file-size criterion (Takagi, Ishizaki, Maeda, ICIP 2023).

As DIP starts reproducing the noise, the JPEG file of its output grows. CIFS balances the fit
against that growth:

.. math::

    E_t = \lambda\,\mathrm{MSE}(A(x_t), y) + \frac{C(x_t)^2}{H W},

with :math:`C` the size in bytes of :math:`x_t` encoded as JPEG at quality 95 with 4:2:0 chroma
subsampling (OpenCV's default, :func:`autodip.metrics.jpeg_size.jpeg_size`). The paper fits
:math:`\lambda(\sigma)` per noise level; autodip ships such tables, made by ``autodip
calibrate-cifs`` — ``data/cifs_lambda.json`` for colour images (CBSD68) and
``data/cifs_lambda_gray.json`` for gray ones (Set12: a gray JPEG holds one plane, so its size term
is smaller) — estimates σ from the input (:func:`autodip.analysis.noise_level.estimate_sigma`) and
interpolates :math:`\log\lambda` linearly in σ (clamped at the table's ends), scaled by the ratio
of the image's pixel count to the calibration's (:mod:`autodip.bench.calibrate` explains why).

``cifs-raw`` is the JPEG size alone.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import torch

from autodip.stopping.base import (
    Context,
    Criterion,
    Range,
    declare_options,
    register_criterion,
)

LAMBDA_TABLE = "cifs_lambda.json"
#: The table for gray (1-channel) images, where one is installed: a gray JPEG holds one plane, a
#: colour one a luma plane and two subsampled chroma planes, so the size term weighs differently
#: (``benchmarks/results/cifs_gray.md``). Without it gray images use :data:`LAMBDA_TABLE`.
LAMBDA_TABLE_GRAY = "cifs_lambda_gray.json"


@cache
def _packaged_table(name: str) -> dict[str, Any] | None:
    path = resources.files("autodip") / "data" / name
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def shipped_table_name(channels: int = 3) -> str:
    """The shipped λ table that images of ``channels`` channels take.

    Parameters
    ----------
    channels
        The image's channel count.

    Returns
    -------
    str
        :data:`LAMBDA_TABLE_GRAY` for one channel where that table is installed, else
        :data:`LAMBDA_TABLE`.

    Examples
    --------
    >>> shipped_table_name(3)
    'cifs_lambda.json'
    """
    if channels == 1 and _packaged_table(LAMBDA_TABLE_GRAY) is not None:
        return LAMBDA_TABLE_GRAY
    return LAMBDA_TABLE


def shipped_lambda_table(channels: int = 3) -> dict[str, Any] | None:
    """The λ(σ) table shipped with the package for images of ``channels`` channels
    (:func:`shipped_table_name`), or ``None`` if none is installed.
    """
    return _packaged_table(shipped_table_name(channels))


def interpolate_lambda(sigma: float, table: dict[str, Any]) -> float:
    """λ at noise level ``sigma`` (0–255 scale): linear in log λ, clamped to the table's range.

    Examples
    --------
    >>> round(interpolate_lambda(20, {"sigmas": [10, 30], "lambdas": [100.0, 10000.0]}), 6)
    1000.0
    """
    sigmas = np.asarray(table["sigmas"], dtype=float)
    logs = np.log(np.asarray(table["lambdas"], dtype=float))
    order = np.argsort(sigmas)
    return float(np.exp(np.interp(sigma, sigmas[order], logs[order])))


def lambda_for_image(sigma: float, pixels: int, table: dict[str, Any]) -> float:
    """λ for an image of ``pixels`` pixels at noise level ``sigma`` (0–255 scale).

    :math:`R = C^2/(HW)` grows with the pixel count while the MSE does not, so the table's λ is
    scaled from the calibration's pixel count to the image's (see :mod:`autodip.bench.calibrate`).

    Examples
    --------
    >>> table = {"sigmas": [20], "lambdas": [5.0], "pixels": 64 * 64}
    >>> round(lambda_for_image(20, 2 * 64 * 64, table), 9)
    10.0
    """
    scale = pixels / table["pixels"] if table.get("pixels") else 1.0
    return interpolate_lambda(sigma, table) * scale


def cifs_energy(lam: float, mse: Any, size: Any, pixels: int) -> Any:
    r"""CIFS's score :math:`\lambda\,\mathrm{MSE} + C^2/(HW)` for one value or arrays of them.

    Examples
    --------
    >>> float(cifs_energy(2.0, 0.5, 8, 16))
    5.0
    >>> cifs_energy(1.0, [0.5, 0.25], [4, 8], 16).tolist()
    [1.5, 4.25]
    """
    return lam * np.asarray(mse, dtype=float) + np.asarray(size, dtype=float) ** 2 / pixels


def load_lambda_table(path: str | None, channels: int = 3) -> dict[str, Any] | None:
    """The λ table at ``path``, or the shipped one for ``channels`` when ``path`` is ``None``."""
    if path is None:
        return shipped_lambda_table(channels)
    from pathlib import Path

    return json.loads(Path(path).read_text())


def _chw(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy()[0]


@register_criterion
class CompressedSizeRaw(Criterion):
    """``cifs-raw``: the JPEG size (bytes) of the estimate, quality 95, 4:2:0."""

    name = "cifs-raw"
    summary = "CIFS's compression term alone: the JPEG size of the estimate (quality 95, 4:2:0)"
    default_patience = 500
    #: Seed 000 defines and calibrates CIFS for denoising only.
    tasks = ("denoise",)
    channels = (1, 3)  # JPEG: gray or colour
    option_ranges = declare_options(quality=Range(0, 100))

    def __init__(self, quality: int = 95) -> None:
        self.quality = quality

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Return the JPEG size of ``output`` in bytes."""
        from autodip.metrics.jpeg_size import jpeg_size

        return float(jpeg_size(_chw(output), self.quality))

    def describe(self) -> dict[str, Any]:
        """Name and JPEG quality."""
        return {"name": self.name, "quality": self.quality}


@register_criterion
class CompressedSize(Criterion):
    """``cifs``: ``λ·MSE(A x, y) + C(x)²/(H·W)`` with λ from the noise level (or given).

    ``table`` is the path of a λ table made by ``autodip calibrate-cifs`` (default: the shipped
    one), e.g. ``--criterion-option cifs.table=my_table.json``.
    """

    name = "cifs"
    summary = (
        "CIFS (Takagi, Ishizaki, Maeda, JPEG Information Regularized Deep Image Prior for "
        "Denoising, ICIP 2023): λ·MSE(A x, y) + JPEG size(x)²/(H·W), λ from the noise level"
    )
    default_patience = 500
    tasks = ("denoise",)
    channels = (1, 3)  # JPEG: gray or colour
    option_ranges = declare_options(lam=Range(0), quality=Range(0, 100), sigma=Range(0))

    def __init__(
        self,
        lam: float | None = None,
        quality: int = 95,
        sigma: float | None = None,
        table: str | None = None,
    ) -> None:
        if lam is not None and lam < 0:
            raise ValueError(f"lam must be non-negative, got {lam}")
        self.table_path = table
        self.fixed_lam = lam
        self.fixed_sigma = sigma
        self.quality = quality
        self.reset()

    def reset(self) -> None:
        """Forget the noise estimate and λ of the previous run."""
        self.lam: float | None = self.fixed_lam
        self.sigma: float | None = self.fixed_sigma
        self.table_used: str | None = None

    def _resolve_lambda(self, target: torch.Tensor) -> float:
        if self.lam is not None:
            return self.lam
        from autodip.analysis.noise_level import estimate_sigma

        if self.sigma is None:
            self.sigma = estimate_sigma(_chw(target))
        table = load_lambda_table(self.table_path, channels=target.shape[1])
        if table is None:
            raise ValueError(
                "no CIFS λ table is installed; pass lam=..., or table=PATH with a table made by "
                "`autodip calibrate-cifs`"
            )
        self.table_used = self.table_path or shipped_table_name(target.shape[1])
        self.lam = lambda_for_image(self.sigma, target.shape[-2] * target.shape[-1], table)
        return self.lam

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Return ``λ·MSE + size²/(H·W)`` for ``output``."""
        from autodip.metrics.jpeg_size import jpeg_size

        lam = self._resolve_lambda(context.target)
        mse = float(torch.mean((context.operator.A(output) - context.target) ** 2))
        height, width = output.shape[-2:]
        size = jpeg_size(_chw(output), self.quality)
        return float(cifs_energy(lam, mse, size, height * width))

    def describe(self) -> dict[str, Any]:
        """Name, λ, the σ it came from, the JPEG quality, and the λ table once one was read.

        (``table`` is left out until then, so the identity a checkpoint stores, taken before the
        run, is what it was before the key existed.)
        """
        described = {
            "name": self.name,
            "lam": self.lam,
            "sigma": self.sigma,
            "quality": self.quality,
        }
        # a criterion unpickled from a checkpoint made before the attribute existed lacks it
        table_used = getattr(self, "table_used", None)
        if table_used is not None:
            described["table"] = table_used
        return described
