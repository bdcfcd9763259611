"""Batched members: K runs in one grouped computation, each equal to its solo run."""

import numpy as np
import pytest
import torch

from autodip.core import members as members_module
from autodip.core.config import FitConfig
from autodip.core.members import fit_members
from autodip.core.run import fit
from autodip.metrics.full_reference import psnr
from autodip.nets import create_net
from autodip.nets.grouped import cat_members, group_members
from autodip.physics.operators import Inpaint, SuperResolve
from autodip.stopping import Stopper, create_criterion

SEEDS = [3, 11, 5]


def _y(size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _config(**options) -> FitConfig:
    return FitConfig(**{"device": "cpu", "max_iters": 40, "monitor_every": 5, **options})


def _stopper() -> Stopper:
    return Stopper(create_criterion("wmv", window=10), patience=10)


def _solo_and_drift(y, seed, operator=None, stopper=None, **options):
    """The solo run, and how far float32 rounding alone moves it: the same run on ``y + 1e-7``.

    A DIP run amplifies rounding (Adam's step has the sign of gradients that are ~0 early on), so a
    grouped convolution, which sums in another order, moves a member by about as much as a 1e-7
    change of the input moves the solo run; that, not a fixed number, is "within rounding".
    """

    def solo(target):
        net, config = create_net("hourglass", width=8), _config(seed=seed, **options)
        return fit(target, net, operator, config, stopper=stopper() if stopper else None)

    exact, nudged = solo(y), solo((y + 1e-7).clamp(0, 1))
    return exact, float((exact.image - nudged.image).abs().max())


def test_grouped_networks_compute_each_member():
    nets = [create_net("hourglass", width=4) for _ in range(3)]
    codes = [torch.rand(1, nets[0].in_channels, 16, 16) for _ in nets]
    out = group_members(nets)(torch.cat(codes, dim=1))
    for k, (net, z) in enumerate(zip(nets, codes, strict=True)):
        torch.testing.assert_close(out[:, 3 * k : 3 * k + 3], net(z), atol=1e-5, rtol=0)


def test_cat_members_keeps_each_members_channels_together():
    a = torch.arange(4.0).reshape(1, 4, 1, 1)  # two members, two channels each
    b = torch.arange(10.0, 12.0).reshape(1, 2, 1, 1)  # two members, one channel each
    assert cat_members([a, b], 2).flatten().tolist() == [0, 1, 10, 2, 3, 11]
    assert torch.equal(cat_members([a, b], 1), torch.cat([a, b], dim=1))


@pytest.mark.parametrize(("draw", "steps"), [("fresh", 10), ("shifted", 5)])
def test_member_k_equals_its_solo_run_in_float32(draw, steps):
    """Over 10 steps, before a run's chaos amplifies rounding (on an AVX2 CPU a member of seed 3
    drifts 1e-6 from its solo run by step 20 and 3e-4 by step 40, while nudging the input by 1e-7
    moves the solo run by under 1e-6: the nudge does not stand for the grouped sums' rounding
    there; on an AVX-512 CPU the grouped and solo convolutions' rounding reaches 6e-5 by step 10),
    a member is its solo run up to float32 rounding; a member mixed up with another, or given
    another seed's code or noise, is off by about 0.1, 500 times the tolerance. With the shifted
    perturbation the member of seed 3 enters that amplification sooner (on an AMX CPU 8e-7 after
    1 step, 8e-5 after 5, 9e-4 after 10, while the others stay at 8e-7): 5 steps there."""
    y, config = _y(), _config(precision="fp32", max_iters=steps, reg_noise_draw=draw)
    nets = [create_net("hourglass", width=8) for _ in SEEDS]
    members = fit_members(y, nets, config=config, seeds=SEEDS)
    for seed, member in zip(SEEDS, members, strict=True):
        solo, _ = _solo_and_drift(y, seed, precision="fp32", max_iters=steps, reg_noise_draw=draw)
        assert member.iterations == solo.iterations == steps
        assert (member.image - solo.image).abs().max() <= 2e-4
        assert member.config["seed"] == seed


def test_member_k_equals_its_solo_run_in_bf16():
    y, config = _y(), _config(precision="bf16")
    nets = [create_net("hourglass", width=8) for _ in SEEDS]
    members = fit_members(y, nets, config=config, seeds=SEEDS)
    for seed, member in zip(SEEDS, members, strict=True):
        solo, drift = _solo_and_drift(y, seed, precision="bf16")
        assert member.iterations == solo.iterations
        assert (member.image - solo.image).abs().max() <= 3 * drift + 1e-4
        assert member.config["seed"] == seed


def test_each_member_stops_by_its_own_criterion():
    y, seeds = _y(), SEEDS[:2]
    members = fit_members(
        y, [create_net("hourglass", width=8) for _ in seeds], config=_config(max_iters=100),
        seeds=seeds, stoppers=[_stopper(), None],
    )  # fmt: skip
    stopped, free = members
    assert stopped.confirmed and stopped.iterations < 100
    assert stopped.stop_step in [h["step"] for h in stopped.history]
    assert [h["step"] for h in stopped.history] == list(range(5, stopped.iterations + 1, 5))
    assert free.iterations == 100 and free.stop_step is None
    solo, drift = _solo_and_drift(y, seeds[0], stopper=_stopper, max_iters=100)
    # the confirmation gate is a member's own, as in its solo run
    assert stopped.config["gate_opens_at"] is not None and free.config["gate_opens_at"] is None
    if drift < 1e-5:  # rounding did not move this trajectory: the stop is the solo run's
        assert (stopped.stop_step, stopped.iterations) == (solo.stop_step, solo.iterations)
        assert stopped.config["gate_opens_at"] == solo.config["gate_opens_at"]


@pytest.mark.parametrize(
    "operator", [Inpaint(np.eye(16) < 0.5), SuperResolve(2)], ids=["inpaint", "sr"]
)
def test_members_through_other_operators(operator):
    y = _y(8) if isinstance(operator, SuperResolve) else _y()
    members = fit_members(y, [create_net("hourglass", width=8) for _ in SEEDS[:2]], operator,
                          _config(max_iters=10), seeds=SEEDS[:2])  # fmt: skip
    for seed, member in zip(SEEDS[:2], members, strict=True):
        solo, drift = _solo_and_drift(y, seed, operator, max_iters=10)
        assert (member.image - solo.image).abs().max() <= 3 * drift + 1e-4


def test_what_members_cannot_do_is_refused():
    nets = [create_net("hourglass", width=4) for _ in range(2)]
    with pytest.raises(ValueError, match="one seed per network"):
        fit_members(_y(), nets, config=_config(), seeds=[1])
    with pytest.raises(ValueError, match="no TV term"):
        fit_members(_y(), nets, config=_config(tv_weight=0.1), seeds=[1, 2])
    holdout = [Stopper(create_criterion("holdout")) for _ in nets]
    with pytest.raises(ValueError, match="changes the objective"):
        fit_members(_y(), nets, config=_config(), seeds=[1, 2], stoppers=holdout)
    with pytest.raises(ValueError, match="one architecture"):
        fit_members(
            _y(), [nets[0], create_net("hourglass", width=8)], config=_config(), seeds=[1, 2]
        )


def test_members_that_keep_diverging_end_with_their_last_good_estimate():
    """As a solo run (``test_runner.py::test_divergence_returns_the_last_finite_estimate``): after
    the last restart each running member returns its estimate of the last good step, says so,
    and the batch does not raise."""
    seeds, y = SEEDS[:2], _y()
    reference = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(9))
    config = _config(max_iters=40, monitor_every=1, lr=1e30, exp_weight=0)
    steps = []
    with pytest.warns(RuntimeWarning, match="every member continues from step"):
        members = fit_members(
            y, [create_net("hourglass", width=8) for _ in seeds], config=config, seeds=seeds,
            reference=reference, on_step=lambda step, loss: steps.append(step),
        )  # fmt: skip
    for member in members:
        last_good = member.history[-1]["step"]
        assert "did not recover after 5 restarts" in member.reason
        assert f"returning the estimate of step {last_good} (try a lower --lr)" in member.reason
        assert [e["action"] for e in member.events][-1] == "gave up"
        assert len(member.events) == 6
        assert member.iterations == last_good + 1  # every step is monitored: the next one diverged
        # the image returned is the one the history scored at the last good step
        assert psnr(member.image, reference) == pytest.approx(member.history[-1]["psnr"], abs=1e-4)
    assert members[0].iterations not in steps  # as a solo run, the diverged step is not reported


