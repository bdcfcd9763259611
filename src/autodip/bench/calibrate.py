r"""Calibration of CIFS's balance λ(σ) (Takagi et al., ICIP 2023, Sec. 3.2).

For clean training images with synthetic Gaussian noise of level σ, DIP runs to a fixed budget while
the mean squared error to the noisy input, the JPEG size of the estimate and the PSNR against the
clean image are recorded at every monitored step. From these trajectories alone — nothing is
re-run — each λ of a grid gives, per image, the stop of the candidate rule applied to
:math:`E_t = \lambda\,\mathrm{MSE}_t + C_t^2/(HW)`, and so a PSNR at the stop; the λ with the
highest mean PSNR at the stop is kept for σ:

.. math::

    \lambda^\star(\sigma) = \arg\max_\lambda \;
        \mathbb E_{x}\big[\mathrm{PSNR}(x, \hat x_{\hat t(\lambda)})\big].

autodip's reading, beyond the paper:

* the table is indexed by the *estimated* noise level σ̂ (mean over each σ group's images), which
  is what is known at run time, so the estimator's bias is folded into the table;
* :math:`C^2/(HW)` grows with the pixel count while the MSE does not, so λ is stored with the pixel
  count it was fitted at and scaled by ``H·W / pixels`` at run time.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autodip.analysis.noise_level import estimate_sigma
from autodip.bench.analyse import replay_stop
from autodip.io import image_to_tensor, read_image
from autodip.metrics.full_reference import psnr
from autodip.metrics.jpeg_size import jpeg_size
from autodip.physics.noise import add_gaussian_noise
from autodip.reporting.files import write_json

LAMBDA_GRID = np.logspace(2, 10, 161)


def centre_crop(image: np.ndarray, size: int | None) -> np.ndarray:
    """The central ``size × size`` crop of a ``C×H×W`` image (the image itself if ``None``)."""
    if size is None:
        return image
    _, height, width = image.shape
    if height < size or width < size:
        raise ValueError(f"image of {height}×{width} is smaller than the crop {size}")
    top, left = (height - size) // 2, (width - size) // 2
    return np.ascontiguousarray(image[:, top : top + size, left : left + size])


def select_images(folder: Path, select: str = "even", limit: int | None = None) -> list[Path]:
    """Image files of ``folder`` in name order; ``even``/``odd`` keep positions 0, 2, … /
    1, 3, ….
    """
    suffixes = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)
    if select == "even":
        files = files[0::2]
    elif select == "odd":
        files = files[1::2]
    elif select != "all":
        raise ValueError(f"select must be even, odd or all, got {select!r}")
    return files[:limit] if limit else files


class CifsTrace:
    """A run monitor that records what CIFS needs for any λ, at every monitored step.

    Per step: the MSE of the estimate to the noisy input ``y``, the estimate's JPEG size, and —
    when ``clean`` is given — its PSNR. ``seconds`` is the time the recording took.
    """

    def __init__(self, y: torch.Tensor, clean: np.ndarray | None = None) -> None:
        self.y, self.clean = y, clean
        self.steps: list[int] = []
        self.mse: list[float] = []
        self.size: list[int] = []
        self.psnr: list[float] = []
        self.seconds = 0.0

    def __call__(self, report: Any) -> None:
        """Record one monitored step of the run."""
        started = time.perf_counter()
        estimate = report.estimate.detach().float().cpu()
        self.steps.append(report.step)
        self.mse.append(float(((estimate - self.y) ** 2).mean()))
        self.size.append(jpeg_size(estimate[0].numpy()))
        if self.clean is not None:
            self.psnr.append(psnr(estimate, self.clean))
        self.seconds += time.perf_counter() - started

    def as_dict(self) -> dict[str, Any]:
        """The recorded trace as plain data."""
        trace: dict[str, Any] = {"steps": self.steps, "mse": self.mse, "size": self.size}
        if self.clean is not None:
            trace["psnr"] = self.psnr
        return {**trace, "seconds": self.seconds}


def record_trajectory(
    clean: np.ndarray,
    sigma: float,
    *,
    seed: int,
    iters: int,
    monitor_every: int = 10,
    net: str | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Run DIP on ``clean`` + σ noise and record MSE to the input, JPEG size and PSNR per step."""
    from autodip.api import DEFAULT_NET, denoise

    noisy = add_gaussian_noise(clean, sigma, seed=seed)
    trace = CifsTrace(image_to_tensor(noisy), clean)
    result = denoise(
        noisy,
        net=net or DEFAULT_NET,
        iters=iters,
        seed=seed,
        device=device,
        stop=None,  # the whole trajectory: CIFS is evaluated on it offline, for every λ
        monitors=[trace],
        fit_options={"monitor_every": monitor_every},
        ensemble=1,
    )
    if result.interrupted:  # a partial trajectory must not be cached as if complete
        raise KeyboardInterrupt
    return {
        **trace.as_dict(),
        "sigma": sigma,
        "sigma_hat": estimate_sigma(noisy),
        "pixels": int(clean.shape[1] * clean.shape[2]),
        "seconds": result.seconds,
    }


def psnr_at_stop(trajectory: dict[str, Any], lam: float, patience: int) -> tuple[float, int]:
    """PSNR and step where the candidate rule stops on ``λ·MSE + size²/(HW)``."""
    from autodip.stopping.cifs import cifs_energy

    scores = cifs_energy(lam, trajectory["mse"], trajectory["size"], trajectory["pixels"])
    stop, _, _ = replay_stop(trajectory["steps"], list(scores), patience)
    return trajectory["psnr"][trajectory["steps"].index(stop)], stop


