"""Batched ensembles: the members of ``restore(..., ensemble=K)`` as one grouped computation.

A batched member must be the run it would have been alone — the same criterion, the same adaptive
budget and its extensions, the same stop — so that batching only changes how long the ensemble
takes. On the CPU it is only ever asked for explicitly (``batch_members=True``); on a GPU it is the
default (``tests/test_devices.py`` runs that where a GPU exists).
"""

from dataclasses import replace

import numpy as np
import pytest
import torch

import autodip
from autodip.core.config import FitConfig
from autodip.core.ensemble import Batch, Member
from autodip.core.members import fit_members, unsupported
from autodip.core.run import fit
from autodip.nets import create_net
from autodip.stopping import Stopper, create_criterion

FAST = {"iters": 6, "width": 8, "device": "cpu", "precision": "fp32"}


@pytest.fixture
def noisy() -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 32, dtype=np.float32)
    clean = np.stack([np.outer(ramp, ramp)] * 3)
    return np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)


def _stopper() -> Stopper:
    return Stopper(create_criterion("wmv", window=10), patience=10)


def test_each_member_has_its_own_adaptive_budget_as_its_solo_run(noisy):
    """A 20-step budget under-fits this image, so each member is extended (by 10, to its cap of
    60) exactly as its solo run is; the batch runs past the nominal budget to do so."""
    y = torch.from_numpy(noisy)[None]
    config = FitConfig(
        device="cpu", precision="fp32", max_iters=20, max_extended_iters=60, monitor_every=5
    )
    seeds, stoppers = [3, 11], [_stopper, lambda: None]
    members = fit_members(
        y, [create_net("hourglass", width=4) for _ in seeds], config=config, seeds=seeds,
        stoppers=[make() for make in stoppers],
    )  # fmt: skip
    for seed, make, member in zip(seeds, stoppers, members, strict=True):
        solo = fit(y, create_net("hourglass", width=4), None, replace(config, seed=seed),
                   stopper=make())  # fmt: skip
        budget = member.config["budget"]
        assert budget["extensions"], "the test needs a member whose budget is extended"
        assert budget == solo.config["budget"]
        assert (member.iterations, member.reason) == (solo.iterations, solo.reason)
        assert member.iterations > config.max_iters
        assert (member.image - solo.image).abs().max() < 1e-3


def test_members_that_end_at_different_steps_each_end_as_alone(noisy, monkeypatch):
    """A budget that extends only the run of seed 3 (the guard's verdict made per seed): in the
    batch, the member of seed 11 must end at its 22 steps while that of seed 3 goes on to its cap
    of 66 — limits that are not multiples of the monitoring interval (5) — and each must be its
    solo run (steps, reason, monitored steps, image)."""
    from autodip.core.budget import Budget

    consider = Budget.consider

    def only_seed_3(self, step, returned, stopper):
        if self.cfg.seed == 3:
            consider(self, step, returned, stopper)

    monkeypatch.setattr(Budget, "consider", only_seed_3)
    y = torch.from_numpy(noisy)[None]
    config = FitConfig(
        device="cpu", precision="fp32", max_iters=22, max_extended_iters=66, monitor_every=5
    )
    seeds = [3, 11]
    members = fit_members(
        y, [create_net("hourglass", width=4) for _ in seeds], config=config, seeds=seeds
    )
    assert [m.iterations for m in members] == [66, 22]
    for seed, member in zip(seeds, members, strict=True):
        solo = fit(y, create_net("hourglass", width=4), None, replace(config, seed=seed))
        assert (member.iterations, member.reason) == (solo.iterations, solo.reason)
        assert member.config["budget"] == solo.config["budget"]
        steps = [h["step"] for h in member.history]
        assert steps == [h["step"] for h in solo.history] and steps[-1] == member.iterations
        assert (member.image - solo.image).abs().max() < 1e-3


def test_what_cannot_be_batched_is_named():
    assert unsupported(FitConfig(), [None]) is None
    assert "time limit" in unsupported(FitConfig(max_seconds=5), [None])
    assert "TV" in unsupported(FitConfig(tv_weight=0.1), [None])
    holdout = Stopper(create_criterion("holdout"))
    assert "changes the objective" in unsupported(FitConfig(), [holdout])


