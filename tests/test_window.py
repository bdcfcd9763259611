"""Window training (``FitConfig.window``): where the windows fall, and runs that fit them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autodip.core.checkpoint import Checkpointing
from autodip.core.geometry import padding_for
from autodip.core.run import FitConfig, fit
from autodip.core.window import WindowSampler
from autodip.metrics.full_reference import psnr
from autodip.nets import create_net
from autodip.physics.operators import Inpaint, SuperResolve


@pytest.mark.parametrize(("height", "width", "side"), [(100, 300, 62), (37, 41, 16), (64, 64, 64)])
def test_windows_are_aligned_inside_the_frame_and_a_function_of_seed_and_step(
    height: int, width: int, side: int
) -> None:
    padding = padding_for(height, width, 4)
    sampler = WindowSampler(padding, side, multiple=4, seed=3)
    padded = sampler.padded
    assert padded[0] % 4 == 0 and padded[1] % 4 == 0
    for step in range(1, 200):
        w = sampler.draw(step)
        assert w == sampler.draw(step)  # the same window again: resuming sees the same windows
        for frame, part, own, length, before, size in (
            (w.rows, w.est_rows, w.out_rows, padded[0], padding.top, padding.height),
            (w.cols, w.est_cols, w.out_cols, padded[1], padding.left, padding.width),
        ):
            assert frame.start % 4 == 0 and frame.start >= 0 and frame.stop <= length
            assert 0 <= part.start < part.stop <= size  # some of the image, never outside it
            # the image part, seen from the padded frame, is the same pixels as from the window
            assert part.start + before == frame.start + own.start
            assert part.stop - part.start == own.stop - own.start
    assert WindowSampler(padding, 4096, 4, 0).covers_everything


def test_every_pixel_weighs_the_same_in_expectation() -> None:
    padding = padding_for(96, 96, 4)
    sampler = WindowSampler(padding, 32, multiple=4, seed=0)
    weights = sampler.weights()[0, 0].numpy()
    counts, weighted = np.zeros((96, 96)), np.zeros((96, 96))
    draws = 6000
    for step in range(draws):
        w = sampler.draw(step)
        counts[w.est_rows, w.est_cols] += 1
        weighted[w.est_rows, w.est_cols] += weights[w.rows, w.cols][w.out_rows, w.out_cols]
    interior = (32 / 4) ** 2 / ((96 + 32) / 4 - 1) ** 2 * draws  # expected hits of a centre pixel
    assert counts[40:56, 40:56].mean() == pytest.approx(interior, rel=0.1)
    assert counts.min() > 0.8 * interior  # corners too: the extended, clamped starts
    assert counts.max() > 3 * interior  # near the borders, more often...
    assert weighted.min() > 0.8 * interior and weighted.max() < 1.25 * interior  # ...weighed less


def _noisy_image(size: int = 80, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    yy, xx = np.mgrid[0:size, 0:size] / size
    clean = np.stack([0.5 + 0.3 * np.sin(6 * xx), 0.5 + 0.3 * np.cos(5 * yy), 0.4 + 0.3 * xx * yy])
    noise = np.random.default_rng(seed).normal(0, 0.1, clean.shape)
    y = torch.from_numpy(np.clip(clean + noise, 0, 1)).float()[None]
    return y, torch.from_numpy(clean).float()[None]


def _config(**options) -> FitConfig:
    settings = {"device": "cpu", "precision": "fp32", "max_iters": 60, "monitor_every": 5}
    return FitConfig(**{**settings, **options})


# The width-8 hourglass sees 17 pixels around a pixel: a window carries 20 pixels of context a
# side, so on the 80² test image a window of up to 36 pixels is less than the whole frame.


def _windowed(result) -> bool:
    """Whether a run trained on windows (not the whole image)."""
    return result.config["window_margin"] is not None


@pytest.mark.parametrize("side", [80, 48])
def test_a_window_that_with_its_context_is_the_image_is_a_whole_image_run(side: int) -> None:
    """At 48 pixels the window is smaller than the image, but with 20 pixels of context a side
    a step would cost a whole-image step and fit less of it: the run trains on the whole image."""
    y, _ = _noisy_image()
    whole = fit(y, create_net("hourglass", width=8), config=_config(max_iters=20))
    windowed = fit(y, create_net("hourglass", width=8), config=_config(max_iters=20, window=side))
    assert torch.equal(whole.image, windowed.image) and not _windowed(windowed)


def test_window_training_fits_the_image_and_evaluates_it_whole_at_monitored_steps() -> None:
    y, clean = _noisy_image()
    config = _config(max_iters=400, window=32, monitor_every=10)
    result = fit(y, create_net("hourglass", width=8), config=config, reference=clean)
    assert result.image.shape == y.shape and result.config["window"] == 32 and _windowed(result)
    assert [h["step"] for h in result.history] == list(range(10, 401, 10))
    # the estimate covers the whole image: well above the noisy input (σ = 0.1: 20 dB)
    assert psnr(y, clean) < 20.5 < psnr(result.image, clean)
    short = _config(max_iters=30, window=32, monitor_every=10)
    once, again = (fit(y, create_net("hourglass", width=8), config=short) for _ in range(2))
    assert torch.equal(once.image, again.image)  # windows and reg-noise: seeded


def test_a_step_fits_its_window_only() -> None:
    y, _ = _noisy_image()
    changed = y.clone()
    # The first window of seed 0: change the measurement everywhere else, and step 1 must not
    # see it (same loss, same weights after it).
    sampler = WindowSampler(padding_for(80, 80, 4), 16, multiple=4, seed=0)
    w = sampler.draw(1)
    outside = torch.ones_like(y, dtype=torch.bool)
    outside[..., w.est_rows, w.est_cols] = False
    changed[outside] = 1 - changed[outside]
    nets = [create_net("hourglass", width=8) for _ in range(2)]
    config = _config(max_iters=1, monitor_every=1, window=16)
    first = fit(y, nets[0], config=config)
    second = fit(changed, nets[1], config=config)
    assert _windowed(first)
    assert first.history[0]["loss"] == second.history[0]["loss"]
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("draw", ["fresh", "shifted"])
def test_a_resumed_window_run_ends_like_an_uninterrupted_one(tmp_path, draw) -> None:
    y, _ = _noisy_image()
    path = tmp_path / "run.ckpt"
    config = _config(window=24, reg_noise_draw=draw)
    whole = fit(y, create_net("hourglass", width=8), config=config)

    def kill_at_50(report):
        if report.step == 50:
            raise KeyboardInterrupt

    killed = fit(y, create_net("hourglass", width=8), config=config, monitors=[kill_at_50],
                 checkpoint=Checkpointing(path, every=20))  # fmt: skip
    assert killed.interrupted
    resumed = fit(y, create_net("hourglass", width=8), config=config,
                  checkpoint=Checkpointing(path, every=20, resume=True))  # fmt: skip
    assert resumed.config["resumed_from_step"] == 40 and _windowed(resumed)
    assert torch.equal(resumed.image, whole.image)


def test_ctrl_c_between_checks_returns_the_whole_image_as_of_the_last_step() -> None:
    """Between monitored steps a window run has not evaluated the whole image: an interrupted
    run evaluates it then, so it returns what the network gives after its last step (before the
    first check there would otherwise be nothing but zeros to return)."""
    y, _ = _noisy_image()
    config = _config(window=24, monitor_every=50, max_iters=200)

    def stop_at(last: int):
        def on_step(step: int, loss: float) -> None:
            if step == last:
                raise KeyboardInterrupt

        return on_step

    for last in (3, 57):
        stopped = fit(y, create_net("hourglass", width=8), config=config, on_step=stop_at(last))
        ended = fit(y, create_net("hourglass", width=8), config=_config(window=24, max_iters=last,
                    monitor_every=50, exp_weight=config.exp_weight))  # fmt: skip
        assert stopped.interrupted and stopped.iterations == last and _windowed(stopped)
        assert float(stopped.image.std()) > 0.01  # an image, not zeros
        # the same as a run that ends there (whole image evaluated at 50 and at its last step)
        assert torch.equal(stopped.image, ended.image)


def test_window_training_is_refused_where_it_does_not_apply() -> None:
    y, _ = _noisy_image()
    net = create_net("hourglass", width=8)
    with pytest.raises(ValueError, match="denoising only, not inpaint"):
        fit(y, net, Inpaint(np.ones((80, 80))), config=_config(window=24))
    with pytest.raises(ValueError, match="denoising only, not sr"):
        fit(y, net, SuperResolve(2), config=_config(window=24))
    with pytest.raises(ValueError, match="too small for"):
        fit(y, create_net("hourglass", width=8, depth=4), config=_config(window=4))
    with pytest.raises(ValueError, match="window must be None or a side"):
        _config(window=0)


def _png(path, size=(64, 72)):
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_the_command_line_fits_windows_and_says_so(tmp_path, capsys) -> None:
    from autodip import cli

    src = _png(tmp_path / "big.png", size=(96, 104))
    fast = ["--iters", "6", "--width", "8", "--monitor-every", "3", "--device", "cpu"]
    code = cli.main(["denoise", str(src), "-o", str(tmp_path / "y.png"), "--window", "32", *fast])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "fitted a random 32×32 window per step (with 20 pixels of context around it)" in err
    assert (tmp_path / "y.png").exists()
    small = _png(tmp_path / "small.png", size=(64, 72))  # 32 + 2 × 20 pixels of context ≥ 64
    argv = ["denoise", str(small), "-o", str(tmp_path / "s.png"), "--window", "32", *fast]
    assert cli.main(argv) == 0
    assert "covers the whole image: fitted the whole image at each step" in capsys.readouterr().err
    for extra, message in (
        (["--tile", "32"], "--window and --tile are two ways"),
        (["--window", "0"], "--window"),
    ):
        argv = ["denoise", str(src), "-o", str(tmp_path / "z.png"), "--window", "32", *extra]
        assert cli.main([*argv, *fast]) == cli.EXIT_USAGE
        assert message in capsys.readouterr().err
    mask = _png(tmp_path / "mask.png")
    argv = ["inpaint", str(src), "--mask", str(mask), "-o", str(tmp_path / "z.png")]
    assert cli.main([*argv, "--window", "32", *fast]) == cli.EXIT_USAGE
    assert "--window is for denoise" in capsys.readouterr().err
    assert not (tmp_path / "z.png").exists()


@pytest.mark.parametrize(("height", "width", "side"), [(64, 72, 24), (100, 37, 16)])
def test_the_tiled_evaluation_is_the_whole_forward_pass_where_statistics_are_fixed(
    height: int, width: int, side: int
) -> None:
    """With batch norm on fixed statistics, the windows' outputs, each with its margin of
    receptive field, put together are exactly one forward pass of the whole image."""
    from autodip.core.run import Run

    y = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    run = Run(y, create_net("hourglass", width=8), config=_config(window=side, exp_weight=0))
    run.setup()
    assert run.windows is not None
    covered = torch.zeros(run.windows.padded)
    for window, (top, left), blend in run.windows.tiling():
        assert blend.shape == run.windows.side and blend.min() > 0
        assert window.rows.start <= top and top + blend.shape[0] <= window.rows.stop
        covered[top : top + blend.shape[0], left : left + blend.shape[1]] += blend
    assert covered.min() > 0.99  # the raised cosines of neighbours add up to one
    run.net.eval()
    fit = run.evaluate_whole()
    with torch.no_grad():
        whole = run.net(run.z)
    crop = run.padding.crop
    torch.testing.assert_close(crop(run.state.output), crop(whole), atol=1e-5, rtol=0)
    # what the divergence check compares: the whole image's data term, not one window's
    assert fit == pytest.approx(float(((crop(whole) - y) ** 2).mean()), rel=1e-4)


def test_the_memory_estimate_counts_the_activations_of_one_window() -> None:
    from autodip.core.memory import estimate_run_memory

    net = create_net("hourglass", width=8)
    whole = estimate_run_memory(net, 3, 512, 512)
    windowed = estimate_run_memory(net, 3, 512, 512, window=64)
    assert windowed.buffers == whole.buffers and windowed.parameters == whole.parameters
    # a 64² window with 20 pixels of context a side: 104² of the 512² pixels
    assert windowed.activations == pytest.approx(whole.activations * 104**2 / 512**2, rel=0.01)
