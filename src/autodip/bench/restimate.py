r"""A recorded run as the current noise-level estimator would have run it.

A development run records, at every monitored step, CIFS's score :math:`E_t =
\lambda_0\,\mathrm{MSE}_t + C_t^2/(HW)` with :math:`\lambda_0 = \lambda(\hat\sigma_0)` from the σ̂
of its day, and the residual :math:`\mathrm{MSE}_t` of the same estimate. The JPEG term is therefore
recovered exactly, :math:`C_t^2/(HW) = E_t - \lambda_0\,\mathrm{MSE}_t` (each :math:`C_t` a whole
number of bytes, which :func:`recorded_lambda` uses to tell which λ the run had), and CIFS can be
scored again with the λ of another σ̂; the ``discrepancy`` criterion, :math:`255^2\,|\mathrm{MSE}_t
- \hat\sigma^2|`, is rescored from the residuals alone. Everything else that reads σ̂ when a run is
replayed — the fit guard, the adaptive budget — reads the run's ``sigma_hat``, so :func:`restimated`
replaces both: the trajectory itself does not depend on σ̂ (the development runs record every
criterion and stop none).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: The estimator a run recorded without ``sigma_method`` used (the only one before "pca").
BEFORE_PCA = "wavelet"


def jpeg_term(run: dict[str, Any], lam: float) -> tuple[np.ndarray, np.ndarray]:
    """The residuals and the JPEG terms :math:`C_t^2/(HW)` at a recorded run's CIFS steps, for
    the λ the run scored with.

    Examples
    --------
    >>> run = {"history": [{"step": 10, "residual": 0.5}, {"step": 20, "residual": 0.25}],
    ...        "criteria": {"cifs": {"steps": [10, 20], "scores": [3.0, 5.0]}}}
    >>> [a.tolist() for a in jpeg_term(run, 2.0)]
    [[0.5, 0.25], [2.0, 4.5]]
    """
    residual = {h["step"]: h["residual"] for h in run["history"]}
    cifs = run["criteria"]["cifs"]
    mse = np.array([residual[s] for s in cifs["steps"]], dtype=float)
    return mse, np.asarray(cifs["scores"], dtype=float) - lam * mse


def byte_error(term: np.ndarray, pixels: int) -> float:
    r"""How far the JPEG sizes :math:`\sqrt{HW \cdot term}` are from whole bytes (0: exact);
    infinite where a term is negative (no size gives it: the λ tried is not the run's).

    Examples
    --------
    >>> byte_error(np.array([100.0 ** 2 / 16, 7.5 ** 2 / 16]), 16)
    0.5
    >>> byte_error(np.array([-1.0, 4.0]), 16)
    inf
    """
    return float(np.max(_size_errors(term, pixels)))


def _size_errors(term: np.ndarray, pixels: int) -> np.ndarray:
    """Each recovered JPEG size's distance to a whole byte (infinite for a negative term)."""
    sizes = np.sqrt(np.maximum(term, 0.0) * pixels)
    return np.where(term < 0, np.inf, np.abs(sizes - np.round(sizes)))


def recorded_lambda(run: dict[str, Any], candidates: Sequence[float], pixels: int) -> float:
    """Which of ``candidates`` the run's CIFS scored with: the one whose recovered JPEG sizes are
    whole bytes (the median to 0.05 byte: with the λ of a high-σ̂ table end, ~10⁹, the scores'
    rounding moves a few sizes by up to half a byte; a wrong λ gives a median near 0.25).

    Raises
    ------
    ValueError
        If none is.
    """
    for lam in candidates:
        if np.median(_size_errors(jpeg_term(run, lam)[1], pixels)) < 0.05:
            return lam
    raise ValueError(f"no candidate λ recovers whole JPEG sizes for {run['job'].get('image')}")


def measurement(job_data: dict[str, Any], root: str | Path | None = None) -> np.ndarray:
    """The measurement a recorded job ran on, rebuilt (the same crop, noise draw and operator)."""
    from autodip.bench.run import degrade, load_clean
    from autodip.bench.sweep import Job, parse_degradations

    job = Job(
        job_data["kind"],
        job_data["path"],
        parse_degradations([job_data["degradation"]])[0],
        job_data["seed"],
        job_data["crop"],
        job_data["gray"],
    )
    measured, _, _ = degrade(load_clean(job, root), job, root)
    return measured


def restimated(
    run: dict[str, Any],
    root: str | Path | None = None,
    table: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A copy of a recorded denoising run with σ̂ from the current estimator and CIFS's scores
    recomputed with λ(σ̂) (``table``: default the shipped one).

    ``before`` is the λ table of the run's day, tried with the run's own σ̂ (default: ``table``;
    the shipped table's previous index, ``sigma_hat_before``, is tried too).
    """
    from autodip.analysis.noise_level import METHODS, estimate_sigma
    from autodip.stopping.cifs import lambda_for_image, shipped_lambda_table

    table = table or shipped_lambda_table()
    if table is None:
        raise ValueError("no CIFS λ table is installed")
    measured = measurement(run["job"], root)
    sigma = estimate_sigma(measured)
    out = copy.copy(run)
    out["sigma_hat"], out["sigma_method"] = sigma, METHODS[0]
    out["criteria"] = dict(run["criteria"])
    if "discrepancy" in run["criteria"]:
        out["criteria"]["discrepancy"] = discrepancy_rescored(run, sigma)
    if "cifs" not in run["criteria"]:
        return out
    pixels = int(measured.shape[-2] * measured.shape[-1])
    tables = [before or table]
    if before is None and all("sigma_hat_before" in r for r in table.get("rows", [{}])):
        tables.append({**table, "sigmas": [r["sigma_hat_before"] for r in table["rows"]]})
    lam0 = recorded_lambda(
        run, [lambda_for_image(run["sigma_hat"], pixels, t) for t in tables], pixels
    )
    mse, term = jpeg_term(run, lam0)
    lam = lambda_for_image(sigma, pixels, table)
    out["criteria"]["cifs"] = {**run["criteria"]["cifs"], "scores": (lam * mse + term).tolist()}
    return out


def discrepancy_rescored(run: dict[str, Any], sigma: float) -> dict[str, Any]:
    r"""The ``discrepancy`` criterion's record with its scores for noise level ``sigma``:
    :math:`255^2\,|r_t - \hat\sigma^2|` from the recorded residuals (its default margin 0).

    Examples
    --------
    >>> run = {"history": [{"step": 10, "residual": 0.02}],
    ...        "criteria": {"discrepancy": {"steps": [10], "scores": [0.0]}}}
    >>> round(discrepancy_rescored(run, 25.5)["scores"][0], 6)
    650.25
    """
    residual = {h["step"]: h["residual"] for h in run["history"]}
    record = run["criteria"]["discrepancy"]
    level = (sigma / 255.0) ** 2
    scores = [255.0**2 * abs(residual[s] - level) for s in record["steps"]]
    return {**record, "scores": scores}
