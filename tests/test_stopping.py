import itertools
import json
import math

import numpy as np
import pytest
import torch

from autodip.core.run import FitConfig, fit
from autodip.io import image_to_tensor
from autodip.metrics.full_reference import psnr
from autodip.nets import create_net
from autodip.physics.noise import add_gaussian_noise
from autodip.physics.operators import Denoise
from autodip.stopping import (
    CandidateRule,
    Context,
    Criterion,
    Stopper,
    create_criterion,
    first_candidate,
    list_criteria,
)
from autodip.stopping.osc import chord_frame_curvature

# --- the candidate rule ---------------------------------------------------------------------------


def replay(scores, patience, steps=None, lower_is_better=True):
    steps = list(range(len(scores))) if steps is None else steps
    return first_candidate(steps, list(scores), patience, lower_is_better)


def test_rule_stops_at_the_first_candidate():
    verdict = replay([5, 4, 3, 4, 5, 6, 2], patience=2)
    assert (verdict.best_step, verdict.confirmed) == (2, True)


def test_rule_ties_keep_the_earlier_step():
    verdict = replay([3, 1, 1, 1, 1], patience=3)
    assert (verdict.best_step, verdict.confirmed) == (1, True)


def test_rule_on_a_plateau_confirms_the_first_step():
    verdict = replay([2.0] * 6, patience=4)
    assert (verdict.best_step, verdict.confirmed) == (0, True)


def test_rule_never_confirmed_returns_the_best_so_far():
    verdict = replay([5, 4, 3, 2, 1], patience=2)
    assert (verdict.best_step, verdict.confirmed) == (4, False)


def test_rule_higher_is_better():
    verdict = replay([1, 3, 2, 2, 9], patience=2, lower_is_better=False)
    assert (verdict.best_step, verdict.best_score, verdict.confirmed) == (1, 3, True)


def test_rule_patience_counts_steps_not_samples():
    steps = [10, 20, 30, 40, 50]
    assert replay([3, 1, 2, 2, 2], 30, steps).confirmed is True  # 50 - 20 >= 30
    assert replay([3, 1, 2, 2, 2], 40, steps).confirmed is False


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_rule_rejects_non_finite_scores(bad):
    rule = CandidateRule(5)
    with pytest.raises(ValueError, match="finite"):
        rule.observe(3, bad)


def test_rule_rejects_steps_going_back():
    rule = CandidateRule(5)
    rule.observe(3, 1.0)
    with pytest.raises(ValueError, match="increase"):
        rule.observe(3, 0.5)


def brute_force_first_candidate(scores, patience):
    """Eq. 4 read literally: first t with M_t <= M_tau for all tau in (t, t+S], window observed."""
    for t in range(len(scores) - patience):
        if all(scores[t] <= scores[tau] for tau in range(t + 1, t + patience + 1)):
            return t
    return None


@pytest.mark.parametrize("seed", range(30))
def test_online_rule_agrees_with_equation_4(seed):
    rng = np.random.default_rng(seed)
    scores = list(np.round(rng.normal(size=40).cumsum(), 1))  # rounding makes ties happen
    patience = int(rng.integers(1, 8))
    verdict = replay(scores, patience)
    expected = brute_force_first_candidate(scores, patience)
    if expected is None:
        assert not verdict.confirmed
    else:
        assert verdict.confirmed and verdict.best_step == expected


# --- the criteria ---------------------------------------------------------------------------------


def context(raw, target=None, max_iters=1000, reference=None):
    target = raw if target is None else target
    return Context(
        raw=raw,
        target=target,
        operator=Denoise(),
        loss=0.0,
        max_iters=max_iters,
        reference=reference,
    )


def test_registry_lists_every_criterion_and_rejects_unknown_names():
    assert {"cifs", "cifs-raw", "wmv", "emv", "osc", "brisque", "niqe", "fixed", "oracle"} <= set(
        list_criteria()
    )
    with pytest.raises(KeyError, match="wmv"):
        create_criterion("wvm")


