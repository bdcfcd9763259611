"""Divergence recovery, and checkpoint/resume ending exactly where an uninterrupted run ends."""

from __future__ import annotations

import math

import pytest
import torch

from autodip.core.checkpoint import CheckpointError, Checkpointing
from autodip.core.run import FitConfig, fit
from autodip.nets import create_net
from autodip.stopping import Stopper, create_criterion


def _y(seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def _config(**options) -> FitConfig:
    return FitConfig(
        **{"device": "cpu", "precision": "fp32", "max_iters": 60, "monitor_every": 5, **options}
    )


def _stopper() -> Stopper:
    return Stopper(create_criterion("wmv", window=20), [create_criterion("emv")], patience=1000)


def _sabotage(net: torch.nn.Module, at_step: int, how: str):
    """An ``on_step`` callback that damages the parameters once, after ``at_step``."""
    done = []

    def hook(step: int, loss: float) -> None:
        if step == at_step and not done:
            done.append(step)
            with torch.no_grad():
                for p in net.parameters():
                    if how == "nan":
                        p.fill_(math.nan)
                    else:
                        p.add_(torch.randn_like(p) * 50)

    return hook


@pytest.mark.parametrize("how", ["nan", "blow-up"])
def test_a_divergence_is_undone_and_the_run_continues(how: str) -> None:
    net = create_net("hourglass", width=8)
    with pytest.warns(RuntimeWarning, match="continuing from step 15"):
        result = fit(_y(), net, config=_config(), on_step=_sabotage(net, 17, how))
    assert result.iterations == 60 and result.reason == "reached max_iters=60"
    assert len(result.events) == 1
    event = result.events[0]
    assert event["step"] == 20 and event["action"] == "back to step 15"
    assert event["lr"] == pytest.approx(0.005)
    assert ("loss became nan" if how == "nan" else "fell by") in event["problem"]
    assert torch.isfinite(result.image).all()
    assert [h["step"] for h in result.history] == list(range(5, 61, 5))


@pytest.mark.parametrize("draw", ["fresh", "shifted"])
def test_resumed_run_ends_exactly_like_an_uninterrupted_one(tmp_path, draw) -> None:
    path = tmp_path / "run.ckpt"
    config = _config(reg_noise_draw=draw)
    whole = fit(_y(), create_net("hourglass", width=8), config=config, stopper=_stopper())

    def kill_at_50(report):
        if report.step == 50:
            raise KeyboardInterrupt

    killed = fit(
        _y(),
        create_net("hourglass", width=8),
        config=config,
        stopper=_stopper(),
        monitors=[kill_at_50],
        checkpoint=Checkpointing(path, every=20),
    )
    assert killed.interrupted and path.exists()
    resumed = fit(
        _y(),
        create_net("hourglass", width=8),
        config=config,
        stopper=_stopper(),
        checkpoint=Checkpointing(path, every=20, resume=True),
    )
    assert resumed.config["resumed_from_step"] == 40
    assert resumed.iterations == 60
    assert torch.equal(resumed.image, whole.image)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in whole.history]
    assert resumed.stop_step == whole.stop_step
    for name in ("wmv", "emv"):
        assert resumed.criteria[name]["scores"] == whole.criteria[name]["scores"]


def test_a_checkpoint_without_estimates_keeps_the_trajectory(tmp_path) -> None:
    # OSC scores a step 15 steps late here, so the stopper holds 3 estimates back
    def osc() -> Stopper:
        return Stopper(create_criterion("osc", half_length=10, window=10), [], patience=1000)

    whole = fit(_y(), create_net("hourglass", width=8), config=_config(), stopper=osc())
    path = tmp_path / "run.ckpt"

    def kill_at_50(report):
        if report.step == 50:
            raise KeyboardInterrupt

    light = Checkpointing(path, every=20, estimates=False)
    fit(_y(), create_net("hourglass", width=8), config=_config(), stopper=osc(),
        monitors=[kill_at_50], checkpoint=light)  # fmt: skip
    saved = torch.load(path, weights_only=False)
    assert len(saved["stopper"]["_recent"]) == 0  # what makes a sweep's checkpoint small
    resumed = fit(_y(), create_net("hourglass", width=8), config=_config(), stopper=osc(),
                  checkpoint=Checkpointing(path, resume=True))  # fmt: skip
    assert resumed.config["resumed_from_step"] == 40
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in whole.history]
    assert resumed.criteria["osc"]["scores"] == whole.criteria["osc"]["scores"]
    kept = Checkpointing(tmp_path / "kept.ckpt", every=20)
    fit(_y(), create_net("hourglass", width=8), config=_config(), stopper=osc(),
        monitors=[kill_at_50], checkpoint=kept)  # fmt: skip
    assert len(torch.load(kept.path, weights_only=False)["stopper"]["_recent"]) > 0


