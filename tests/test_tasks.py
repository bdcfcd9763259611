"""Inpainting, super-resolution and two-stage TV runs end to end on tiny images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autodip.api import denoise, inpaint, restore, super_resolve
from autodip.metrics.full_reference import psnr
from autodip.physics.operators import Inpaint, SuperResolve
from autodip.physics.regularizers import anisotropic_tv, tv_penalty
from autodip.stopping import Stopper, create_criterion


def _smooth(channels: int = 3, size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    planes = [0.5 + 0.3 * np.sin(2 * np.pi * (xx + k * yy) / 1.5) for k in range(channels)]
    return np.stack(planes).astype(np.float32)


def test_tv_value_on_a_known_array() -> None:
    x = torch.tensor([[1.0, 2.0, 4.0], [1.0, 0.0, 4.0]])
    # vertical |0|+|−2|+|0| = 2; horizontal |1|+|2| + |−1|+|4| = 8
    assert anisotropic_tv(x).item() == pytest.approx(10.0)
    assert anisotropic_tv(torch.ones(2, 3, 5, 5)).item() == 0.0


def test_tv_gradient_on_a_known_array() -> None:
    x = torch.tensor([[0.0, 1.0], [3.0, 1.0]], requires_grad=True)
    anisotropic_tv(x).backward()
    # d/dx of |x01−x00| + |x11−x10| + |x10−x00| + |x11−x01| (the last is 0: sign(0) = 0)
    assert x.grad.tolist() == [[-2.0, 1.0], [2.0, -1.0]]


def test_tv_penalty_scale_matches_half_squared_error_form() -> None:
    x = torch.rand(1, 3, 6, 6)
    m = x.numel()
    assert tv_penalty(x, 0.1, m).item() == pytest.approx(2 * 0.1 * anisotropic_tv(x).item() / m)


def test_inpainting_keeps_known_pixels_and_fills_holes() -> None:
    clean = _smooth()
    mask = np.ones(clean.shape[1:], np.float32)
    mask[10:16, 8:20] = 0
    damaged = clean * mask
    result = inpaint(damaged, mask, iters=250, width=16, seed=0, device="cpu", precision="fp32")
    known = mask.astype(bool)
    err_known = np.abs(result.pixels[:, known] - clean[:, known]).mean()
    assert err_known < 0.05
    hole = ~known
    # the hole is filled with something closer to the truth than the zeros it started as
    assert np.abs(result.pixels[:, hole] - clean[:, hole]).mean() < 0.5 * clean[:, hole].mean()
    assert result.config["task"]["name"] == "inpaint"
    assert result.config["operator"]["known_fraction"] == pytest.approx(known.mean())


def test_super_resolution_output_size_and_beats_nearest_upsampling() -> None:
    clean = _smooth(size=32)
    op = SuperResolve(2)
    low = op.A(torch.from_numpy(clean)[None])[0].numpy()
    result = super_resolve(
        low, 2, iters=300, width=16, device="cpu", precision="fp32", reference=clean
    )
    assert result.pixels.shape == clean.shape
    nearest = low.repeat(2, axis=1).repeat(2, axis=2)
    assert psnr(result.pixels, clean) > psnr(nearest, clean)
    assert result.config["task"]["default_iters"] == 2000


@pytest.mark.parametrize("height,width", [(7, 5), (9, 11)])
def test_super_resolution_of_odd_sizes(height: int, width: int) -> None:
    low = np.random.default_rng(0).random((1, height, width)).astype(np.float32)
    result = super_resolve(low, 3, iters=2, width=8, device="cpu")
    assert result.pixels.shape == (1, 3 * height, 3 * width)


def test_reference_of_the_wrong_size_is_refused() -> None:
    low = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match="reference"):
        super_resolve(low, 2, iters=1, width=8, device="cpu", reference=low)


def test_cifs_refuses_inpainting_but_osc_runs_on_known_pixels() -> None:
    image = _smooth(size=16)
    mask = np.ones((16, 16))
    mask[:, :4] = 0
    with pytest.raises(ValueError, match="applies to denoise only"):
        inpaint(image, mask, iters=2, width=8, device="cpu", stop="cifs")
    stopper = Stopper(create_criterion("osc", half_length=20, window=10))
    p = stopper.start(torch.from_numpy(image)[None], 0, None, Inpaint(mask))
    assert p[..., :4].abs().sum() == 0 and p[..., 4:].abs().sum() > 0
    result = inpaint(
        image,
        mask,
        iters=80,
        width=8,
        device="cpu",
        stop="osc",
        criterion_options={"osc": {"half_length": 20, "window": 10}},
    )
    assert result.criteria["osc"]["steps"], "OSC scored the run"


@pytest.mark.parametrize("mode", ["continue", "retarget"])
def test_two_stage_runs_end_to_end(mode: str) -> None:
    rng = np.random.default_rng(0)
    clean = _smooth(size=24)
    noisy = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    result = denoise(
        noisy,
        iters=60,
        width=8,
        device="cpu",
        stop=None,
        reference=clean,
        fit_options={"tv_weight": 0.05, "two_stage": mode, "monitor_every": 5},
        ensemble=1,
    )
    assert result.config["stage_boundary"] == 20
    stages = {h["step"]: h["stage"] for h in result.history}
    assert stages[20] == 1 and stages[25] == 2
    assert result.iterations == 60 and np.isfinite(result.pixels).all()


def test_two_stage_readings_differ_after_the_boundary_only() -> None:
    rng = np.random.default_rng(0)
    noisy = rng.random((3, 16, 16)).astype(np.float32)
    runs = {
        mode: denoise(
            noisy,
            iters=40,
            width=8,
            device="cpu",
            precision="fp32",
            stop=None,
            fit_options={"tv_weight": 0.05, "two_stage": mode, "monitor_every": 5},
        )
        for mode in ("continue", "retarget")
    }
    loss = {m: {h["step"]: h["loss"] for h in r.history} for m, r in runs.items()}
    assert loss["continue"][10] == loss["retarget"][10]  # same stage 1
    assert loss["continue"][40] != loss["retarget"][40]  # different stage-2 targets


def test_tv_changes_the_result_and_two_stage_needs_a_weight() -> None:
    noisy = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    # 60 steps: at 20 the two runs' TV differ by rounding only (either may be lower, by CPU)
    plain = denoise(noisy, iters=60, width=8, device="cpu", stop=None)
    tv = denoise(noisy, iters=60, width=8, device="cpu", stop=None, fit_options={"tv_weight": 1.0})
    assert anisotropic_tv(tv.image) < anisotropic_tv(plain.image)
    with pytest.raises(ValueError, match="TV weight"):
        denoise(noisy, iters=3, width=8, device="cpu", fit_options={"two_stage": "continue"})


def test_restore_with_the_task_default_stop_is_fixed_budget() -> None:
    image = _smooth(size=16)
    result = restore(image, Inpaint(np.ones((16, 16))), iters=3, width=8, device="cpu")
    assert result.stop_step is None and result.config["task"]["default_stop"] is None


def test_a_task_default_patience_replaces_only_the_primary_criterions() -> None:
    from autodip.api import build_stopper

    stopper = build_stopper("cifs", ["wmv"], None, None, primary_patience=123)
    cifs, wmv = (track.rule.patience for track in stopper.tracks)
    assert (cifs, wmv) == (123, create_criterion("wmv").default_patience)
    explicit = build_stopper("cifs", ["wmv"], 50, None, primary_patience=123)
    assert [track.rule.patience for track in explicit.tracks] == [50, 50]


def test_denoise_stops_with_the_task_default_patience() -> None:
    from autodip.api import TASK_DEFAULTS

    rng = np.random.default_rng(0)
    noisy = np.clip(0.5 + 0.1 * rng.standard_normal((3, 32, 32)), 0, 1).astype(np.float32)
    result = denoise(noisy, iters=20, width=8, device="cpu", precision="fp32")
    defaults = TASK_DEFAULTS["denoise"]
    assert result.config["task"]["default_patience"] == defaults.patience
    own = create_criterion(defaults.stop).default_patience
    assert result.criteria[defaults.stop]["patience"] == (defaults.patience or own)
    explicit = denoise(noisy, iters=20, width=8, device="cpu", precision="fp32", patience=7)
    assert explicit.criteria[defaults.stop]["patience"] == 7


def test_denoise_waits_longer_on_a_large_image() -> None:
    """From the cap's pixel count the task's S is the long one, for both confirming criteria."""
    from autodip.api import TASK_DEFAULTS

    defaults = TASK_DEFAULTS["denoise"]
    wide = defaults.long_cap_pixels // 256
    rng = np.random.default_rng(0)
    small = {"iters": 2, "width": 4, "device": "cpu", "precision": "fp32", "ensemble": 1}
    for w, expected in ((wide - 1, defaults.patience), (wide, defaults.long_patience)):
        noisy = np.clip(0.5 + 0.1 * rng.standard_normal((1, 256, w)), 0, 1).astype(np.float32)
        result = denoise(noisy, **small)
        assert result.config["task"]["default_patience"] == expected
        assert {c["patience"] for c in result.criteria.values()} == {expected}
    assert defaults.long_patience != defaults.patience
