import numpy as np
import pytest
import torch

from autodip.core.run import FitConfig, fit, make_input
from autodip.io import image_to_tensor
from autodip.metrics.full_reference import psnr
from autodip.nets import create_net


def cfg(**kw) -> FitConfig:
    return FitConfig(**{"device": "cpu", "max_iters": 4, "monitor_every": 2, **kw})


def tiny(size=(16, 16), channels=3, seed=0) -> torch.Tensor:
    return torch.rand(1, channels, *size, generator=torch.Generator().manual_seed(seed))


def test_denoising_lifts_psnr_by_3_db(sample_clean, sample_noisy):
    y, ref = image_to_tensor(sample_noisy), image_to_tensor(sample_clean)
    net = create_net("hourglass", width=32)
    result = fit(y, net, config=cfg(max_iters=300, monitor_every=50), reference=ref)
    before, after = psnr(sample_noisy, sample_clean), psnr(result.image, ref)
    assert after >= before + 3, (before, after)
    assert result.history[-1]["psnr"] == pytest.approx(after, abs=1e-4)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_same_seed_same_result(precision):
    y = tiny()
    runs = [
        fit(y, create_net("hourglass", width=8), config=cfg(seed=5, precision=precision))
        for _ in range(2)
    ]
    assert torch.equal(runs[0].image, runs[1].image)
    other = fit(y, create_net("hourglass", width=8), config=cfg(seed=6, precision=precision))
    assert not torch.equal(runs[0].image, other.image)


def test_seed_fixes_the_result_whatever_the_global_random_state():
    y = tiny()
    torch.manual_seed(1)
    a = fit(y, create_net("hourglass", width=8), config=cfg())
    torch.manual_seed(2)
    b = fit(y, create_net("hourglass", width=8), config=cfg())
    assert torch.equal(a.image, b.image)


def test_output_has_the_input_size_and_input_is_untouched():
    y = tiny((37, 31))
    copy = y.clone()
    result = fit(y, create_net("hourglass", width=8, depth=3), config=cfg())
    assert result.image.shape == y.shape
    assert torch.equal(y, copy)
    assert result.image.min() >= 0 and result.image.max() <= 1


def test_history_records_every_monitored_step_with_metrics():
    y = tiny()
    result = fit(
        y, create_net("hourglass", width=8), config=cfg(max_iters=7, monitor_every=3), reference=y
    )
    assert [h["step"] for h in result.history] == [3, 6, 7]
    assert all({"loss", "seconds", "psnr", "ssim"} <= h.keys() for h in result.history)
    assert result.iterations == 7 and "max_iters" in result.reason


def test_a_monitor_can_stop_the_run_with_a_reason():
    def stop_at_four(report):
        return "enough" if report.step >= 4 else None

    result = fit(
        tiny(),
        create_net("hourglass", width=8),
        config=cfg(max_iters=50, monitor_every=2),
        monitors=[stop_at_four],
    )
    assert result.iterations == 4 and result.reason == "enough"


def test_ctrl_c_returns_the_estimate_so_far():
    def interrupt(step, loss):
        if step == 3:
            raise KeyboardInterrupt

    result = fit(
        tiny(), create_net("hourglass", width=8), config=cfg(max_iters=50), on_step=interrupt
    )
    assert result.interrupted and result.iterations == 3
    assert "interrupted" in result.reason
    assert torch.isfinite(result.image).all()


def test_without_ema_the_estimate_is_the_raw_output():
    seen = []
    result = fit(
        tiny(),
        create_net("hourglass", width=8),
        config=cfg(exp_weight=0),
        monitors=[lambda report: seen.append(report.output.clone())],
    )
    assert torch.equal(result.image, seen[-1].clamp(0, 1))


def test_with_ema_the_estimate_averages_the_outputs():
    outputs, estimates = [], []

    def watch(report):
        outputs.append(report.output.clone())
        estimates.append(report.estimate.clone())

    fit(
        tiny(),
        create_net("hourglass", width=8),
        config=cfg(max_iters=2, monitor_every=1, exp_weight=0.9),
        monitors=[watch],
    )
    assert torch.equal(estimates[0], outputs[0])  # the average starts at the first output
    assert torch.allclose(estimates[1], 0.9 * outputs[0] + 0.1 * outputs[1], atol=1e-6)


def test_divergence_returns_the_last_finite_estimate():
    seen = {}
    with pytest.warns(RuntimeWarning, match="continuing from step"):
        result = fit(
            tiny(),
            create_net("hourglass", width=8),
            config=cfg(max_iters=40, monitor_every=1, lr=1e30, exp_weight=0),
            monitors=[lambda r: seen.__setitem__(r.step, r.estimate.clone())],
        )
    assert "did not recover after 5 restarts" in result.reason and "lower --lr" in result.reason
    assert [e["action"] for e in result.events][-1] == "gave up"
    assert len(result.events) == 6
    assert torch.isfinite(result.image).all()
    last_good = max(seen)
    assert torch.equal(result.image, seen[last_good].clamp(0, 1))


def test_ctrl_c_before_the_first_step_is_not_swallowed():
    class Boom(torch.nn.Module):
        in_channels, out_channels, size_multiple = 2, 3, 1

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, z):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(tiny(), Boom(), config=cfg(input_kind="meshgrid", reinit=False))


def test_grayscale_and_meshgrid_input():
    net = create_net("hourglass", width=8, in_channels=2, out_channels=1)
    result = fit(tiny(channels=1), net, config=cfg(input_kind="meshgrid"))
    assert result.image.shape == (1, 1, 16, 16)


@pytest.mark.parametrize(
    "y, match",
    [
        (torch.rand(3, 16, 16), "1×C×H×W"),
        (torch.rand(1, 3, 16, 16) * 2, r"\[0, 1\]"),
        (torch.full((1, 3, 16, 16), float("nan")), "NaN"),
        (torch.zeros(1, 3, 16, 16, dtype=torch.int64), "floating"),
    ],
)
def test_bad_images_are_rejected_with_a_clear_message(y, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fit(y, create_net("hourglass", width=8), config=cfg())


def test_too_small_image_names_the_minimum():
    # 5 scales need 33×33: 32×32 would leave 1×1 at the deepest scale, where batch norm fails
    with pytest.raises(ValueError, match=r"at least 33×33.*deepest that works .* --depth 3"):
        fit(tiny((16, 40)), create_net("dip-skip", width=4), config=cfg())


def test_channel_mismatch_is_reported():
    with pytest.raises(ValueError, match="channels"):
        fit(tiny(channels=1), create_net("hourglass", width=8), config=cfg())


@pytest.mark.parametrize(
    "field, value",
    [
        ("max_iters", 0),
        ("lr", 0),
        ("exp_weight", 1.0),
        ("input_kind", "grid"),
        ("monitor_every", 0),
    ],
)
def test_invalid_config_is_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        FitConfig(**{field: value})


def test_input_code_ranges():
    z = make_input("noise", 4, 8, 8, scale=0.1, generator=torch.Generator().manual_seed(0))
    assert z.shape == (1, 4, 8, 8) and z.min() >= 0 and z.max() < 0.1
    grid = make_input("meshgrid", 2, 5, 7)
    assert np.allclose(grid[0, 0, 0].numpy(), np.linspace(0, 1, 7))
    assert np.allclose(grid[0, 1, :, 0].numpy(), np.linspace(0, 1, 5))
