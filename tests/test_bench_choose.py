"""Offline stops with budgets and costs, and the rule that picks the defaults from a sweep."""

from __future__ import annotations

import pytest

from autodip.bench.analyse import criterion_stop, run_rows, step_costs
from autodip.bench.choose import (
    Combination,
    adaptive_samples,
    budgets_for,
    combinations,
    markdown,
    pick,
    replay,
    summarise,
)


def _run(network: str = "net", measured: float = 20.0) -> dict:
    """A scripted 100-step run: PSNR peaks at step 30; criterion ``a`` is lowest at step 30,
    ``b`` falls all the way (it never confirms a stop before the end)."""
    steps = list(range(0, 101, 10))
    psnr = [20, 24, 27, 29, 28, 27, 26, 25, 24, 23, 22]
    return {
        "job": {
            "kind": "dip",
            "image": "x.png",
            "degradation": "gaussian:25",
            "kind_of_degradation": "gaussian",
            "level": 25.0,
            "seed": 0,
            "network": network,
        },
        "measured_psnr": measured,
        "history": [
            {"step": s, "psnr": float(p), "ssim": 0.5} for s, p in zip(steps, psnr, strict=True)
        ],
        "criteria": {
            "a": {
                "steps": steps,
                "scores": [9, 8, 7, 1, 2, 3, 4, 5, 6, 7, 8],
                "lower_is_better": True,
                "default_patience": 40,
                "seconds": 2.0,
            },
            "b": {
                "steps": steps,
                "scores": [10 - i for i in range(11)],
                "lower_is_better": True,
                "default_patience": 40,
                "seconds": 3.0,
            },
        },
        "seconds": 10.0,
        "iterations": 100,
    }


def test_step_costs_split_the_run_between_the_fit_and_each_criterion():
    base, own = step_costs(_run())
    assert base == pytest.approx((10.0 - 5.0) / 100)
    assert own == pytest.approx({"a": 0.02, "b": 0.03})


def test_criterion_stop_halts_patience_steps_after_the_candidate():
    stop = criterion_stop(_run(), "a", patience=40)
    assert (stop["stop"], stop["halt"], stop["confirmed"]) == (30, 70, True)
    assert stop["psnr"] == 29.0
    assert stop["stop_seconds"] == pytest.approx(70 * (0.05 + 0.02))


def test_a_budget_cuts_the_trace_and_leaves_the_stop_unconfirmed():
    stop = criterion_stop(_run(), "a", patience=40, budget=60)
    assert (stop["stop"], stop["halt"], stop["confirmed"]) == (30, 60, False)
    falling = criterion_stop(_run(), "b", patience=40)
    assert (falling["stop"], falling["halt"], falling["confirmed"]) == (100, 100, False)


def test_rows_carry_the_halt_and_its_seconds():
    rows = {(r["criterion"], r.get("patience")): r for r in run_rows(_run(), [40])}
    assert rows["a", 40]["halt"] == 70
    assert rows["no-es", None]["stop_seconds"] == pytest.approx(100 * 0.05)


def test_combinations_average_over_runs_for_every_budget():
    runs = [_run(measured=20.0), _run(measured=22.0)]
    found = {(c.criterion, c.patience, c.budget): c for c in combinations(runs, [40], [60, 100])}
    a = found["a", 40, 100]
    assert a.runs == 2 and a.psnr == 29.0 and a.gain == pytest.approx(8.0)
    assert a.confirmed == 1.0 and a.seconds == pytest.approx(70 * 0.07)
    assert found["a", 40, 60].confirmed == 0.0
    assert found["no-es", None, 60].psnr == 26.0


def _combo(criterion: str, psnr: float, seconds: float, runs: int = 4) -> Combination:
    return Combination("net", criterion, 500, 1000, runs, psnr, psnr - 20.0, seconds, 1.0)