def test_metadata():
    crits = list_criteria()
    assert crits["osc"].changes_objective and not crits["cifs"].changes_objective
    assert crits["oracle"].needs_reference and not crits["oracle"].lower_is_better
    assert not crits["brisque"].needs_reference


def test_jpeg_size_score_grows_with_noise(sample_clean):
    crit = create_criterion("cifs-raw")
    sizes = []
    for sigma in (0, 10, 25, 50):
        x = image_to_tensor(add_gaussian_noise(sample_clean, sigma, seed=0))
        sizes.append(crit.update(1, x, context(x)))
    assert all(a < b for a, b in itertools.pairwise(sizes))


def test_cifs_balances_fit_and_size(sample_clean, sample_noisy):
    y = image_to_tensor(sample_noisy)
    crit = create_criterion("cifs", lam=1e5)
    blurry = torch.full_like(y, float(y.mean()))
    # lam * MSE + size^2/HW: reproducing y exactly costs only size; a flat image costs only MSE
    exact = crit.update(1, y, context(y, y))
    flat = crit.update(2, blurry, context(blurry, y))
    mse = float(((blurry - y) ** 2).mean())
    assert flat == pytest.approx(1e5 * mse + crit_size(blurry) ** 2 / (64 * 64), rel=1e-6)
    assert exact == pytest.approx(crit_size(y) ** 2 / (64 * 64), rel=1e-6)


def crit_size(x):
    from autodip.metrics.jpeg_size import jpeg_size

    return jpeg_size(x[0].numpy(), 95)


def test_cifs_takes_lambda_from_the_estimated_noise_level(sample_noisy):
    from autodip.stopping.cifs import interpolate_lambda, shipped_lambda_table

    table = shipped_lambda_table()
    assert table is not None, "the package must ship data/cifs_lambda.json"
    y = image_to_tensor(sample_noisy)
    crit = create_criterion("cifs")
    crit.update(1, y, context(y))
    assert 15 < crit.sigma < 35  # σ = 25 noise
    scale = 64 * 64 / table["pixels"]  # λ follows the pixel count (see autodip.bench.calibrate)
    assert crit.lam == pytest.approx(interpolate_lambda(crit.sigma, table) * scale)


def test_the_shipped_lambda_table_is_indexed_by_the_default_noise_estimator():
    """λ(σ̂) is indexed by σ̂ as estimated: a new default estimator needs the table re-indexed
    (``benchmarks/cifs_reindex.py``), or CIFS would read λ at the wrong noise level."""
    from autodip.analysis.noise_level import METHODS
    from autodip.stopping.cifs import shipped_lambda_table

    table = shipped_lambda_table()
    assert table["made_with"].get("sigma_method", "wavelet") == METHODS[0]
    assert table["sigmas"] == [row["sigma_hat"] for row in table["rows"]]


def test_cifs_reads_a_given_table(tmp_path, sample_noisy):
    table = {"sigmas": [10.0, 40.0], "lambdas": [1e4, 1e6], "pixels": 32 * 32}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table))
    y = image_to_tensor(sample_noisy)
    crit = create_criterion("cifs", table=str(path), sigma=25.0)
    crit.update(1, y, context(y))
    assert crit.lam == pytest.approx(1e5 * 4)  # geometric middle, times 64²/32²


