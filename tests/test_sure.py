"""The ``sure`` criterion: Stein's unbiased risk estimate, its divergence from a pseudo-noise."""

import pytest
import torch

from autodip.core.run import FitConfig, fit
from autodip.nets import create_net
from autodip.physics.operators import Denoise
from autodip.stopping import Context, Stopper, create_criterion
from autodip.stopping.sure import sure_score, sure_scores

SIGMA = 25.0  # 0–255


def noisy_pair(size: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth clean image in [0.2, 0.8] and its copy with white Gaussian noise of SIGMA."""
    generator = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0.2, 0.8, size)
    clean = (ramp[None, :] * ramp[:, None]).expand(1, 3, size, size).clone()
    clean += 0.05 * torch.sin(torch.arange(size) / 4.0)[None, None, None, :]
    noise = torch.randn(clean.shape, generator=generator) * SIGMA / 255
    return clean, clean + noise


def score_of(criterion, estimate: torch.Tensor, target: torch.Tensor, step: int = 10) -> float:
    context = Context(raw=estimate, target=target, operator=Denoise(), loss=0.0, max_iters=100)
    return criterion.update(step, estimate, context)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.6, 0.9, 1.0])
def test_the_score_estimates_the_error_of_a_shrinkage(alpha):
    """For the estimator x̂ = m + α (z − m) of z = y + p (m the clean mean), whose divergence is
    α per value, the score / 255² is the actual mean square error to the clean image within a
    few per cent, although the criterion never sees the clean image.
    """
    clean, y = noisy_pair(size=256)
    crit = create_criterion("sure", sigma=SIGMA, std=1 / 25)
    p = crit.objective_offset(y, seed=3)
    mean = clean.mean()
    estimate = mean + alpha * (y + p - mean)
    actual = float(((estimate - clean) ** 2).mean())
    assert score_of(crit, estimate, y) / 255**2 == pytest.approx(actual, rel=0.05, abs=2e-4)
    divergence = crit.coefficients[-1] - crit.offset  # c − c_y measures the divergence
    assert divergence == pytest.approx(alpha, abs=0.02)


def test_its_minimum_over_a_family_is_the_errors_minimum():
    """Among shrinkages of every strength, the score's best is the one with the least error."""
    clean, y = noisy_pair(seed=1)
    crit = create_criterion("sure")  # σ̂ estimated from y
    p = crit.objective_offset(y, seed=0)
    mean = clean.mean()
    alphas = [i / 20 for i in range(21)]
    scores, errors = [], []
    for alpha in alphas:
        estimate = mean + alpha * (y + p - mean)
        scores.append(score_of(crit, estimate, y))
        errors.append(float(((estimate - clean) ** 2).mean()))
    best = min(range(len(alphas)), key=errors.__getitem__)
    assert abs(min(range(len(alphas)), key=scores.__getitem__) - best) <= 1
    assert crit.describe()["sigma"] == pytest.approx(SIGMA, rel=0.15)


def test_the_score_formula():
    assert sure_score(0.01, 0.0, 0.0) == pytest.approx(0.01 * 255**2)  # no noise: the residual
    assert sure_score(0.0, 0.7, 25.5, offset=0.2) == pytest.approx(sure_score(0.0, 0.5, 25.5))
    assert sure_scores([0.01, 0.004], [0.0, 0.5], 25.5) == [
        pytest.approx(255**2 * (0.01 - 0.01)),
        pytest.approx(255**2 * (0.004 - 0.01 + 0.01)),
    ]


def test_a_run_stops_by_it_and_records_what_replays_it():
    """Online: the run fits y + p, stops by the rule, and its trace replays its scores."""
    _, y = noisy_pair(size=32)
    y = y.clamp(0, 1)
    stopper = Stopper(create_criterion("sure"), patience=40)
    result = fit(
        y,
        create_net("hourglass", width=8),
        config=FitConfig(max_iters=200, monitor_every=10, device="cpu", seed=0),
        stopper=stopper,
    )
    record = result.criteria["sure"]
    trace = record["trace"]
    assert trace["steps"] == record["steps"] and len(trace["steps"]) >= 2
    online = stopper.primary
    replayed = sure_scores(trace["residuals"], trace["coefficients"], online.sigma, online.offset)
    assert replayed == pytest.approx(record["scores"], rel=1e-9)
    # without the offset (an OSC run's record) every score moves alike: the same stop
    shifted = sure_scores(trace["residuals"], trace["coefficients"], online.sigma)
    assert len({round(a - b, 6) for a, b in zip(shifted, record["scores"], strict=True)}) == 1
    assert result.stop_step in record["steps"]
    assert all(0.0 <= c < 1.0 for c in trace["coefficients"])  # p is fitted partly, at most


def test_options_are_checked():
    with pytest.raises(ValueError, match="std"):
        create_criterion("sure", std=0.0)
    with pytest.raises(ValueError, match="sigma"):
        create_criterion("sure", sigma=-1.0)
    with pytest.raises(ValueError, match="pseudo-noise"):
        score_of(create_criterion("sure"), torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))