def test_a_member_that_ended_keeps_its_own_events(monkeypatch):
    """A member stopped by its criterion before the batch gave up reports no event of the
    others' divergence: its solo run would have had none."""
    y, seeds = _y(), SEEDS[:2]

    def run(**options):
        nets = [create_net("hourglass", width=8) for _ in seeds]
        config = _config(max_iters=100, **options)
        return fit_members(y, nets, config=config, seeds=seeds, stoppers=[_stopper(), None])

    stopped, _ = run()
    assert stopped.confirmed and stopped.iterations < 90
    after = stopped.iterations + 10  # a monitored step of the free member, after the stop
    real = members_module.divergence

    def diverges_after_the_stop(value, fit, snapshot, cfg):  # judged at `after` (every 5 steps)
        return "forced" if snapshot.step >= after - 5 else real(value, fit, snapshot, cfg)

    monkeypatch.setattr(members_module, "divergence", diverges_after_the_stop)
    ended, free = run(max_recoveries=0)
    assert (ended.iterations, ended.reason, ended.events) == (
        stopped.iterations,
        stopped.reason,
        [],
    )
    assert free.iterations == after and "did not recover after 0 restarts" in free.reason
    assert [e["action"] for e in free.events] == ["gave up"]


def test_members_that_diverge_before_any_monitored_step_raise():
    config = _config(max_iters=40, monitor_every=5, lr=1e30, exp_weight=0)
    nets = [create_net("hourglass", width=8) for _ in SEEDS[:2]]
    with pytest.warns(RuntimeWarning), pytest.raises(FloatingPointError, match="lower --lr"):
        fit_members(_y(), nets, config=config, seeds=SEEDS[:2])