def choose_lambda(
    trajectories: Sequence[dict[str, Any]], patience: int, grid: np.ndarray = LAMBDA_GRID
) -> dict[str, Any]:
    """The λ of ``grid`` with the highest mean PSNR at the stop over ``trajectories``.

    Where several λ tie within 0.01 dB of the best mean, the geometric middle of that run of the
    grid is taken, so the choice does not sit on the edge of a plateau.
    """
    means = np.array(
        [np.mean([psnr_at_stop(t, lam, patience)[0] for t in trajectories]) for lam in grid]
    )
    best = int(np.argmax(means))
    low = high = best
    while low > 0 and means[low - 1] >= means[best] - 0.01:
        low -= 1
    while high < len(grid) - 1 and means[high + 1] >= means[best] - 0.01:
        high += 1
    middle = (low + high) // 2
    return {
        "lambda": float(grid[middle]),
        "mean_psnr_at_stop": float(means[middle]),
        "mean_peak_psnr": float(np.mean([max(t["psnr"]) for t in trajectories])),
        "mean_last_psnr": float(np.mean([t["psnr"][-1] for t in trajectories])),
        "sigma_hat": float(np.mean([t["sigma_hat"] for t in trajectories])),
    }


def calibrate(
    images: Sequence[Path],
    sigmas: Sequence[float],
    *,
    iters: int,
    crop: int | None,
    patience: int,
    cache: Path,
    monitor_every: int = 10,
    device: str = "auto",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Record (or load from ``cache``) every trajectory and build the λ(σ̂) table.

    The noise of image ``i`` (in ``images`` order) at level σ is seeded with ``1000·i + int(σ)``.
    """
    from autodip.api import DEFAULT_NET

    cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for sigma in sigmas:
        trajectories = []
        for index, path in enumerate(images):
            seed = 1000 * index + int(sigma)
            key = cache / (
                f"{path.stem}-c{crop}-s{sigma:g}-i{iters}-m{monitor_every}-seed{seed}"
                f"-{DEFAULT_NET}.json"
            )
            if key.exists():
                trajectories.append(json.loads(key.read_text()))
                continue
            clean, _ = read_image(path)
            clean = centre_crop(clean, crop)
            trajectory = record_trajectory(
                clean,
                sigma,
                seed=seed,
                iters=iters,
                monitor_every=monitor_every,
                device=device,
            )
            trajectory["image"] = path.name
            write_json(key, trajectory)  # atomic: an interrupted write leaves no partial file
            trajectories.append(trajectory)
            log(
                f"σ={sigma:g} {path.name}: {trajectory['seconds']:.0f} s, peak "
                f"{max(trajectory['psnr']):.2f} dB"
            )
        rows.append({"sigma": float(sigma), **choose_lambda(trajectories, patience)})
        log(
            f"σ={sigma:g}: λ={rows[-1]['lambda']:.3g}, PSNR at stop "
            f"{rows[-1]['mean_psnr_at_stop']:.2f} dB (peak {rows[-1]['mean_peak_psnr']:.2f})"
        )
    return {
        "sigmas": [r["sigma_hat"] for r in rows],
        "lambdas": [r["lambda"] for r in rows],
        "pixels": int(crop * crop) if crop else None,
        "patience": patience,
        "rows": rows,
        "made_with": {
            "images": [p.name for p in images],
            "crop": crop,
            "iters": iters,
            "monitor_every": monitor_every,
            "nominal_sigmas": [float(s) for s in sigmas],
            "date": dt.date.today().isoformat(),
        },
    }


def reindex(table: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``table`` indexed by the current noise estimator: λ kept, each row's σ̂ measured again.

    The table is indexed by the mean *estimated* σ̂ of each group, so a change of estimator
    (:func:`autodip.analysis.noise_level.estimate_sigma`'s default) must re-index it. The noisy
    inputs of the calibration are rebuilt exactly (the images named in ``made_with`` from
    ``folder``, the same crop, the seeds of :func:`calibrate`) and σ̂ is measured on them again;
    nothing is re-run. The first index (the wavelet rule's, which the older recorded runs scored
    with: :func:`autodip.bench.restimate.restimated` reads it) is kept in each row as
    ``sigma_hat_before``, however often the table is re-indexed.

    Examples
    --------
    >>> from autodip.io import write_image
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = write_image(folder / "a.png", np.full((3, 96, 96), 0.5, dtype=np.float32))
    >>> old = {"sigmas": [30.0], "lambdas": [1e6], "rows": [{"sigma": 25.0, "sigma_hat": 30.0}],
    ...        "made_with": {"images": ["a.png"], "crop": 96}}
    >>> new = reindex(old, folder)
    >>> new["lambdas"], new["rows"][0]["sigma_hat_before"], round(new["sigmas"][0] / 25, 1)
    ([1000000.0], 30.0, 1.0)
    """
    made = table["made_with"]
    crop = made.get("crop")
    cleans = [centre_crop(read_image(Path(folder) / name)[0], crop) for name in made["images"]]
    rows = []
    for row in table["rows"]:
        sigma = row["sigma"]
        estimates = [
            estimate_sigma(add_gaussian_noise(clean, sigma, seed=1000 * index + int(sigma)))
            for index, clean in enumerate(cleans)
        ]
        first = row.get("sigma_hat_before", row["sigma_hat"])  # the wavelet rule's, kept
        rows.append({**row, "sigma_hat": float(np.mean(estimates)), "sigma_hat_before": first})
    return {**table, "sigmas": [r["sigma_hat"] for r in rows], "rows": rows}