def test_resume_refuses_another_run_or_a_missing_file(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    with pytest.raises(CheckpointError, match="no checkpoint"):
        fit(_y(), create_net("hourglass", width=8), config=_config(),
            checkpoint=Checkpointing(path, resume=True))  # fmt: skip
    fit(
        _y(),
        create_net("hourglass", width=8),
        config=_config(max_iters=30),
        checkpoint=Checkpointing(path, every=10),
    )
    with pytest.raises(CheckpointError, match="differs in lr"):
        fit(_y(), create_net("hourglass", width=8), config=_config(lr=0.02),
            checkpoint=Checkpointing(path, resume=True))  # fmt: skip
    with pytest.raises(CheckpointError, match="network"):
        fit(_y(), create_net("hourglass", width=16), config=_config(),
            checkpoint=Checkpointing(path, resume=True))  # fmt: skip
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        fit(_y(), create_net("hourglass", width=8), config=_config(),
            checkpoint=Checkpointing(path, resume=True))  # fmt: skip


def test_resume_refuses_a_checkpoint_of_another_placement(tmp_path) -> None:
    # "auto" precision is float32 on one CPU and bf16 on another: the saved placement tells
    path = tmp_path / "run.ckpt"
    fit(_y(), create_net("hourglass", width=8), config=_config(max_iters=30),
        checkpoint=Checkpointing(path, every=10))  # fmt: skip
    saved = torch.load(path, weights_only=False)
    assert saved["placement"] == {"device": "cpu", "precision": "fp32", "channels_last": False}
    torch.save({**saved, "placement": {**saved["placement"], "precision": "bf16"}}, path)
    with pytest.raises(CheckpointError, match="placement"):
        fit(_y(), create_net("hourglass", width=8), config=_config(),
            checkpoint=Checkpointing(path, resume=True))  # fmt: skip


def test_a_longer_budget_may_continue_a_finished_checkpoint(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    fit(_y(), create_net("hourglass", width=8), config=_config(max_iters=30),
        checkpoint=Checkpointing(path, every=10))  # fmt: skip
    longer = fit(_y(), create_net("hourglass", width=8), config=_config(max_iters=40),
                 checkpoint=Checkpointing(path, resume=True))  # fmt: skip
    assert longer.config["resumed_from_step"] == 20 and longer.iterations == 40


def test_each_recovery_lowers_the_learning_rate_again() -> None:
    net = create_net("hourglass", width=8)
    first, second = _sabotage(net, 17, "nan"), _sabotage(net, 33, "nan")

    def both(step: int, loss: float) -> None:
        first(step, loss)
        second(step, loss)

    with pytest.warns(RuntimeWarning):
        result = fit(_y(), net, config=_config(), on_step=both)
    assert [e["lr"] for e in result.events] == pytest.approx([0.005, 0.0025])
    assert result.iterations == 60 and torch.isfinite(result.image).all()


def test_resume_refuses_another_image_or_other_criteria(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    fit(_y(), create_net("hourglass", width=8), config=_config(max_iters=30),
        stopper=_stopper(), checkpoint=Checkpointing(path, every=10))  # fmt: skip
    with pytest.raises(CheckpointError, match="input image"):
        fit(_y(seed=1), create_net("hourglass", width=8), config=_config(),
            stopper=_stopper(), checkpoint=Checkpointing(path, resume=True))  # fmt: skip
    with pytest.raises(CheckpointError, match="stopping criteria"):
        fit(_y(), create_net("hourglass", width=8), config=_config(),
            checkpoint=Checkpointing(path, resume=True))  # fmt: skip


def test_a_two_stage_run_cannot_change_its_budget_on_resume(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    two = {"tv_weight": 0.05, "two_stage": "retarget"}
    fit(_y(), create_net("hourglass", width=8), config=_config(max_iters=30, **two),
        checkpoint=Checkpointing(path, every=10))  # fmt: skip
    with pytest.raises(CheckpointError, match="boundary"):
        fit(_y(), create_net("hourglass", width=8), config=_config(max_iters=60, **two),
            checkpoint=Checkpointing(path, resume=True))  # fmt: skip


def test_a_refreshed_snapshot_reuses_its_buffers_and_equals_a_fresh_one() -> None:
    from autodip.core.recovery import Snapshot

    net = create_net("hourglass", width=4)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    images = {
        "average": torch.rand(1, 3, 8, 8),
        "output": torch.rand(1, 3, 8, 8),
        "fit_target": None,
    }

    def train_step() -> None:
        net(torch.rand(1, net.in_channels, 8, 8)).mean().backward()
        optimizer.step()

    train_step()
    snapshot = Snapshot.take(5, 20.0, net, optimizer, generator, **images)
    buffers = [snapshot.net[k].data_ptr() for k in snapshot.net]
    train_step()
    images["average"] = torch.rand(1, 3, 8, 8)
    refreshed = snapshot.refresh(10, 21.0, net, optimizer, generator, **images)
    fresh = Snapshot.take(10, 21.0, net, optimizer, generator, **images)
    assert refreshed is snapshot and [refreshed.net[k].data_ptr() for k in refreshed.net] == buffers
    assert (refreshed.step, refreshed.fit_psnr) == (10, 21.0)
    for key in fresh.net:
        assert torch.equal(refreshed.net[key], fresh.net[key])
    for index, state in fresh.optimizer["state"].items():
        for name, value in state.items():
            assert torch.equal(refreshed.optimizer["state"][index][name], value)
    assert torch.equal(refreshed.average, fresh.average)
