"""A second criterion that also confirms a stop (the denoising default: the discrepancy principle
beside CIFS): online as replayed, silent where σ̂ cannot be trusted, and on the command line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autodip.api import build_stopper, restore
from autodip.bench.adaptive import replay_adaptive
from autodip.core.run import FitConfig, fit
from autodip.nets import create_net
from autodip.physics.operators import Denoise
from autodip.stopping import Context, Stopper
from autodip.stopping.base import Criterion
from autodip.stopping.fit_guard import measurement_sigma


def scripted(name: str, scores: list[float]) -> Criterion:
    """A criterion that returns ``scores[i]`` at step ``10·(i + 1)`` (lower is better)."""

    class Scripted(Criterion):
        def update(self, step, output, context):
            return scores[step // 10 - 1]

    Scripted.name = name
    return Scripted()


def observe_all(stopper: Stopper, count: int, gate: bool | None) -> tuple[str | None, int]:
    """Feed ``count`` monitored steps (image value = step) with the gate at ``gate``."""
    y = torch.zeros(1, 1, 4, 4)
    stopper.start(y, 0, None)
    context = Context(raw=y, target=y, operator=Denoise(), loss=0.0, max_iters=10 * count)
    for step in range(10, 10 * count + 1, 10):
        reason = stopper.observe(step, y + step, context, gate)
        if reason:
            return reason, step
    return None, 10 * count


# the primary's best is step 50 and it would confirm at step 80 (S = 30); the second's best is
# step 20 and it confirms at step 50
PRIMARY = [9.0, 8.0, 7.0, 6.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.5]
SECOND = [3.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]


def test_the_second_criterion_ends_the_run_and_the_primarys_best_is_returned() -> None:
    stopper = Stopper(
        scripted("first", PRIMARY), patience=30, also_confirms=scripted("second", SECOND)
    )
    reason, halt = observe_all(stopper, len(PRIMARY), gate=True)
    assert halt == 50 and stopper.confirmed and stopper.confirmed_by == "second"
    assert "second: no new minimum in 30 steps after step 20" in reason
    assert "returning first's best (step 50)" in reason
    assert stopper.best_step == 50 and float(stopper.best_image.flatten()[0]) == 50
    summary = stopper.summary(halt)
    assert summary["first"]["confirmed"] is False and summary["second"]["confirmed"] is True


def test_the_primary_wins_when_it_confirms_first_or_at_the_same_step() -> None:
    late = [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 2.0]  # confirms at step 80, like PRIMARY
    stopper = Stopper(
        scripted("first", PRIMARY), patience=30, also_confirms=scripted("second", late)
    )
    reason, halt = observe_all(stopper, len(PRIMARY), gate=True)
    assert (halt, stopper.confirmed_by) == (80, "first") and reason.startswith("first:")


def test_the_second_criterion_is_silent_where_the_gate_cannot_judge() -> None:
    """``may_confirm=None`` (σ̂ untrustworthy): only the primary may confirm."""
    stopper = Stopper(
        scripted("first", PRIMARY), patience=30, also_confirms=scripted("second", SECOND)
    )
    _, halt = observe_all(stopper, len(PRIMARY), gate=None)
    assert (halt, stopper.confirmed_by, stopper.best_step) == (80, "first", 50)


def test_the_second_criterion_is_gated_like_the_primary() -> None:
    """Before the gate opens neither confirms; at the gate both rules start afresh."""
    stopper = Stopper(
        scripted("first", PRIMARY), patience=30, also_confirms=scripted("second", SECOND)
    )
    y = torch.zeros(1, 1, 4, 4)
    stopper.start(y, 0, None)
    context = Context(raw=y, target=y, operator=Denoise(), loss=0.0, max_iters=100)
    reasons = [stopper.observe(s, y + s, context, s >= 60) for s in range(10, 101, 10)]
    # the second's scores rise from step 20 on: after the gate (step 60) its best is step 60,
    # confirmed at step 90; the primary's best after the gate is step 60 too (6.0), confirmed at 90
    assert stopper.gate_opens_at == 60
    assert [r is not None for r in reasons].index(True) == 8 and stopper.confirmed_by == "first"


def test_the_stopper_refuses_a_second_criterion_without_a_primary() -> None:
    with pytest.raises(ValueError, match="beside a primary criterion"):
        Stopper(None, also_confirms=scripted("second", SECOND))
    with pytest.raises(ValueError, match="needs another criterion as the primary"):
        build_stopper("cifs", also_confirm="cifs")


def test_a_checkpointed_stopper_keeps_its_second_criterion() -> None:
    first = Stopper(
        scripted("first", PRIMARY), patience=30, also_confirms=scripted("second", SECOND)
    )
    observe_all(first, 3, gate=True)
    resumed = Stopper(
        scripted("first", PRIMARY), patience=30, also_confirms=scripted("second", SECOND)
    )
    resumed.load_state(first.state())
    assert resumed.also_confirms is resumed.tracks[1].criterion
    plain = Stopper(scripted("first", PRIMARY), [scripted("second", SECOND)], patience=30)
    with pytest.raises(ValueError, match="criteria"):
        plain.load_state(first.state())  # a monitored criterion is not one that confirms


def smooth_noisy() -> tuple[torch.Tensor, torch.Tensor]:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    clean = torch.stack(
        [0.5 + 0.3 * torch.sin(6 * xx), 0.5 + 0.3 * torch.cos(5 * yy), 0.4 + 0.2 * xx * yy]
    )[None]
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(1)) * 25 / 255
    return clean, (clean + noise).clamp(0, 1)


def test_an_online_run_stops_where_its_replay_does() -> None:
    """A run recorded to the cap, replayed with ``also``, stops where the same run online does."""
    clean, y = smooth_noisy()
    options = {"lr": 0.02, "seed": 0, "device": "cpu", "precision": "fp32", "monitor_every": 10}

    def net() -> torch.nn.Module:
        torch.manual_seed(0)
        return create_net("hourglass", out_channels=3, width=8)

    recorded = fit(
        y,
        net(),
        config=FitConfig(max_iters=360, **options),
        reference=clean,
        stopper=build_stopper(None, ["cifs", "discrepancy"], 30),
    )
    run = {
        "job": {"monitor_every": 10},
        "sigma_hat": measurement_sigma(y, Denoise()),
        "history": recorded.history,
        "criteria": recorded.criteria,
        "iterations": recorded.iterations,
        "seconds": recorded.seconds,
    }
    replay = replay_adaptive(run, "cifs", 30, nominal=120, cap=360, also="discrepancy")
    online = fit(
        y,
        net(),
        config=FitConfig(max_iters=120, max_extended_iters=360, **options),
        reference=clean,
        stopper=build_stopper("cifs", (), 30, also_confirm="discrepancy"),
    )
    assert replay.confirmed_by == "discrepancy"  # the case this test is about
    assert (online.stop_step, online.iterations) == (replay.stop, replay.halt)
    assert online.confirmed and online.config["confirmed_by"] == "discrepancy"
    assert online.config["budget"]["extensions"], "the budget went on past the nominal 120"


def test_restore_denoises_with_the_second_criterion_by_default() -> None:
    _, y = smooth_noisy()
    small = {"iters": 20, "width": 8, "monitor": ()}
    default = restore(y, Denoise(), **small)
    assert list(default.criteria) == ["cifs", "discrepancy"]
    assert default.criteria["discrepancy"]["patience"] == 300  # the task's S, as CIFS's
    assert list(restore(y, Denoise(), also_confirm=None, **small).criteria) == ["cifs"]
    assert list(restore(y, Denoise(), stop="emv", **small).criteria) == ["emv"]


def test_the_cli_turns_it_off_and_refuses_what_cannot_work(tmp_path, capsys) -> None:
    from autodip.cli import main
    from autodip.io import write_image

    _, y = smooth_noisy()
    source = tmp_path / "in.png"
    write_image(source, y[0].numpy().astype(np.float32))
    base = ["denoise", str(source), "--iters", "20", "--width", "8", "-q"]
    out = tmp_path / "out.png"
    assert main([*base, "-o", str(out), "--also-confirm", "none"]) == 0 and out.exists()
    for extra, message in [
        (["--also-confirm", "discrepency"], "did you mean 'discrepancy'"),
        (["--also-confirm", "cifs"], "already --stop"),
        (["--stop", "none", "--also-confirm", "emv"], "needs a criterion that stops the run"),
        (["--also-confirm", "holdout"], "changes the objective"),
    ]:
        capsys.readouterr()
        target = tmp_path / "refused.png"
        assert main([*base, "-o", str(target), *extra]) == 2, extra
        assert message in capsys.readouterr().err and not target.exists()


def test_the_summary_says_which_criterion_confirmed() -> None:
    from autodip.reporting.html import _returned_phrase

    result = {"stop_step": 1860, "confirmed": True, "confirmed_by": "discrepancy"}
    assert _returned_phrase(result, 1880) == (
        "; returned the estimate of step 1860 (confirmed by discrepancy)"
    )
    unconfirmed = {**result, "confirmed": False, "confirmed_by": None}
    assert _returned_phrase(unconfirmed, 1880).endswith("(not confirmed)")


def test_beside_an_ungated_primary_only_a_judged_step_opens_the_second_criterions_gate() -> None:
    """A primary that is not gated (``fixed``) opens its gate at once; the criterion that also
    confirms still waits for the first step the gate judges open, as the replay does."""
    falling = [10.0 - i for i in range(10)]  # never confirms
    primary = scripted("first", falling)
    primary.gated = False
    stopper = Stopper(primary, patience=30, also_confirms=scripted("second", SECOND))
    y = torch.zeros(1, 1, 4, 4)
    stopper.start(y, 0, None)
    context = Context(raw=y, target=y, operator=Denoise(), loss=0.0, max_iters=100)
    reasons = [stopper.observe(s, y + s, context, s >= 60) for s in range(10, 101, 10)]
    assert (stopper.gate_opens_at, stopper.also_opens_at) == (10, 60)
    # without its own gate the second criterion would have confirmed step 20 at step 50
    assert [r is not None for r in reasons].index(True) == 8 and stopper.confirmed_by == "second"