def test_gray_images_take_the_gray_table_where_one_is_installed(monkeypatch) -> None:
    from autodip.stopping import cifs

    colour = {"sigmas": [25.0], "lambdas": [1e6], "pixels": 64 * 64}
    gray = {"sigmas": [25.0], "lambdas": [3e5], "pixels": 64 * 64}
    installed = {cifs.LAMBDA_TABLE: colour, cifs.LAMBDA_TABLE_GRAY: gray}
    monkeypatch.setattr(cifs, "_packaged_table", installed.get)
    y = torch.full((1, 1, 64, 64), 0.5)
    crit = create_criterion("cifs", sigma=25.0)
    # before a run no table is named: a checkpoint's identity of the criteria stays as it was
    assert "table" not in crit.describe()
    del crit.table_used  # as unpickled from a checkpoint made before the attribute existed
    assert crit.describe()["name"] == "cifs"
    crit.update(1, y, context(y))
    assert crit.lam == pytest.approx(3e5)
    assert crit.describe()["table"] == cifs.LAMBDA_TABLE_GRAY  # the report names the table
    crit = create_criterion("cifs", sigma=25.0)
    colour_y = y.expand(1, 3, 64, 64)
    crit.update(1, colour_y, context(colour_y))
    assert crit.lam == pytest.approx(1e6)
    del installed[cifs.LAMBDA_TABLE_GRAY]  # none installed: gray images take the colour table
    crit = create_criterion("cifs", sigma=25.0)
    crit.update(1, y, context(y))
    assert crit.lam == pytest.approx(1e6)
    assert crit.describe()["table"] == cifs.LAMBDA_TABLE


def test_the_package_ships_a_gray_table_calibrated_on_set12() -> None:
    from autodip.stopping.cifs import shipped_lambda_table

    gray, colour = shipped_lambda_table(channels=1), shipped_lambda_table(channels=3)
    assert gray is not colour and gray["lambdas"] != colour["lambdas"]
    assert set(gray["made_with"]["images"]) == {"01.png", "03.png", "05.png", "07.png"}
    assert list(gray["sigmas"]) == sorted(gray["sigmas"]) and len(gray["sigmas"]) == 6
    # calibrated on 128² crops: the pixel count the run-time scaling divides by
    assert gray["pixels"] == 128 * 128


@pytest.mark.parametrize("name, options", [("wmv", {"window": 30}), ("emv", {})])
def test_variance_of_a_constant_sequence_is_zero_and_grows_with_jitter(name, options):
    base = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    results = {}
    for jitter in (0.0, 0.01, 0.1):
        crit = create_criterion(name, **options)
        gen = torch.Generator().manual_seed(1)
        scores = [
            crit.update(step, base, context(base + jitter * torch.randn(base.shape, generator=gen)))
            for step in range(10, 400, 10)
        ]
        results[jitter] = [s for s in scores if s is not None][-1]
    assert results[0.0] == pytest.approx(0.0, abs=1e-12)
    assert 0 < results[0.01] < results[0.1]
    assert results[0.01] == pytest.approx(1e-4, rel=0.5)  # variance of the jitter


def test_wmv_waits_for_a_full_window():
    crit = create_criterion("wmv", window=100)
    x = torch.zeros(1, 1, 4, 4)
    got = [crit.update(step, x, context(x)) for step in range(10, 200, 10)]
    assert got[:9] == [None] * 9 and got[9] is not None  # first score at step 100


def test_chord_frame_curvature_sign_and_scale():
    u = np.linspace(0, 1, 11)
    assert chord_frame_curvature(u, 2 * u) == pytest.approx(0.0, abs=1e-9)
    assert chord_frame_curvature(u, u**2) > 0 > chord_frame_curvature(u, np.sqrt(u))


def sigmoid_stop(max_iters: int, centre: float = 1500.0, width: float = 150.0, **osc):
    """Drive a Stopper with outputs whose projection on the pseudo-noise is a logistic curve."""
    target = torch.zeros(1, 1, 16, 16)
    stopper = Stopper(create_criterion("osc", **osc))
    p = stopper.start(target, seed=0, reference=None)
    for step in range(10, max_iters + 1, 10):
        c = 1 / (1 + math.exp(-(step - centre) / width))
        if stopper.observe(step, c * p, context(c * p, target, max_iters)):
            return stopper.best_step, step
    return None, max_iters


