"""One place for defaults: the library, the old names and the command line's help agree."""

from __future__ import annotations

import argparse
from fractions import Fraction

import numpy as np
import pytest

from autodip import api as restore
from autodip import cli, defaults
from autodip.bench import Sweep
from autodip.core import run as runner
from autodip.physics.noise import add_gaussian_noise
from autodip.stopping import fit_guard


def test_old_names_are_aliases_of_the_defaults_module():
    assert restore.DEFAULT_ITERS == defaults.DENOISE_ITERS == 1500
    assert restore.DEFAULT_PATIENCE == defaults.DENOISE_PATIENCE
    assert restore.DEFAULT_STOP == defaults.DENOISE_STOP
    assert restore.DENOISE_WIDTH == defaults.DENOISE_WIDTH
    assert restore.ADAPTIVE_CAP == defaults.ADAPTIVE_CAP
    assert restore.TASK_DEFAULTS is defaults.TASK_DEFAULTS
    assert restore.TaskDefaults is defaults.TaskDefaults
    assert fit_guard.GUARD_RATIO == defaults.GUARD_RATIO
    assert fit_guard.GUARD_MIN_SIGMA == defaults.GUARD_MIN_SIGMA


def test_fit_config_keeps_the_dip_papers_settings():
    config = runner.FitConfig()
    assert config.max_iters == defaults.FIT_MAX_ITERS == 3000  # not denoise's 1500, on purpose
    assert (config.lr, config.exp_weight, config.monitor_every) == (
        defaults.LR,
        defaults.EXP_WEIGHT,
        defaults.MONITOR_EVERY,
    )
    assert config.guard_ratio == defaults.GUARD_RATIO


def test_sweep_defaults_come_from_the_defaults_module():
    sweep = Sweep(images=["x.png"])
    assert sweep.iters == defaults.BENCH_ITERS
    assert sweep.criteria == list(defaults.BENCH_CRITERIA)
    assert sweep.patience == [defaults.BENCH_PATIENCE]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _shown_default(parser: argparse.ArgumentParser, option: str) -> str:
    """The default ``--help`` states for ``option`` of ``denoise``."""
    denoise = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[
        "denoise"
    ]
    action = next(a for a in denoise._actions if option in a.option_strings)
    return action.help.rsplit("(default: ", 1)[1].rstrip(")")


def test_cli_parses_to_the_libraries_defaults():
    args = cli.build_parser().parse_args(["denoise", "in.png", "-o", "out.png"])
    assert args.lr == defaults.LR
    assert args.exp_weight == defaults.EXP_WEIGHT
    # given only with --two-stage (alone it is refused); unset, the run takes the library's
    assert args.stage_fraction is None and args.ensemble_transforms is None
    shown = _shown_default(cli.build_parser(), "--stage-fraction")
    assert float(Fraction(shown)) == defaults.STAGE_FRACTION
    assert args.monitor_every == defaults.MONITOR_EVERY
    assert args.seed == defaults.SEED


def test_help_shows_the_defaults():
    text = _subparser("denoise").format_help().replace("\n", " ")
    text = " ".join(text.split())
    assert f"adaptive budget of {defaults.DENOISE_ITERS}" in text
    assert "1/30" in text and "1/3" in text
    assert f"up to {defaults.ADAPTIVE_CAP}×" in text


@pytest.mark.parametrize(("side", "cap"), [(361, 4500), (363, 7500)])
def test_denoising_caps_the_adaptive_budget_higher_from_2x256_squared_pixels(side, cap):
    """budget_cap.md: whole CBSD68 images (481×321) gain from a 7500-step cap, 256² crops
    confirm before 4500; the line is 2·256² pixels (≈ 362²)."""
    noisy = np.random.default_rng(0).normal(0.5, 0.1, (3, side, side)).astype(np.float32)
    result = restore.denoise(noisy, max_time=0.2, device="cpu", ensemble=1)
    assert result.config["budget"]["nominal"] == defaults.DENOISE_ITERS
    assert result.config["budget"]["cap"] == cap
    assert (
        restore.inpaint(noisy, np.ones((side, side), bool), max_time=0.2, device="cpu").config[
            "budget"
        ]["cap"]
        == defaults.ADAPTIVE_CAP * defaults.INPAINT_ITERS
    )


@pytest.mark.parametrize(("side", "width"), [(221, 32), (222, 64)])
def test_the_library_widens_denoising_from_3x128_squared_pixels(side, width):
    noisy = np.full((3, side, side), 0.5, np.float32)
    result = restore.denoise(noisy, iters=1, stop=None, device="cpu")
    assert result.config["net"]["options"]["width"] == width


@pytest.mark.parametrize(("sigma", "width"), [(25, 64), (50, 32)])
def test_heavy_noise_keeps_denoising_narrow_at_any_size(sigma, width):
    """σ̂ ≥ 35 keeps width 32 where the pixel count alone would widen it (choose256.md: level
    at σ = 50 in 0.6× the time; 0.7 dB lower at σ = 25)."""
    noisy = add_gaussian_noise(np.full((3, 224, 224), 0.5, np.float32), sigma, seed=0)
    result = restore.denoise(noisy, iters=1, stop=None, device="cpu")
    assert result.config["net"]["options"]["width"] == width