def test_pick_takes_the_fastest_gain_within_the_tolerance():
    best = _combo("slow-best", 30.00, 100.0)
    near = _combo("fast-near", 29.95, 50.0)
    cheap = _combo("cheap-poor", 28.00, 5.0)  # most dB per second, but 2 dB worse
    no_stop = Combination("net", "no-es", None, 3000, 4, 31.0, 11.0, 1.0, 1.0)
    chosen, within = pick([best, near, cheap, no_stop], tolerance=0.1)
    assert chosen == near
    assert within == [best, near]
    assert pick([best, near, cheap], tolerance=0.01)[0] == best
    assert "fast-near** (chosen)" not in markdown([best, near, cheap])
    assert "fast-near **(chosen)**" in markdown([best, near, cheap])


def test_pick_refuses_means_over_different_runs():
    with pytest.raises(ValueError, match="finish the sweep"):
        pick([_combo("a", 30.0, 10.0, runs=4), _combo("b", 29.0, 5.0, runs=3)])
    with pytest.raises(ValueError, match="no combination"):
        pick([Combination("net", "no-es", None, 100, 1, 30.0, 10.0, 1.0, 1.0)])


def test_budgets_for():
    assert budgets_for(1200) == [500, 1000, 1200]


def test_per_degradation_means_and_the_csv(tmp_path):
    import csv

    from autodip.bench.choose import write_csv

    second = _run(measured=10.0)
    second["job"] = {**second["job"], "degradation": "gaussian:50", "level": 50.0}
    runs = [_run(measured=20.0), second]
    overall = combinations(runs, [40], [100])
    split = combinations(runs, [40], [100], by_degradation=True)
    a25 = next(c for c in split if c.criterion == "a" and c.degradation == "gaussian:25")
    assert a25.runs == 1 and a25.gain == pytest.approx(9.0)
    text = markdown(overall, per_degradation=split)
    assert "| gaussian:50 | net | a | 40 | 100 | 1 | 29.00 | 19.00 |" in text
    write_csv(tmp_path / "choices.csv", overall + split)
    rows = list(csv.DictReader((tmp_path / "choices.csv").open()))
    assert len(rows) == len(overall) + len(split)
    assert {r["degradation"] for r in rows} == {"all", "gaussian:25", "gaussian:50"}


def test_the_adaptive_budget_is_a_candidate_beside_the_hard_ones():
    """A run whose residual is 1.05 σ̂² at ``a``'s minimum (step 30, where the confirmation gate
    has just opened): a hard budget of 40 ends it unconfirmed; the adaptive budget (40 → 80)
    extends it, 20 steps at a time, until ``a`` confirms its stop at 70."""
    run = _run()
    run["sigma_hat"] = 25.0
    variance = (25.0 / 255.0) ** 2
    for record in run["history"]:
        step = record["step"]
        record["residual"] = (2.0 if step < 30 else 1.05 if step <= 40 else 0.8) * variance
    hard = criterion_stop(run, "a", patience=40, budget=40)
    assert (hard["halt"], hard["confirmed"]) == (40, False)
    samples = adaptive_samples([run], [40], [30, 40], cap_factor=2)
    # 40 → 80 is replayed; 30 → 60 too; a cap past the 100 recorded steps would not be
    assert {key[3:] for key, _, _ in samples} == {(30, 60), (40, 80)}
    assert adaptive_samples([run], [40], [40], cap_factor=3) == []
    found = {key[1]: values for key, _, values in samples if key[3] == 40}
    assert found["a"]["confirmed"] == 1.0 and found["a"]["psnr"] == 29.0
    assert found["a"]["seconds"] == pytest.approx(70 * (0.05 + 0.02))
    candidates = summarise(replay([run], [40], [40]) + samples)
    adaptive = next(c for c in candidates if c.criterion == "a" and c.cap == 80)
    assert adaptive.budget_label == "40 → 80"
    assert "| 40 → 80 |" in markdown(candidates)