def test_osc_stops_at_the_knee_of_a_sigmoid():
    """The stop must land at the logistic curve's point of maximum curvature (computed
    analytically in the criterion's normalised frame) within 100 steps, and the run must end
    L + window steps after it."""
    stop, ended = sigmoid_stop(3000, half_length=300, window=100)
    t = np.linspace(0, 3000, 30001)
    x, y = t / 3000, 1 / (1 + np.exp(-(t - 1500) / 150))
    dy, d2y = np.gradient(y, x), np.gradient(np.gradient(y, x), x)
    knee = t[np.argmax(d2y / (1 + dy**2) ** 1.5)]
    assert stop is not None
    assert abs(stop - knee) <= 100, (stop, knee)
    assert stop < 1500  # the knee is where growth starts, before the midpoint
    assert ended - stop == 300 + 100


def test_osc_stop_does_not_depend_on_the_iteration_budget():
    stops = {iters: sigmoid_stop(iters)[0] for iters in (2500, 3000, 6000)}
    assert len(set(stops.values())) == 1, stops


def test_osc_projection_counts_the_pseudo_noise_once():
    target = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    crit = create_criterion("osc")
    p = crit.objective_offset(target, seed=0)
    crit.update(10, target, context(target))
    crit.update(20, target + p, context(target + p))
    # <y, p>/<p, p> is a small random number (std about 0.1 here); adding p adds exactly 1
    assert abs(crit.coefficients[0]) < 0.4
    assert crit.coefficients[1] - crit.coefficients[0] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", ["brisque", "niqe"])
def test_iqa_criteria_rise_with_noise(name):
    from importlib import resources

    from autodip.io import read_image

    clean, _ = read_image(resources.files("autodip") / "data" / "f16_256_clean.png")
    crit = create_criterion(name)
    scores = []
    for sigma in (0, 50):
        x = image_to_tensor(add_gaussian_noise(clean, sigma, seed=0))
        scores.append(crit.update(1, x, context(x)))
    assert scores[0] < scores[1]


def test_oracle_needs_a_reference():
    stopper = Stopper(create_criterion("oracle"))
    with pytest.raises(ValueError, match="reference"):
        stopper.start(torch.rand(1, 3, 8, 8), 0, None)


# --- the stopper in the runner --------------------------------------------------------------------


def test_osc_cannot_be_monitored_inside_another_run():
    with pytest.raises(ValueError, match="changes the objective"):
        Stopper(create_criterion("wmv"), [create_criterion("osc")])


class Scripted(Criterion):
    """A criterion whose score is a known function of the step: minimum at step 120."""

    name = "scripted"

    def update(self, step, output, context):
        return abs(step - 120.0)


def test_runner_returns_the_best_candidates_image_not_the_last_iterate():
    y = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    seen = {}

    def capture(report):
        seen[report.step] = report.estimate.detach().cpu().clone()

    result = fit(
        y,
        create_net("hourglass", width=8),
        config=FitConfig(max_iters=200, monitor_every=20, device="cpu"),
        stopper=Stopper(Scripted(), patience=10_000),
        monitors=[capture],
    )
    assert result.stop_step == 120 and result.confirmed is False
    assert torch.equal(result.image, seen[120].clamp(0, 1))
    assert not torch.equal(result.image, seen[200].clamp(0, 1))
    assert "not confirmed" in result.reason and result.iterations == 200


def test_oracle_stop_has_the_best_psnr_of_the_run(sample_clean, sample_noisy):
    y, ref = image_to_tensor(sample_noisy), image_to_tensor(sample_clean)
    result = fit(
        y,
        create_net("hourglass", width=16),
        config=FitConfig(max_iters=120, monitor_every=20, device="cpu"),
        reference=ref,
        stopper=Stopper(create_criterion("oracle"), patience=40),
    )
    best = max(h["psnr"] for h in result.history)
    assert psnr(result.image, ref) == pytest.approx(best, abs=1e-3)


