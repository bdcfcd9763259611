import pytest
import torch

from autodip.core.geometry import pad_to_multiple
from autodip.nets import count_parameters, create_net, list_nets
from autodip.nets.upsample import UPSAMPLERS

# Small overrides keep every registered network fast to test while exercising its structure.
SMALL = {
    "dip-skip": {"width": 8, "depth": 3},
    "hourglass": {"width": 8},
    "hourglass-w32": {"in_channels": 4},
    "hourglass-w64": {"in_channels": 4},
    "hourglass-w128": {"in_channels": 4},
    "deepdecoder": {"channels": 8, "layers": 3},
    "convdecoder": {"channels": 8, "layers": 3},
}


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


@pytest.mark.parametrize(
    "name, expected",
    [
        ("hourglass-w32", 58_339),
        ("hourglass-w64", 231_363),
        ("hourglass-w128", 921_475),
        ("deepdecoder", 100_224),  # Heckel & Hand's denoising code: k = 128, 6 layers
        ("convdecoder", 887_427),  # seed 003: 6 layers x 128 channels ("0.89M")
    ],
)
def test_preset_parameter_counts(name, expected):
    assert count_parameters(create_net(name)) == expected


def test_deep_decoder_with_64_channels_has_25536_parameters():
    assert count_parameters(create_net("deepdecoder", channels=64)) == 25_536


@pytest.mark.parametrize("name", ["deepdecoder", "convdecoder"])
def test_decoders_need_a_32_multiple_and_a_code_of_their_width(name):
    net = create_net(name)
    assert (net.size_multiple, net.in_channels) == (32, 128)


@pytest.mark.parametrize("name", ["deepdecoder", "convdecoder"])
def test_decoders_read_one_code_sample_per_block(name):
    # The code is decimated by a fixed stride (the sample at offset s // 2 of each s×s block):
    # the other samples do not matter, and sizes that are not multiples are refused.
    net = small_net(name).eval()
    z = torch.rand(1, net.in_channels, 16, 12)
    other = torch.rand_like(z)
    s = net.size_multiple
    other[..., s // 2 :: s, s // 2 :: s] = z[..., s // 2 :: s, s // 2 :: s]
    torch.testing.assert_close(net(z), net(other))
    with pytest.raises(ValueError, match="multiples"):
        net(torch.rand(1, net.in_channels, 18, 12))


@pytest.mark.parametrize("upsample", UPSAMPLERS)
@pytest.mark.parametrize(
    "name, small",
    [
        ("hourglass", {"width": 4, "in_channels": 3}),
        ("dip-skip", {"width": 4, "depth": 2, "in_channels": 3}),
        ("deepdecoder", {"channels": 4, "layers": 3}),
        ("convdecoder", {"channels": 4, "layers": 3}),
    ],
)
def test_every_family_takes_every_upsampler(name, small, upsample):
    torch.manual_seed(0)
    net = create_net(name, upsample=upsample, **small)
    z = torch.rand(1, net.in_channels, 13, 11)
    padded, pad = pad_to_multiple(z, net.size_multiple)
    out = pad.crop(net(padded))
    assert out.shape == (1, 3, 13, 11) and torch.isfinite(out).all()
    out.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


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


def test_decoders_take_the_command_line_width_and_depth():
    # width = channels; depth = number of x2 upsamplings, so size_multiple == 2 ** depth as for
    # the hourglass.
    net = create_net("convdecoder", width=8, depth=2)
    assert net.size_multiple == 4 and count_parameters(net) == count_parameters(
        create_net("convdecoder", channels=8, layers=3)
    )
    with pytest.raises(ValueError, match="not both"):
        create_net("deepdecoder", channels=8, width=16)


def test_width_presets_refuse_another_width():
    assert count_parameters(create_net("hourglass-w32", width=32)) == 58_339
    with pytest.raises(ValueError, match="hourglass-w64"):
        create_net("hourglass-w32", width=64)


@pytest.mark.parametrize("name", ["deepdecoder", "convdecoder"])
def test_decoders_fit_through_the_runner_at_odd_sizes(name):
    from autodip.core.run import FitConfig, fit

    y = torch.rand(1, 3, 13, 10)
    net = small_net(name)
    result = fit(y, net, config=FitConfig(max_iters=3, device="cpu", precision="fp32"))
    assert result.image.shape == y.shape and torch.isfinite(result.image).all()
