import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autodip.nets.upsample import (
    FIR_TAPS,
    UPSAMPLERS,
    FIRUpsample,
    normalised,
    reflect_index,
    upsampler,
)

FIXED = sorted(FIR_TAPS)
GRID = 1 << 16  # FFT length: frequency step π / 32768


def response_db(taps) -> tuple[np.ndarray, np.ndarray]:
    """|W(ω)| in dB (relative to W(0) = 1) of the 1-D taps on ω ∈ [0, π]."""
    magnitude = np.abs(np.fft.rfft(np.asarray(taps, dtype=np.float64), GRID))
    omega = np.linspace(0.0, np.pi, magnitude.size)
    return omega, 20 * np.log10(np.maximum(magnitude, 1e-300))


def alternating_sum(taps) -> float:
    """W(π) = Σ (-1)^k w[k]: zero iff a constant stays constant after zero insertion + filter."""
    return float(sum(t * (-1) ** i for i, t in enumerate(taps)))


@pytest.mark.parametrize("name", UPSAMPLERS)
@pytest.mark.parametrize("size", [(5, 7), (1, 3), (3, 1)])
def test_every_upsampler_doubles_odd_sizes(name, size):
    x = torch.rand(2, 3, *size)
    out = upsampler(name, 3)(x)
    assert out.shape == (2, 3, 2 * size[0], 2 * size[1])
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", UPSAMPLERS)
def test_every_upsampler_runs_under_bf16_autocast(name):
    up = upsampler(name, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = up(torch.rand(1, 4, 5, 3))
    assert out.shape == (1, 4, 10, 6) and torch.isfinite(out.float()).all()


@pytest.mark.parametrize("name", FIXED)
def test_fixed_filters_have_no_parameters_and_stay_fixed(name):
    up = upsampler(name, 3)
    assert list(up.parameters()) == []
    buffers = dict(up.named_buffers())
    assert set(buffers) == {"weight_rows", "weight_cols"}
    assert all(not b.requires_grad for b in buffers.values())
    before = {k: b.clone() for k, b in buffers.items()}
    x = torch.rand(1, 3, 4, 5, requires_grad=True)
    up(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # gradients pass through the filter
    for key, buffer in up.named_buffers():
        assert buffer.grad is None and torch.equal(buffer, before[key])


def test_transposed_is_learnable_kernel_4_stride_2_padding_1():
    up = upsampler("transposed", 5)
    assert isinstance(up, torch.nn.ConvTranspose2d)
    assert (up.kernel_size, up.stride, up.padding) == ((4, 4), (2, 2), (1, 1))
    assert sum(p.numel() for p in up.parameters()) == 5 * 5 * 16 + 5


@pytest.mark.parametrize("name", FIXED)
def test_taps_sum_to_one_and_are_symmetric(name):
    taps = FIR_TAPS[name]
    assert abs(sum(taps) - 1.0) < 1e-12
    assert taps == tuple(reversed(taps))


def test_published_tap_counts():
    lengths = {name: len(taps) for name, taps in FIR_TAPS.items()}
    assert lengths == {
        "lpf-nearest": 2,
        "lpf-bilinear": 3,
        "lpf14": 7,
        "lpf15": 9,
        "lpf60": 17,
        "lpf100": 17,
    }


def test_taps_far_from_unit_sum_are_refused():
    with pytest.raises(ValueError, match="sum"):
        normalised((0.3, 0.5, 0.3), "bad")


@pytest.mark.parametrize("name", FIXED)
def test_dc_gain_is_4_and_constants_stay_constant(name):
    up = upsampler(name, 2)
    kernel_2d = torch.outer(up.weight_rows[0, 0, :, 0], up.weight_cols[0, 0, 0, :])
    assert kernel_2d.sum().item() == pytest.approx(4.0, abs=1e-5)
    out = up(torch.full((1, 2, 6, 5), 0.6))
    # Exact when W(π) = 0; otherwise a (1 ± W(π))² checkerboard. Only LPF-60's published taps
    # leave W(π) ≠ 0 (8.8e-4, see test_lpf60_leaves_a_small_checkerboard_on_constants).
    ripple = abs(alternating_sum(FIR_TAPS[name]))
    tolerance = 0.6 * (2 * ripple + ripple**2) + 1e-6
    assert (out - 0.6).abs().max().item() <= tolerance


def test_lpf60_leaves_a_small_checkerboard_on_constants():
    assert abs(alternating_sum(FIR_TAPS["lpf60"])) == pytest.approx(8.77e-4, abs=1e-5)
    for name in set(FIXED) - {"lpf60"}:
        assert abs(alternating_sum(FIR_TAPS[name])) < 1e-6, name


def test_lpf60_attenuates_at_least_55_db_above_three_quarters_pi():
    omega, db = response_db(FIR_TAPS["lpf60"])
    worst = db[omega >= 0.75 * np.pi].max()
    assert worst <= -55.0  # measured: -55.89 dB


def test_lpf100_is_the_smoothest():
    def energy_above_half_band(taps):
        magnitude = np.abs(np.fft.rfft(np.asarray(taps), GRID))
        omega = np.linspace(0.0, np.pi, magnitude.size)
        return float(np.sum(magnitude[omega > np.pi / 2] ** 2) / magnitude.size)

    energies = {name: energy_above_half_band(FIR_TAPS[name]) for name in FIXED}
    assert min(energies, key=energies.get) == "lpf100"
    # Measured order, smoothest first: lpf100 < lpf60 < lpf-bilinear < lpf15 < lpf14 < nearest.
    assert sorted(energies, key=energies.get) == [
        "lpf100",
        "lpf60",
        "lpf-bilinear",
        "lpf15",
        "lpf14",
        "lpf-nearest",
    ]


def test_lpf_nearest_is_exactly_nearest_interpolation():
    x = torch.rand(2, 3, 5, 4)
    for pad in ("reflection", "zero"):
        out = FIRUpsample(3, FIR_TAPS["lpf-nearest"], pad=pad)(x)
        assert torch.equal(out, F.interpolate(x, scale_factor=2, mode="nearest"))


def test_lpf_bilinear_is_linear_interpolation_on_the_coarse_grid():
    # y[2n] = x[n], y[2n+1] = (x[n] + x[n+1]) / 2: F.interpolate with align_corners=True to
    # (2H-1)×(2W-1) samples. The last row and column extrapolate and depend on the boundary rule,
    # so they are compared separately (reflection: x[H] = x[H-2]).
    x = torch.rand(1, 2, 4, 5)
    out = upsampler("lpf-bilinear", 2)(x)
    expected = F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True)
    torch.testing.assert_close(out[..., :7, :9], expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(out[..., 7, 0], (x[..., 3, 0] + x[..., 2, 0]) / 2)


def test_even_length_phase_matches_torch_bilinear_interpolation():
    # Bilinear interpolation with align_corners=False is the 4-tap filter [1, 3, 3, 1] / 8; with
    # our phase rule it reproduces F.interpolate exactly except on the 1-pixel border.
    x = torch.rand(1, 2, 6, 5)
    out = FIRUpsample(2, (0.125, 0.375, 0.375, 0.125))(x)
    expected = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(out[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=1e-6, rtol=0)


def test_reflect_index_matches_reflection_padding_and_extends_it():
    x = torch.arange(5.0).view(1, 5)
    padded = F.pad(x, (3, 3), mode="reflect")
    assert torch.equal(x[..., reflect_index(5, 3)], padded)
    assert reflect_index(2, 3).tolist() == [1, 0, 1, 0, 1, 0, 1, 0]
    assert reflect_index(1, 2).tolist() == [0, 0, 0, 0, 0]


def test_bad_names_and_factors_are_reported():
    with pytest.raises(ValueError, match="lpf60"):
        upsampler("lpf-60", 3)
    with pytest.raises(ValueError, match="factor 2"):
        upsampler("lpf14", 3, factor=4)
    assert upsampler("nearest", 3, factor=4)(torch.rand(1, 3, 2, 2)).shape[-1] == 8