def test_a_batched_ensemble_is_the_sequential_one(noisy):
    """Same members (seed, steps, stop reason), images within float32 rounding, the same mean;
    the record says it was batched, and its seconds are the batch's, not a sum over members."""
    batched = autodip.denoise(noisy, ensemble=3, batch_members=True, **FAST)
    one_by_one = autodip.denoise(noisy, ensemble=3, batch_members=False, **FAST)
    assert batched.ensemble["batched"] is True and one_by_one.ensemble["batched"] is False
    for a, b in zip(batched.members, one_by_one.members, strict=True):
        assert a.config["seed"] == b.config["seed"]
        assert a.config["ensemble_member"] == b.config["ensemble_member"]
        assert (a.iterations, a.reason, a.stop_step) == (b.iterations, b.reason, b.stop_step)
        assert a.config["net"] == b.config["net"] and a.config["task"] == b.config["task"]
        # the same config keys as a solo member's, and the mean's config is neither's own
        assert a.config.keys() - {"member", "members"} == b.config.keys()
        assert np.abs(a.pixels - b.pixels).max() < 1e-3
    assert np.abs(batched.pixels - one_by_one.pixels).max() < 1e-3
    assert batched.seconds == max(m.seconds for m in batched.members)
    assert "member" not in batched.config and "members" not in batched.config
    assert batched.uncertainty is not None and batched.uncertainty.shape == (1, 3, 32, 32)


def test_on_the_cpu_members_run_one_after_another_unless_asked(noisy):
    """Batching was slower than sequential runs on the 2-core CPU at 256²
    (benchmarks/results/batched_members.md), so the CPU default is one by one."""
    result = autodip.denoise(noisy, ensemble=2, **FAST)
    assert result.ensemble["batched"] is False


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"ensemble_transforms": "dihedral"}, "differently turned inputs"),
        ({"max_time": 60}, "time limit"),
        ({"stop": "holdout"}, "changes the objective"),
        ({"max_memory": 1}, "need about"),
    ],
)
def test_asking_for_a_batch_that_cannot_be_says_why(noisy, options, why):
    with pytest.raises(ValueError, match=f"cannot run batched: .*{why}"):
        autodip.denoise(noisy, ensemble=2, batch_members=True, **{**FAST, **options})


def test_progress_is_told_once_about_the_whole_batch(noisy):
    told = []
    autodip.denoise(noisy, ensemble=3, batch_members=True,
                    on_member=lambda m, n: told.append(m.describe(n)), **FAST)  # fmt: skip
    assert told == ["members 1–3 batched (seeds 0–2)"]
    batch = Batch((Member(0, 5, "identity"), Member(1, 6, "identity")))
    assert batch.to_dict() == {"member": 1, "batched": 2, "seeds": [5, 6]}
    # what a callback written for a Member reads is there too
    assert (batch.index, batch.seed, batch.transform) == (0, 5, "identity")


def test_a_wrong_reference_is_refused_before_the_batch_runs(noisy):
    with pytest.raises(ValueError, match=r"the reference is \(3, 16, 16\)"):
        autodip.denoise(noisy, ensemble=2, batch_members=True, reference=noisy[:, :16, :16],
                        **FAST)  # fmt: skip


def test_ctrl_c_in_a_batch_returns_the_mean_of_every_member_so_far(noisy):
    def interrupt(step, loss):
        if step == 4:
            raise KeyboardInterrupt

    result = autodip.denoise(noisy, ensemble=2, batch_members=True, on_step=interrupt, **FAST)
    assert result.interrupted and result.ensemble["run"] == 2
    assert result.reason.startswith("interrupted while the 2 members ran batched (0 had ended)")
    alone = autodip.denoise(noisy, ensemble=1, on_step=interrupt, **FAST)  # member 1's solo run
    assert alone.reason == "interrupted by the user after step 4" and alone.iterations == 4
    assert all((m.reason, m.iterations) == (alone.reason, 4) for m in result.members)
    mean = np.mean([m.pixels for m in result.members], axis=0)
    assert np.abs(result.pixels - mean).max() < 1e-6
