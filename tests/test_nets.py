import pytest
import torch

from autodip.geometry import pad_to_multiple
from autodip.nets import count_parameters, create_net, list_nets

# Small overrides keep every registered network fast to test while exercising its structure.
SMALL = {"dip-skip": {"width": 8, "depth": 3}, "hourglass": {"width": 8}}


def small_net(name: str, **extra):
    return create_net(name, **{**SMALL.get(name, {}), **extra})


@pytest.mark.parametrize("name", sorted(list_nets()))
@pytest.mark.parametrize("batch", [1, 2])
def test_output_shape_and_range_at_odd_sizes(name, batch):
    torch.manual_seed(0)
    net = small_net(name)
    z = torch.rand(batch, net.in_channels, 37, 31)
    padded, pad = pad_to_multiple(z, net.size_multiple)
    out = pad.crop(net(padded))
    assert out.shape == (batch, 3, 37, 31)
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output


@pytest.mark.parametrize("name", sorted(list_nets()))
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    net = small_net(name)
    z = torch.rand(1, net.in_channels, 32, 32)
    net(z).mean().backward()
    for pname, param in net.named_parameters():
        assert param.grad is not None, pname
        assert torch.isfinite(param.grad).all(), pname
        assert param.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", sorted(list_nets()))
def test_bf16_autocast_forward_is_finite_and_float32_out(name):
    net = small_net(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(torch.rand(1, net.in_channels, 16, 16))
    assert out.dtype == torch.float32  # the head runs in float32
    assert torch.isfinite(out).all()


def test_dip_skip_default_has_the_published_parameter_count():
    assert count_parameters(create_net("dip-skip")) == 2_217_831


@pytest.mark.parametrize("width, published_k", [(32, 58), (64, 231), (128, 921)])
def test_hourglass_matches_seed_003_parameter_counts(width, published_k):
    assert round(count_parameters(create_net("hourglass", width=width)) / 1000) == published_k


def test_hourglass_skips_sit_on_the_deepest_scales():
    net = create_net("hourglass", depth=3, width=8, skips=1)
    assert net.config.channels_skip == (0, 0, 4)
    assert net.size_multiple == 8


def test_output_channels_follow_the_request():
    net = small_net("hourglass", out_channels=1)
    assert net(torch.rand(1, net.in_channels, 8, 8)).shape[1] == 1


@pytest.mark.parametrize(
    "option",
    [
        {"upsample": "nearest"},
        {"downsample": "avg"},
        {"downsample": "max"},
        {"pad": "zero"},
        {"act": "relu"},
        {"up_1x1": False},
        {"sigmoid": False},
        {"filter_size_down": 5},
    ],
)
def test_dip_skip_options_build_and_run(option):
    net = create_net("dip-skip", width=4, depth=2, **option)
    out = net(torch.rand(1, 32, 16, 16))
    assert out.shape == (1, 3, 16, 16) and torch.isfinite(out).all()


def test_none_overrides_keep_the_defaults():
    assert count_parameters(create_net("dip-skip", width=None, depth=None)) == 2_217_831


def test_unknown_network_suggests_close_names():
    with pytest.raises(KeyError, match="dip-skip"):
        create_net("dip-skp")


def test_bad_options_are_reported():
    with pytest.raises(ValueError, match="upsampler"):
        create_net("hourglass", upsample="cubic")
    with pytest.raises(ValueError, match="skips"):
        create_net("hourglass", depth=2, skips=3)
    with pytest.raises(ValueError, match="entries"):
        create_net("dip-skip", depth=2, channels_skip=(4, 4, 4))