def test_runner_stops_when_the_primary_confirms():
    y = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    stopper = Stopper(create_criterion("fixed", at=30), [create_criterion("wmv", window=20)])
    result = fit(
        y,
        create_net("hourglass", width=8),
        config=FitConfig(max_iters=100, monitor_every=10, device="cpu"),
        stopper=stopper,
    )
    assert result.confirmed and result.stop_step == 30 and result.iterations == 40
    assert result.reason == "fixed: no new minimum in 1 steps after step 30"
    assert result.criteria["wmv"]["scores"] and result.monitor_seconds >= 0


# --- declared options (every registered criterion) ------------------------------------------------


@pytest.mark.parametrize("name", list(list_criteria()))
def test_every_criterion_declares_its_options(name):
    """Each keyword of the constructor is a typed option; ranges name real options and hold the
    default; the criterion builds with its defaults given explicitly."""
    from autodip.stopping.base import declared_options

    cls = list_criteria()[name]
    declared = declared_options(cls)  # raises for a parameter without a supported type hint
    assert set(cls.option_ranges) <= set(declared), "option_ranges names an unknown option"
    for spec in declared.values():
        if spec.range is not None and spec.default is not None:
            assert spec.default in spec.range, spec
    create_criterion(name, **{k: s.default for k, s in declared.items()})


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("cifs", {"nonexistent": 1}, "cifs has no option 'nonexistent'; its options are lam"),
        ("osc", {"hal_length": 3}, "did you mean 'half_length'"),
        ("oracle", {"x": 1}, "it takes no options"),
        ("osc", {"half_length": "abc"}, "osc.half_length must be an integer, got 'abc'"),
        ("osc", {"half_length": 2.5}, "osc.half_length must be an integer"),
        ("emv", {"alpha": 1.5}, r"emv.alpha must be in \(0, 1\], got 1.5"),
        ("emv", {"alpha": "inf"}, "emv.alpha must be a finite number"),
        ("cifs", {"lam": "abc"}, "cifs.lam must be a number or none"),
        ("wmv", {"window": True}, "wmv.window must be an integer"),
    ],
)
def test_criterion_options_are_checked_against_the_declaration(name, options, message):
    with pytest.raises(ValueError, match=message):
        create_criterion(name, **options)


def test_text_options_are_converted_to_the_declared_types():
    from autodip.stopping.base import check_criterion_options

    assert check_criterion_options("osc", {"half_length": "200", "std": "1/25"}) == {
        "half_length": 200,
        "std": 0.04,
    }
    assert check_criterion_options("cifs", {"lam": "none", "table": "t.json"}) == {
        "lam": None,
        "table": "t.json",
    }


def test_osc_replayed_from_its_trace_scores_as_the_online_run_did():
    """A recorded projection curve replayed with the same options gives the online scores, so
    other windows can be judged offline on recorded runs."""
    from autodip.stopping.osc import replay_scores

    target = torch.zeros(1, 1, 16, 16)
    stopper = Stopper(create_criterion("osc", half_length=200, window=60), patience=10**6)
    p = stopper.start(target, seed=0, reference=None)
    for step in range(10, 2001, 10):
        c = 1 / (1 + math.exp(-(step - 900) / 120)) + 0.01 * math.sin(step / 37)
        stopper.observe(step, c * p, context(c * p, target, 2000))
    online = stopper.primary
    trace = online.trace()
    scored, scores = replay_scores(trace["steps"], trace["coefficients"], half_length=200,
                                   window=60)  # fmt: skip
    summary = stopper.summary(2000)["osc"]
    assert scored == summary["steps"] and scores == pytest.approx(summary["scores"], abs=0)
    other_steps, _ = replay_scores(trace["steps"], trace["coefficients"], half_length=100)
    assert other_steps[0] < scored[0]  # a shorter window scores earlier
    with pytest.raises(ValueError, match="must increase"):  # not a crash on a repeated step
        replay_scores([10, 10, 20], [0.1, 0.1, 0.2])
