"""Replaying a recorded run under the current noise estimator (``autodip.bench.restimate``)."""

from __future__ import annotations

import numpy as np
import pytest

from autodip.analysis.noise_level import estimate_sigma
from autodip.bench.restimate import jpeg_term, recorded_lambda, restimated
from autodip.io import write_image
from autodip.stopping.cifs import lambda_for_image


def _recorded(tmp_path, table: dict) -> tuple[dict, np.ndarray]:
    """A run recorded with the wavelet σ̂ and λ from ``table``, on a textured 64² image."""
    from autodip.bench.restimate import measurement

    y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    clean = 0.5 + 0.2 * np.sin(2.6 * x + 0.3 * y) * np.ones((3, 1, 1), dtype=np.float32)
    write_image(tmp_path / "a.png", clean)
    job = {"kind": "dip", "path": str(tmp_path / "a.png"), "image": "a.png", "seed": 0,
           "degradation": "gaussian:15", "crop": None, "gray": False, "key": "k"}  # fmt: skip
    noisy = measurement(job)
    sigma = estimate_sigma(noisy, method="wavelet")
    lam = lambda_for_image(sigma, 64 * 64, table)
    steps = [10, 20, 30]
    mse = np.array([0.02, 0.01, 0.005])
    sizes = np.array([3000.0, 3100.0, 3300.0])  # whole bytes
    scores = lam * mse + sizes**2 / (64 * 64)
    run = {
        "job": job,
        "sigma_hat": sigma,
        "history": [{"step": s, "residual": m} for s, m in zip(steps, mse, strict=True)],
        "criteria": {"cifs": {"steps": steps, "scores": scores.tolist()}},
    }
    return run, noisy


def test_a_recorded_run_is_rescored_with_the_current_sigma_and_its_lambda(tmp_path) -> None:
    table = {"sigmas": [10.0, 30.0], "lambdas": [1e7, 1e6], "pixels": 64 * 64}
    run, noisy = _recorded(tmp_path, table)
    again = restimated(run, table=table)
    sigma = estimate_sigma(noisy)
    assert again["sigma_hat"] == sigma != run["sigma_hat"] and again["sigma_method"] == "pca"
    mse, term = jpeg_term(run, lambda_for_image(run["sigma_hat"], 64 * 64, table))
    np.testing.assert_allclose(np.sqrt(term * 64 * 64), [3000, 3100, 3300])  # exact recovery
    expected = lambda_for_image(sigma, 64 * 64, table) * mse + term
    np.testing.assert_allclose(again["criteria"]["cifs"]["scores"], expected)
    assert run["criteria"]["cifs"]["scores"] != again["criteria"]["cifs"]["scores"]  # a copy


def test_the_lambda_a_run_scored_with_is_the_one_that_gives_whole_bytes(tmp_path) -> None:
    table = {"sigmas": [10.0, 30.0], "lambdas": [1e7, 1e6], "pixels": 64 * 64}
    run, _ = _recorded(tmp_path, table)
    right = lambda_for_image(run["sigma_hat"], 64 * 64, table)
    assert recorded_lambda(run, [1.1 * right, right], 64 * 64) == right
    with pytest.raises(ValueError, match="no candidate λ"):
        recorded_lambda(run, [1.1 * right], 64 * 64)
