"""Ensembles: each member is a plain run, the mean and spread are right, Ctrl-C and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autodip import denoise, inpaint, super_resolve
from autodip.core.checkpoint import CheckpointError, Checkpointing
from autodip.core.ensemble import (
    MAX_MEMBERS,
    check_size,
    member_checkpoint_path,
    plan_members,
    score_at_stop,
)
from autodip.metrics.uncertainty import error_ranking, pixel_std, summarise
from autodip.physics.transforms import apply, invert

FAST = {"iters": 4, "width": 8, "device": "cpu", "fit_options": {"monitor_every": 2}}


@pytest.fixture
def noisy(sample_noisy):
    return np.ascontiguousarray(sample_noisy[:, :24, :20])


@pytest.fixture
def clean(sample_clean):
    return np.ascontiguousarray(sample_clean[:, :24, :20])


def _t(array):
    return torch.from_numpy(np.ascontiguousarray(array))[None]


def test_plans_are_nested_seeds_and_transforms():
    plan = plan_members(10, seed=3, transforms="dihedral")
    assert [m.seed for m in plan] == list(range(3, 13))
    assert [m.transform for m in plan[:4]] == ["identity", "rot180", "flip", "flip-rot180"]
    assert plan[8].transform == "identity" and plan[9].transform == "rot180"  # again after 8
    assert plan_members(4, 3, "dihedral") == plan[:4]
    assert {m.transform for m in plan_members(5, 0)} == {"identity"}
    assert plan[1].describe(10) == "member 2/10 (seed 4, rot180)"
    assert plan[0].describe(10) == "member 1/10 (seed 3)"


@pytest.mark.parametrize("size", [0, -1, MAX_MEMBERS + 1, True, 2.0, "2"])
def test_bad_sizes_are_refused(size):
    with pytest.raises(ValueError, match="members"):
        check_size(size)


def test_bad_transforms_are_refused(noisy):
    with pytest.raises(ValueError, match="none or dihedral"):
        denoise(noisy, ensemble=2, ensemble_transforms="flips", **FAST)


@pytest.mark.parametrize("transforms", ["none", "dihedral"])
def test_each_member_is_exactly_a_solo_run_with_its_seed_and_transform(noisy, clean, transforms):
    result = denoise(
        noisy, ensemble=3, ensemble_transforms=transforms, seed=5, reference=clean, **FAST
    )
    assert len(result.members) == 3
    for member, plan in zip(result.members, plan_members(3, 5, transforms), strict=True):
        name = plan.transform
        solo = denoise(apply(_t(noisy), name), seed=plan.seed, reference=apply(_t(clean), name),
                       ensemble=1, **FAST)  # fmt: skip
        assert torch.equal(invert(solo.image, name), member.image), plan
        assert member.iterations == solo.iterations and member.stop_step == solo.stop_step
    records = result.ensemble["members"]
    assert [(r["seed"], r["transform"]) for r in records] == [
        (p.seed, p.transform) for p in plan_members(3, 5, transforms)
    ]


def test_the_result_is_the_mean_and_the_uncertainty_the_std(noisy, clean):
    result = denoise(noisy, ensemble=3, ensemble_transforms="dihedral", reference=clean, **FAST)
    stack = np.stack([m.pixels for m in result.members]).astype(np.float64)
    assert np.allclose(result.pixels, stack.mean(axis=0), atol=1e-6)
    assert np.allclose(result.uncertainty[0].numpy(), stack.std(axis=0), atol=1e-6)
    assert result.iterations == sum(m.iterations for m in result.members)
    assert result.stop_step is None and result.ensemble["size"] == 3
    summary = result.ensemble["uncertainty"]
    assert summary["mean"] == pytest.approx(255 * stack.std(axis=0).mean(axis=0).mean(), rel=1e-5)
    assert -1 <= summary["spearman_error"] <= 1
    assert "not a calibrated posterior" in summary["what"]
    assert "ensemble" in result.to_dict()


def test_member_records_say_where_each_stopped(noisy):
    result = denoise(noisy, ensemble=2, **FAST)
    for record, member in zip(result.ensemble["members"], result.members, strict=True):
        assert record["stop_step"] == member.stop_step
        assert record["iterations"] == member.iterations
        assert record["underfitted"] == member.underfitted
        assert record["score_at_stop"] == score_at_stop(member)
    # the fit guard judges the mean
    assert result.config["fit_guard"]["note"].endswith("(the mean of the members)")


def test_a_single_member_is_a_plain_run(noisy):
    plain = denoise(noisy, ensemble=1, **FAST)
    one = denoise(noisy, ensemble=1, ensemble_transforms="dihedral", **FAST)
    assert torch.equal(plain.image, one.image) and one.ensemble is None and not one.members


def test_inpainting_members_get_the_transformed_mask(noisy):
    mask = np.ones(noisy.shape[1:], np.float32)
    mask[5:12, 3:9] = 0
    result = inpaint(noisy, mask, ensemble=2, ensemble_transforms="dihedral", **FAST)
    second = plan_members(2, 0, "dihedral")[1]
    solo = inpaint(apply(_t(noisy), second.transform), apply(_t(mask), second.transform)[0],
                   seed=second.seed, **FAST)  # fmt: skip
    assert torch.equal(invert(solo.image, second.transform), result.members[1].image)


def test_super_resolution_ensembles_map_the_estimate_back(noisy):
    low = noisy[:, :12, :10]
    result = super_resolve(low, 2, ensemble=2, ensemble_transforms="dihedral", **FAST)
    assert result.pixels.shape == (3, 24, 20) and result.uncertainty.shape == (1, 3, 24, 20)


def test_ctrl_c_in_a_member_returns_the_mean_of_what_exists(noisy):
    calls = []

    def interrupt(step, loss):
        calls.append(step)
        if len(calls) == FAST["iters"] + 3:  # step 3 of member 2
            raise KeyboardInterrupt

    result = denoise(noisy, ensemble=3, on_step=interrupt, **{**FAST, "iters": 4})
    assert result.interrupted and len(result.members) == 2
    assert result.members[1].interrupted and result.members[1].iterations == 3
    mean = (result.members[0].image + result.members[1].image) / 2
    assert torch.allclose(result.image, mean, atol=1e-7)
    assert result.reason.startswith("interrupted in member 2 of 3")
    assert result.ensemble["run"] == 2 and result.ensemble["size"] == 3


def test_ctrl_c_between_members_keeps_the_finished_ones(noisy):
    def stop_second(member, count):
        if member.index == 1:
            raise KeyboardInterrupt

    result = denoise(noisy, ensemble=3, on_member=stop_second, **FAST)
    assert result.interrupted and len(result.members) == 1
    assert torch.equal(result.image, result.members[0].image)
    assert "at the start of member 2 of 3" in result.reason


def test_ctrl_c_before_any_member_is_not_swallowed(noisy):
    def stop(member, count):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        denoise(noisy, ensemble=2, on_member=stop, **FAST)


def test_the_time_limit_is_the_whole_ensembles(noisy):
    result = denoise(noisy, ensemble=3, max_time=1e-9, **{**FAST, "iters": 40})
    assert len(result.members) == 1 and result.ensemble["run"] == 1
    assert result.reason.startswith("reached the time limit after 1 of 3 members")
    assert result.config["budget"]["timed_out"]


def test_tiles_and_ensembles_are_refused_together(noisy):
    with pytest.raises(ValueError, match="does not work with tiles"):
        denoise(noisy, ensemble=2, tile=32, **FAST)


def test_checkpoints_are_per_member_and_resume_to_the_same_result(tmp_path, noisy):
    options = {**FAST, "iters": 6, "fit_options": {"monitor_every": 2}}
    whole = denoise(noisy, ensemble=2, ensemble_transforms="dihedral", **options)
    path = tmp_path / "out.png.ckpt"
    calls = []

    def interrupt(step, loss):
        calls.append(step)
        if len(calls) == 6 + 5:  # step 5 of member 2, after its checkpoint at step 4
            raise KeyboardInterrupt

    cut = denoise(noisy, ensemble=2, ensemble_transforms="dihedral", on_step=interrupt,
                  checkpoint=Checkpointing(path, every=2), **options)  # fmt: skip
    assert cut.interrupted
    files = [member_checkpoint_path(path, i) for i in range(2)]
    assert [f.name for f in files] == ["out.png.member1.ckpt", "out.png.member2.ckpt"]
    assert all(f.is_file() for f in files) and not path.exists()
    resumed = denoise(noisy, ensemble=2, ensemble_transforms="dihedral",
                      checkpoint=Checkpointing(path, every=2, resume=True), **options)  # fmt: skip
    assert torch.equal(resumed.image, whole.image)
    assert resumed.members[1].config.get("resumed_from_step") == 4


def test_resuming_an_ensemble_without_member_checkpoints_is_refused(tmp_path, noisy):
    with pytest.raises(CheckpointError, match="no checkpoint of this ensemble's members"):
        denoise(noisy, ensemble=2, checkpoint=Checkpointing(tmp_path / "o.ckpt", resume=True),
                **FAST)  # fmt: skip


def test_uncertainty_helpers():
    members = np.stack([np.zeros((2, 3, 3)), np.ones((2, 3, 3)), np.full((2, 3, 3), 2.0)])
    assert np.allclose(pixel_std(members), np.sqrt(2 / 3))
    estimate = np.zeros((1, 2, 3))
    reference = np.array([[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]])
    ranked = np.arange(6.0).reshape(2, 3)
    assert error_ranking(ranked, estimate, reference) == pytest.approx(1.0)
    assert error_ranking(-ranked, estimate, reference) == pytest.approx(-1.0)
    assert np.isnan(error_ranking(np.zeros((2, 3)), estimate, reference))
    summary = summarise(ranked / 255, estimate)
    assert summary["max"] == pytest.approx(5.0) and "spearman_error" not in summary
