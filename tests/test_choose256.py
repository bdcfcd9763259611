"""benchmarks/choose256.py: which networks join the comparison, and what a run costs in it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from choose256 import by_coverage, cpu_criterion_costs, rescaled


def run(network: str, image: str, device: str, seconds: float, cifs: float, iterations: int = 100):
    """A cached run as the costing reads it: ``seconds`` in all, ``cifs`` of them CIFS's."""
    return {
        "job": {"network": network, "image": image, "degradation": "gaussian:25"},
        "placement": {"device": device},
        "iterations": iterations,
        "seconds": seconds,
        "criteria": {"cifs": {"seconds": cifs}, "oracle": {"seconds": None}},
    }


def test_a_network_short_of_some_pairs_is_compared_apart() -> None:
    runs = [
        run("w32", "a", "cpu", 1, 0),
        run("w32", "b", "cpu", 1, 0),
        run("skip", "a", "cpu", 1, 0),
    ]
    assert by_coverage(runs, ["w32", "skip"]) == (["w32"], ["skip"])
    runs.append(run("skip", "b", "cpu", 1, 0))
    assert by_coverage(runs, ["w32", "skip"]) == (["w32", "skip"], [])


def test_a_cpu_run_is_rescaled_fit_and_criteria_alike() -> None:
    # 100 steps, 30 s: CIFS 10 s, so the fit took 0.2 s a step; its clean cost is 0.1 s
    out = rescaled(run("w64", "a", "cpu", 30.0, 10.0), clean=0.1, criterion_costs={"cifs": 99.0})
    assert out["criteria"]["cifs"]["seconds"] == pytest.approx(5.0)  # halved with the fit
    assert out["seconds"] == pytest.approx(0.1 * 100 + 5.0)
    assert out["criteria"]["oracle"]["seconds"] is None


def test_a_gpu_run_gets_cpu_costs_for_its_fit_and_criteria() -> None:
    cpu: list[dict[str, Any]] = [
        run("w64", "a", "cpu", 30.0, 10.0),  # fit 0.2 s a step, CIFS 0.1: clean fit 0.1 → CIFS 0.05
        run("w64", "b", "cpu", 20.0, 5.0),  # fit 0.15, CIFS 0.05: clean → CIFS 0.1/3
        run("w64", "c", "cpu", 40.0, 20.0),  # fit 0.2, CIFS 0.2: clean → CIFS 0.1
    ]
    gpu = run("skip", "a", "cuda", 3.0, 2.0)  # GPU seconds: CIFS looks cheap beside a fast fit
    costs = cpu_criterion_costs([*cpu, gpu], {"w64": 0.1, "skip": 0.7})
    assert costs["cifs"] == pytest.approx(0.05)  # the median of the CPU runs only
    out = rescaled(gpu, clean=0.7, criterion_costs=costs)
    assert out["criteria"]["cifs"]["seconds"] == pytest.approx(0.05 * 100)
    assert out["seconds"] == pytest.approx(0.7 * 100 + 0.05 * 100)
