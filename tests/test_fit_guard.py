"""The fit guard, the adaptive budget, and the ``discrepancy`` and ``holdout`` criteria."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from autodip.core.run import FitConfig, fit
from autodip.nets import create_net
from autodip.physics.operators import Denoise, Inpaint
from autodip.stopping import Context, Stopper, create_criterion
from autodip.stopping.fit_guard import check_fit, measurement_residual, measurement_sigma


def textured(size: int = 32) -> torch.Tensor:
    """A clean ``1×3×size×size`` image of stripes (smooth at the pixel scale, so that σ̂ reads
    the added noise, yet far from the flat image a slow network starts from).
    """
    yy, xx = np.mgrid[0:size, 0:size] / size
    planes = [
        0.5 + 0.35 * np.sin(2 * np.pi * (2 + c) * xx + 3 * yy) * np.cos(2 * np.pi * 2 * yy)
        for c in range(3)
    ]
    return torch.from_numpy(np.stack(planes).astype(np.float32))[None]


def noisy(clean: torch.Tensor, sigma: float, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(clean.shape, generator=generator) * sigma / 255
    return (clean + noise).clamp(0, 1)


# --- the guard ------------------------------------------------------------------------------


def test_the_residual_counts_only_measured_values() -> None:
    y = torch.zeros(1, 1, 4, 4)
    mask = np.zeros((4, 4), np.float32)
    mask[:, :2] = 1
    estimate = torch.full((1, 1, 4, 4), 0.2)
    # the unknown half contributes nothing, and the mean is over the known half only
    assert measurement_residual(estimate, y, Inpaint(mask)) == pytest.approx(0.04)
    assert measurement_residual(estimate, y, Denoise()) == pytest.approx(0.04)


def test_the_noise_level_of_a_measurement_is_about_right() -> None:
    y = noisy(torch.full((1, 3, 64, 64), 0.5), 25)
    assert measurement_sigma(y, Denoise()) == pytest.approx(25, rel=0.1)
    mask = np.ones((64, 64), np.float32)
    mask[20:40, 20:40] = 0  # holes must not read as noise
    assert measurement_sigma(y * torch.from_numpy(mask), Inpaint(mask)) == pytest.approx(
        25, rel=0.15
    )


def test_the_guard_does_not_judge_where_the_noise_level_is_untrustworthy() -> None:
    y = torch.full((1, 3, 16, 16), 0.5)
    verdict = check_fit(y + 0.2, y, Denoise(), sigma=0.5)
    assert verdict.underfitted is None and "not judged" in verdict.note


# --- the failure mode: a slow network, a short budget ------------------------------------------


def _slow_run(**config: object) -> tuple[torch.Tensor, object]:
    y = noisy(textured(), 25)
    net = create_net("hourglass", width=4, depth=2)
    options = {"max_iters": 20, "lr": 1e-4, "device": "cpu", "monitor_every": 10, **config}
    return y, fit(y, net, config=FitConfig(**options))


def test_an_underfitted_run_with_a_hard_budget_says_so() -> None:
    y, result = _slow_run()
    guard = result.config["fit_guard"]
    sigma = measurement_sigma(y, Denoise())
    # before the guard this result came back without a word: its residual is far above σ̂²
    assert guard["residual"] > 3 * (sigma / 255) ** 2
    assert result.underfitted is True and "under-fitted" in guard["note"]
    assert result.config["budget"]["final"] == 20 and not result.config["budget"]["extensions"]


def test_an_underfitted_run_with_an_adaptive_budget_goes_on_up_to_its_cap() -> None:
    _, result = _slow_run(max_extended_iters=60)
    budget = result.config["budget"]
    assert result.iterations == 60 and budget["final"] == 60
    assert [e["extended_to"] for e in budget["extensions"]] == [30, 40, 50, 60]
    assert all("under-fitted" in e["why"] for e in budget["extensions"])
    assert "extended 4 times" in result.reason
    assert result.underfitted is True  # still, at the cap: the caller must be told


def test_a_fitted_run_is_not_extended() -> None:
    y = noisy(torch.full((1, 3, 32, 32), 0.5), 25)
    net = create_net("hourglass", width=8, depth=2)
    # a flat image: the network reproduces it within a few steps
    config = FitConfig(max_iters=150, lr=0.02, device="cpu", max_extended_iters=600)
    result = fit(y, net, config=config)
    assert result.underfitted is False
    assert result.iterations == 150 and not result.config["budget"]["extensions"]


def test_an_unconfirmed_criterion_extends_only_while_the_residual_is_above_the_noise() -> None:
    """Past σ̂² the network fits noise: going on cost the demo image 0.96 dB (guard.md)."""
    from autodip.core.budget import Budget as _Budget

    y = noisy(torch.full((1, 3, 64, 64), 0.5), 25)
    sigma = measurement_sigma(y, Denoise()) / 255
    unconfirmed = Stopper(create_criterion("emv"))
    config = FitConfig(max_iters=100, max_extended_iters=300)
    for ratio, extended in ((0.8, False), (1.2, True)):
        budget = _Budget(config, y, Denoise())
        # an estimate whose residual is `ratio` times the noise variance
        estimate = y + ratio**0.5 * sigma * torch.sign(torch.randn_like(y))
        budget.consider(100, estimate, unconfirmed)
        assert (budget.limit == 150) is extended, ratio
        if extended:
            assert "emv has not confirmed a stop" in budget.extensions[0]["why"]
    confirmed = Stopper(create_criterion("emv"))
    confirmed.confirmed = True
    budget = _Budget(config, y, Denoise())
    budget.consider(100, y + 1.2**0.5 * sigma, confirmed)  # fitted, confirmed: done
    assert budget.limit == 100


def test_the_time_limit_ends_a_run() -> None:
    y = noisy(textured(16), 25)
    net = create_net("hourglass", width=4, depth=2)
    config = FitConfig(max_iters=10_000, device="cpu", max_seconds=0.05, monitor_every=5)
    result = fit(y, net, config=config)
    assert result.iterations < 10_000
    assert result.reason.startswith("reached the time limit")
    assert result.config["budget"]["timed_out"] is True


# --- discrepancy --------------------------------------------------------------------------------


def test_discrepancy_is_lowest_where_the_residual_reaches_the_noise_level() -> None:
    clean = textured(64)
    y = noisy(clean, 25)
    criterion = create_criterion("discrepancy", sigma=25.0)
    context = Context(raw=y, target=y, operator=Denoise(), loss=0.0, max_iters=1)
    flat = torch.full_like(clean, float(clean.mean()))
    scores = {
        name: criterion.update(1, image, context)
        for name, image in {"under-fitted": flat, "clean": clean, "noisy": y}.items()
    }
    # the clean image misses y by exactly the noise: its residual is σ², the target
    assert min(scores, key=scores.get) == "clean"


def test_discrepancy_estimates_the_noise_level_when_not_given() -> None:
    y = noisy(textured(64), 25)
    criterion = create_criterion("discrepancy")
    context = Context(raw=y, target=y, operator=Denoise(), loss=0.0, max_iters=1)
    criterion.update(1, y, context)
    assert criterion.sigma == pytest.approx(25, rel=0.2)
    assert criterion.describe()["sigma"] == criterion.sigma


# --- holdout ------------------------------------------------------------------------------------


def test_holdout_hides_a_seeded_fraction_of_the_pixels() -> None:
    criterion = create_criterion("holdout", fraction=0.1)
    target = torch.zeros(1, 3, 64, 64)
    weights = criterion.loss_weights(target, seed=3)
    assert weights.shape == (1, 1, 64, 64)
    assert float(1 - weights.mean()) == pytest.approx(0.1, abs=0.02)
    again = create_criterion("holdout", fraction=0.1).loss_weights(target, seed=3)
    assert torch.equal(weights, again)


def test_holdout_pixels_never_reach_the_fit() -> None:
    """Two measurements that differ only on the hidden pixels give the same trajectory."""
    y = noisy(textured(16), 25)
    hidden = 1 - create_criterion("holdout").loss_weights(y, seed=0)
    other = torch.where(hidden.bool().expand_as(y), 1 - y, y)
    images, scores = [], []
    for measurement in (y, other):
        stopper = Stopper(create_criterion("holdout"), patience=1000)
        net = create_net("hourglass", width=4, depth=2)
        config = FitConfig(max_iters=20, device="cpu", precision="fp32", monitor_every=10)
        result = fit(measurement, net, config=config, stopper=stopper)
        images.append(result.image)
        scores.append(result.criteria["holdout"]["scores"])
    assert torch.equal(images[0], images[1])
    assert scores[0] != scores[1]  # while the held-out score sees the hidden values


def test_holdout_is_refused_as_a_monitor() -> None:
    with pytest.raises(ValueError, match="changes the objective"):
        Stopper(create_criterion("cifs"), [create_criterion("holdout")])


# --- the offline replay of the adaptive budget --------------------------------------------------


def _recorded(scores: list[float], residuals: list[float], sigma: float = 25.0) -> dict:
    steps = [10 * (i + 1) for i in range(len(scores))]
    return {
        "job": {"monitor_every": 10},
        "sigma_hat": sigma,
        "history": [
            {"step": s, "psnr": 20.0 + i / 10, "ssim": 0.5, "residual": r}
            for i, (s, r) in enumerate(zip(steps, residuals, strict=True))
        ],
        "criteria": {
            "cifs": {"steps": steps, "scores": scores, "lower_is_better": True, "seconds": 0.0}
        },
        "seconds": 1.0,
        "iterations": steps[-1],
    }


def test_the_replay_extends_while_underfitted_or_optionally_until_the_criterion_confirms() -> None:
    from autodip.bench.adaptive import replay_adaptive

    # the score falls until step 250, then rises: confirmed at step 300 with S = 50
    scores = [100.0 - i for i in range(25)] + [100.0 + i for i in range(35)]
    variance = (25 / 255) ** 2
    run = _recorded(scores, [3 * variance] * 10 + [variance] * 50)
    hard = replay_adaptive(run, "cifs", 50, nominal=100, cap=100)
    assert (hard.stop, hard.confirmed, hard.extensions) == (100, False, 0)
    assert hard.underfitted is True and hard.ratio == pytest.approx(3.0)
    adaptive = replay_adaptive(run, "cifs", 50, nominal=100, cap=600, policy="unconfirmed")
    assert adaptive.stop == 250 and adaptive.confirmed and adaptive.halt == 300
    # half the nominal budget at a time: 100 → 150 → 200 → 250 → 300, where S confirms step 250
    assert adaptive.extended_for == ("unconfirmed+under-fitted",) + ("unconfirmed",) * 3
    assert adaptive.limit == 300 and adaptive.underfitted is False
    # the guard alone extends once, until the estimate is no longer under-fitted
    guarded = replay_adaptive(run, "cifs", 50, nominal=100, cap=600, policy="guard")
    assert guarded.extended_for == ("under-fitted",) and guarded.limit == 150
    assert (guarded.stop, guarded.confirmed, guarded.underfitted) == (150, False, False)
    # by default an unconfirmed run goes on only while its residual is above σ̂²: here it is
    # at σ̂² from step 110 on, so the run stops at 150 without confirming
    default = replay_adaptive(run, "cifs", 50, nominal=100, cap=600)
    assert default.extended_for == ("unconfirmed+under-fitted",) and default.limit == 150
    assert not default.confirmed
    run["history"] = [{**h, "residual": 1.2 * (25 / 255) ** 2} for h in run["history"]]
    # (the confirmation gate would hold every stop at 1.2 σ̂²: without it, the extension alone)
    above = replay_adaptive(run, "cifs", 50, nominal=100, cap=600, confirm_below=None)
    assert above.extended_for == ("unconfirmed",) * 4 and above.confirmed
    # a threshold above the residual (1.2 σ̂²) replays a runner that would not extend
    higher = replay_adaptive(
        run, "cifs", 50, nominal=100, cap=600, extend_above=1.3, confirm_below=None
    )
    assert higher.extensions == 0 and higher.limit == 100


# --- the confirmation gate ----------------------------------------------------------------------

#: A score trace with an early minimum (step 50) while the residual is 1.3 σ̂², and a later one
#: (step 260, higher) once the residual is at σ̂² (from step 160): the 256² σ = 15 failure, where
#: CIFS confirmed at 1.21 σ̂², 2.1 dB under the run's peak.
EARLY = [100.0 - 10 * i for i in range(5)] + [61.0 + i for i in range(11)]
LATE = [70.0 - i for i in range(10)] + [62.0 + i for i in range(30)]
GATE_RESIDUALS = [1.3] * 15 + [1.0] * 41


def test_a_stop_is_confirmed_only_once_the_residual_is_down_to_the_noise_level() -> None:
    from autodip.bench.adaptive import gate_opens_at, replay_adaptive

    run = _recorded(EARLY + LATE, [r * (25 / 255) ** 2 for r in GATE_RESIDUALS])
    assert gate_opens_at(run) == 160
    ungated = replay_adaptive(run, "cifs", 50, nominal=560, cap=560, confirm_below=None)
    assert (ungated.stop, ungated.halt, ungated.confirmed) == (50, 100, True)
    gated = replay_adaptive(run, "cifs", 50, nominal=560, cap=560)
    assert (gated.stop, gated.halt, gated.confirmed) == (260, 310, True)
    # the gate never opens: the best of the whole trace, never confirmed
    shut = replay_adaptive(run, "cifs", 50, nominal=560, cap=560, confirm_below=0.9)
    assert (shut.stop, shut.halt, shut.confirmed) == (50, 560, False)
    # where σ̂ is too low to trust, there is no gate
    run["sigma_hat"] = 2.0
    assert gate_opens_at(run) == 0


#: A trace whose best score comes late (step 50 of 60), after an early candidate (step 20).
LATE_BEST = [5.0, 3.0, 4.0, 4.5, 2.0, 6.0]


@pytest.mark.parametrize(
    ("scores", "opens_at"),
    [(EARLY + LATE, 160), (EARLY + LATE, None), (LATE_BEST, 40), (LATE_BEST, None)],
    ids=["opens", "shut", "late-best-opens", "late-best-shut"],
)
def test_the_stoppers_gate_agrees_with_its_replay(
    scores: list[float], opens_at: int | None
) -> None:
    """The online gate (``Stopper.observe(may_confirm=…)``) stops where the replay does; a gate
    that never opens returns the running best, unconfirmed."""
    from autodip.bench.analyse import replay_stop
    from autodip.stopping.base import Criterion

    opens = opens_at is not None
    steps = [10 * (i + 1) for i in range(len(scores))]
    end = steps[-1]

    class Scripted(Criterion):
        name = "scripted"

        def update(self, step, output, context):
            return scores[step // 10 - 1]

    patience = 50 if len(scores) > 10 else 20
    stopper = Stopper(Scripted(), patience=patience)
    y = torch.zeros(1, 1, 4, 4)
    stopper.start(y, 0, None)
    context = Context(raw=y, target=y, operator=Denoise(), loss=0.0, max_iters=end)
    reason = None
    for step in steps:
        reason = stopper.observe(step, y + step, context, opens and step >= opens_at)
        if reason:
            break
    gate = opens_at if opens else float("inf")
    stop, halt, confirmed = replay_stop(steps, scores, patience, end=end, opens_at=gate)
    assert (stopper.best_step, stopper.confirmed) == (stop, confirmed)
    assert float(stopper.best_image.flatten()[0]) == stop  # the image of the returned step
    summary = stopper.summary(step)["scripted"]
    assert summary["confirmed"] is confirmed  # the record says what the run did
    if opens:
        assert stopper.gate_opens_at == opens_at
        assert (reason is not None, step) == (confirmed, halt)
    else:
        # never confirmed; the best score of the whole run is returned
        assert reason is None and stop == steps[scores.index(min(scores))]
        assert stopper.gate_opens_at is None
        assert "never came down to the noise level" in stopper.unconfirmed_reason(end)


def test_a_checkpoint_from_before_the_gate_resumes_with_it_open() -> None:
    stopper = Stopper(create_criterion("emv"))
    state = stopper.state()
    del state["gate_opens_at"]  # what a stopper saved before the gate existed holds
    resumed = Stopper(create_criterion("emv"))
    resumed.load_state(state)
    assert resumed.gate_opens_at == 0


def test_the_budget_gates_confirmation_where_the_guard_judges() -> None:
    from autodip.core.budget import Budget

    y = noisy(torch.full((1, 3, 64, 64), 0.5), 25)
    variance = (measurement_sigma(y, Denoise()) / 255) ** 2
    budget = Budget(FitConfig(), y, Denoise())
    assert budget.may_confirm(1.05 * variance, 10) is True
    assert budget.may_confirm(1.2 * variance, 10) is False
    # where the gate cannot judge it says so (None): the stopper treats it as open
    for config in (FitConfig(confirm_below=None), FitConfig(fit_guard=False)):
        assert Budget(config, y, Denoise()).may_confirm(5 * variance, 10) is None
    flat = torch.full((1, 3, 64, 64), 0.5)  # σ̂ = 0: the guard cannot judge, nothing is gated
    assert Budget(FitConfig(), flat, Denoise()).may_confirm(1.0, 10) is None
    retargeted = Budget(FitConfig(), y, Denoise(), retarget_from=100)
    assert retargeted.may_confirm(5 * variance, 100) is False
    assert retargeted.may_confirm(5 * variance, 110) is None


def test_the_replay_refuses_a_cap_beyond_the_recorded_run() -> None:
    from autodip.bench.adaptive import replay_adaptive

    with pytest.raises(ValueError, match="recorded to step 30"):
        replay_adaptive(_recorded([3.0, 2.0, 1.0], [0.1] * 3), "cifs", 10, 20, 40)


# --- the command line ---------------------------------------------------------------------------


def _noisy_png(path, size: int = 32):
    from PIL import Image

    pixels = noisy(textured(size), 25)[0].permute(1, 2, 0).numpy()
    Image.fromarray((pixels * 255).round().astype(np.uint8)).save(path)
    return path


SLOW = ["--width", "4", "--lr", "0.0001", "--monitor-every", "5", "--device", "cpu", "--quiet"]
SLOW += ["--ensemble", "1"]  # one run's verdict and reason


def test_the_cli_warns_of_an_underfitted_result_and_strict_exits_3(tmp_path, capsys) -> None:
    import json

    from autodip import cli

    source = _noisy_png(tmp_path / "in.png")
    argv = [str(source), "-o", str(tmp_path / "out.png"), "--iters", "10", *SLOW]
    assert cli.main(["denoise", *argv, "--report", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert f"autodip: warning: {source}: the result is under-fitted" in err  # named: batches
    assert "(--width 8 or --net dip-skip)" in err  # twice the width that ran
    assert "--iters above 10, or no --iters" in err
    record = json.loads((tmp_path / "run" / "report.json").read_text())
    assert record["result"]["underfitted"] is True
    assert record["result"]["fit_guard"]["ratio"] > 1.5
    # nor may a stop be confirmed: the confirmation gate never opened, and the record says so
    assert record["config"]["gate_opens_at"] is None
    assert "never came down to the noise level" in record["result"]["reason"]
    assert cli.main(["denoise", *argv, "--force", "--strict"]) == cli.EXIT_UNDERFITTED
    assert (tmp_path / "out.png").exists()  # the result is written all the same


def test_the_cli_time_limit_ends_the_run(tmp_path, capsys) -> None:
    from autodip import cli

    source = _noisy_png(tmp_path / "in.png")
    argv = ["denoise", str(source), "-o", str(tmp_path / "out.png"), "--iters", "100000"]
    assert cli.main([*argv, *SLOW, "--max-time", "0.2", "--json"]) == 0
    import json

    record = json.loads(capsys.readouterr().out)
    assert record["result"]["reason"].startswith("reached the time limit of 0.2 s")
    assert record["result"]["iterations"] < 100000


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "soon"])
def test_a_bad_time_limit_is_one_line_and_exit_2(tmp_path, capsys, value) -> None:
    from autodip import cli

    source = _noisy_png(tmp_path / "in.png")
    argv = ["denoise", str(source), "-o", str(tmp_path / "out.png"), "--max-time", value]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--max-time" in err and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()


def test_the_guard_can_be_turned_off(tmp_path, capsys) -> None:
    from autodip import cli

    source = _noisy_png(tmp_path / "in.png")
    argv = ["denoise", str(source), "-o", str(tmp_path / "out.png"), "--iters", "10", *SLOW]
    assert cli.main([*argv, "--strict", "--no-fit-guard", "--json"]) == 0
    import json

    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["result"]["underfitted"] is None
    assert record["result"]["fit_guard"]["note"] == "not judged: the fit guard is off"
    assert "warning" not in captured.err


def test_osc_keeps_its_projection_curve_for_offline_replay() -> None:
    y = noisy(textured(16), 25)
    stopper = Stopper(create_criterion("osc", half_length=20, window=10), patience=1000)
    net = create_net("hourglass", width=4, depth=2)
    result = fit(y, net, config=FitConfig(max_iters=40, device="cpu"), stopper=stopper)
    trace = result.criteria["osc"]["trace"]
    assert trace["steps"] == list(range(10, 41, 10))
    assert len(trace["coefficients"]) == 4 and all(abs(c) < 2 for c in trace["coefficients"])


def test_a_mask_without_a_known_2x2_block_gives_no_noise_estimate_not_an_error() -> None:
    mask = np.zeros((16, 16), np.float32)
    mask[::2] = 1  # known rows alternate with unknown ones
    y = noisy(textured(16), 25) * torch.from_numpy(mask)
    assert measurement_sigma(y, Inpaint(mask)) == 0.0
    verdict = check_fit(y, y, Inpaint(mask), sigma=measurement_sigma(y, Inpaint(mask)))
    assert verdict.underfitted is None


def test_a_batch_counts_underfitted_results_and_strict_exits_3(tmp_path, capsys) -> None:
    from autodip import cli

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        _noisy_png(folder / name)
    loud = [option for option in SLOW if option != "--quiet"]  # the summary is not an error
    argv = ["denoise", str(folder), "-o", str(tmp_path / "out"), "--iters", "10", *loud]
    assert cli.main([*argv, "--strict"]) == cli.EXIT_UNDERFITTED
    err = capsys.readouterr().err
    assert "2 done" in err and "2 under-fitted" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    import json

    assert cli.main([*argv, "--force", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [Path(p).name for p in summary["underfitted"]] == ["a.png", "b.png"]


# --- found in review: resume, tiles, two stages, per-channel masks -------------------------------


def test_an_extended_run_resumes_within_its_cap(tmp_path) -> None:
    from autodip.core.checkpoint import Checkpointing

    y = noisy(textured(), 25)
    options = {"max_iters": 20, "max_extended_iters": 60, "lr": 1e-4, "device": "cpu"}

    def run(resume: bool, stop_at: int | None = None):
        def interrupt(step: int, loss: float) -> None:
            if stop_at is not None and step == stop_at:
                raise KeyboardInterrupt

        checkpoint = Checkpointing(tmp_path / "run.ckpt", every=10, resume=resume)
        net = create_net("hourglass", width=4, depth=2)
        return fit(y, net, config=FitConfig(**options), checkpoint=checkpoint, on_step=interrupt)

    whole = fit(y, create_net("hourglass", width=4, depth=2), config=FitConfig(**options))
    first = run(resume=False, stop_at=45)  # interrupted during an extension, checkpoint at 40
    assert first.interrupted and first.iterations == 45
    resumed = run(resume=True)
    assert resumed.iterations == whole.iterations == 60
    assert resumed.config["budget"]["extensions"] == whole.config["budget"]["extensions"]
    assert torch.equal(resumed.image, whole.image)


def test_a_tiled_run_is_underfitted_when_any_tile_is() -> None:
    from autodip.api import restore

    clean = torch.full((1, 3, 32, 64), 0.5)
    clean[..., 32:] = textured(32)  # the right tile is hard, the left one flat
    y = noisy(clean, 25)[0].numpy()
    result = restore(
        y, Denoise(), tile=32, overlap=0, iters=10, width=4, device="cpu", stop=None,
        fit_options={"lr": 1e-4},
    )  # fmt: skip
    verdicts = [t["underfitted"] for t in result.config["tiles"]]
    assert any(verdict is True for verdict in verdicts)  # at least one tile is judged so
    assert result.underfitted is True and "worst of the tiles" in result.config["fit_guard"]["note"]


def test_a_retargeted_second_stage_is_not_judged_against_the_input() -> None:
    y = noisy(textured(), 25)
    config = FitConfig(
        max_iters=60, max_extended_iters=180, device="cpu", tv_weight=0.05,
        two_stage="retarget", monitor_every=10,
    )  # fmt: skip
    result = fit(y, create_net("hourglass", width=4, depth=2), config=config)
    assert result.iterations == 60 and not result.config["budget"]["extensions"]
    assert result.underfitted is None
    assert "retargeted second stage" in result.config["fit_guard"]["note"]


def test_the_noise_level_under_a_per_channel_mask_uses_each_channels_known_pixels() -> None:
    rng = np.random.default_rng(0)
    mask = (rng.random((3, 64, 64)) > 0.3).astype(np.float32)
    y = noisy(torch.full((1, 3, 64, 64), 0.5), 25) * torch.from_numpy(mask)[None]
    assert measurement_sigma(y, Inpaint(mask)) == pytest.approx(25, rel=0.15)


def test_a_run_cut_by_the_time_limit_keeps_its_checkpoint(tmp_path, capsys) -> None:
    from autodip import cli

    source = _noisy_png(tmp_path / "in.png")
    out = tmp_path / "out.png"
    argv = ["denoise", str(source), "-o", str(out), "--iters", "100000", *SLOW]
    assert cli.main([*argv, "--max-time", "1", "--checkpoint-every", "1"]) == 0
    assert out.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith("out.png.")]  # the checkpoint
