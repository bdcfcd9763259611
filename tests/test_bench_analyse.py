"""``autodip.bench.analyse``'s shared pieces: the offline stop replay and the peak finder."""

from __future__ import annotations

import numpy as np
import pytest

from autodip.bench.analyse import criterion_stop, history_peak, peak, replay_stop
from autodip.bench.calibrate import psnr_at_stop
from autodip.stopping import first_candidate
from autodip.stopping.cifs import cifs_energy


def _trace(rng: np.random.Generator, length: int, every: int = 10) -> tuple[list, list]:
    steps = [every * (i + 1) for i in range(length)]
    return steps, [float(v) for v in rng.choice([0.25, 0.5, 1.0], size=length) + rng.random(length)]


@pytest.mark.parametrize("seed", range(20))
def test_replay_stop_is_the_shared_rule_with_its_halt(seed):
    rng = np.random.default_rng(seed)
    steps, scores = _trace(rng, int(rng.integers(1, 60)))
    for patience in (10, 30, 200):
        for lower in (True, False):
            verdict = first_candidate(steps, scores, patience, lower)
            stop, halt, confirmed = replay_stop(steps, scores, patience, lower)
            assert (stop, confirmed) == (verdict.best_step, verdict.confirmed)
            if confirmed:  # the first monitored step S after the candidate: when it is confirmed
                assert halt == min(s for s in steps if s - stop >= patience)
            else:
                assert halt == steps[-1]


def test_replay_stop_cut_at_a_budget_and_without_scores():
    steps, scores = [10, 20, 30, 40, 50, 60], [5.0, 4.0, 3.0, 4.0, 5.0, 1.0]
    assert replay_stop(steps, scores, 20) == (30, 50, True)
    assert replay_stop(steps, scores, 20, end=40) == (30, 40, False)  # not confirmed by then
    assert replay_stop([], [], 20, end=70) == (70, 70, False)  # online: the last estimate
    with pytest.raises(ValueError, match="end"):
        replay_stop([], [], 20)


def test_criterion_stop_reads_the_replay_on_a_recorded_run():
    history = [{"step": s, "psnr": 20.0 + s / 10, "ssim": s / 100} for s in range(10, 70, 10)]
    trace = {"steps": [10, 20, 30, 40, 50, 60], "scores": [5.0, 4.0, 3.0, 4.0, 5.0, 1.0],
             "lower_is_better": True, "seconds": 0.6}  # fmt: skip
    run = {"history": history, "criteria": {"c": trace}, "seconds": 6.0, "iterations": 60}
    found = criterion_stop(run, "c", 20)
    assert (found["stop"], found["halt"], found["confirmed"]) == (30, 50, True)
    assert (found["psnr"], found["ssim"]) == (23.0, 0.3)
    assert found["stop_seconds"] == pytest.approx(50 * 0.1)  # halt × (fit + own) per step


def test_peak_is_the_first_maximum_and_its_step():
    assert peak([1, 2, 3, 4], [3.0, 7.0, 7.0, 1.0]) == (7.0, 2)
    assert peak([1, 2, 3, 4], [3.0, 7.0, 7.0, 1.0], until=1) == (3.0, 1)
    history = [{"step": s, "psnr": v} for s, v in zip([5, 10, 15], [21.0, 24.5, 23.0], strict=True)]
    assert history_peak(history) == (24.5, 10)
    assert history_peak(history, until=5) == (21.0, 5)
    with pytest.raises(ValueError):
        peak([], [])


def test_cifs_calibration_stops_where_the_shared_rule_does():
    rng = np.random.default_rng(0)
    steps = list(range(10, 610, 10))
    trajectory = {"steps": steps, "mse": list(rng.random(60) * 1e-2),
                  "size": list(rng.integers(1000, 9000, 60)), "pixels": 128 * 128,
                  "psnr": list(20 + rng.random(60))}  # fmt: skip
    for lam in (1e3, 1e6, 1e9):
        scores = cifs_energy(lam, trajectory["mse"], trajectory["size"], trajectory["pixels"])
        verdict = first_candidate(steps, list(scores), 100)
        psnr, stop = psnr_at_stop(trajectory, lam, 100)
        assert stop == verdict.best_step and psnr == trajectory["psnr"][steps.index(stop)]