def test_it_warns_once_where_the_noise_is_too_low_to_estimate_the_risk(recwarn):
    clean, _ = noisy_pair()
    blind = create_criterion("sure")
    blind.objective_offset(clean, seed=0)
    with pytest.warns(RuntimeWarning, match=r"σ̂ = 0\.\d\d/255 .*sure\.sigma=S"):
        score_of(blind, clean, clean)
    score_of(blind, clean, clean, step=20)  # once per run, not at every monitored step
    told = create_criterion("sure", sigma=SIGMA)
    told.objective_offset(clean, seed=0)
    score_of(told, clean, clean)
    assert not [w for w in recwarn if "sure" in str(w.message)]


def test_an_osc_run_is_a_sure_run_so_osc_runs_replay_it():
    """Same seed and std: the same pseudo-noise, hence the same trajectory and projection curve,
    so the recorded OSC runs of the sweeps give sure's scores with OSC's std
    (benchmarks/osc_window.py)."""
    _, y = noisy_pair(size=32)
    y = y.clamp(0, 1)
    runs = {}
    for name, options in (("osc", {}), ("sure", {"std": 1 / 25})):  # OSC's std
        stopper = Stopper(create_criterion(name, **options), patience=10**6)
        runs[name] = fit(
            y,
            create_net("hourglass", width=8),
            config=FitConfig(max_iters=60, monitor_every=10, device="cpu", seed=2),
            stopper=stopper,
        )
    osc, sure = (runs[n].criteria[n]["trace"] for n in ("osc", "sure"))
    assert osc["steps"] == sure["steps"]
    assert osc["coefficients"] == pytest.approx(sure["coefficients"], abs=1e-6)
    residuals = [h["residual"] for h in runs["osc"].history]
    assert residuals == pytest.approx(sure["residuals"], abs=1e-9)


def test_a_resumed_run_scores_as_an_uninterrupted_one(tmp_path):
    """The pseudo-noise and c_y come back from the seed and the measurement: the same scores."""
    from autodip.core.checkpoint import Checkpointing

    _, y = noisy_pair(size=32)
    y = y.clamp(0, 1)
    config = FitConfig(max_iters=80, monitor_every=10, device="cpu", seed=1)

    def run(**options):
        stopper = Stopper(create_criterion("sure"), patience=10**6)
        return fit(y, create_net("hourglass", width=8), config=config, stopper=stopper, **options)

    def kill_at_50(report):
        if report.step == 50:
            raise KeyboardInterrupt

    whole = run()
    path = tmp_path / "run.ckpt"
    run(monitors=[kill_at_50], checkpoint=Checkpointing(path, every=20))
    resumed = run(checkpoint=Checkpointing(path, resume=True))
    assert resumed.config["resumed_from_step"] == 40
    assert resumed.criteria["sure"]["scores"] == pytest.approx(whole.criteria["sure"]["scores"])
