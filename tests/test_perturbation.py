"""The input perturbation: fresh draws are DIP's stream; a shifted bank is a cheap stand-in."""

from __future__ import annotations

import itertools

import pytest
import torch

from autodip.core.config import FitConfig
from autodip.core.perturbation import CHANNEL_MARGIN, SPATIAL_MARGIN, Perturbation, held_values

SHAPE = (1, 4, 12, 10)
CPU = torch.device("cpu")


def _z() -> torch.Tensor:
    return torch.rand(SHAPE, generator=torch.Generator().manual_seed(9))


@pytest.mark.parametrize("channels_last", [False, True])
def test_fresh_draws_are_a_new_gaussian_field_from_the_seeded_generator(channels_last) -> None:
    perturbation = Perturbation(SHAPE, 0.1, 5, CPU, channels_last, "fresh")
    generator = torch.Generator().manual_seed(5)
    for step in (1, 2):  # each step draws anew, in the code's memory order
        if channels_last:
            expected = torch.randn(1, 12, 10, 4, generator=generator).permute(0, 3, 1, 2)
        else:
            expected = torch.randn(SHAPE, generator=generator)
        assert torch.allclose(perturbation.perturb(_z(), step), _z() + 0.1 * expected)


@pytest.mark.parametrize("channels_last", [False, True])
def test_a_shifted_step_is_a_signed_view_of_one_bank_chosen_by_seed_and_step(channels_last):
    perturbation = Perturbation(SHAPE, 0.1, 5, CPU, channels_last, "shifted")
    bank = perturbation.bank_view
    assert tuple(bank.shape) == (1, 4 + CHANNEL_MARGIN, 12 + SPATIAL_MARGIN, 10 + SPATIAL_MARGIN)
    for step in range(1, 30):
        chan, top, left, sign = perturbation.offsets(step)
        expected = sign * bank[:, chan : chan + 4, top : top + 12, left : left + 10]
        assert torch.equal(perturbation.noise(step), expected)
        assert torch.allclose(perturbation.perturb(_z(), step), _z() + 0.1 * expected)
    # the same seed and step give the same field in another run (a resume, a rewind)
    again = Perturbation(SHAPE, 0.1, 5, CPU, channels_last, "shifted")
    assert torch.equal(again.noise(17), perturbation.noise(17))
    other_seed = Perturbation(SHAPE, 0.1, 6, CPU, channels_last, "shifted")
    assert not torch.equal(other_seed.noise(17), perturbation.noise(17))
    # over many steps the offsets and signs cover their range
    offsets = {perturbation.offsets(step) for step in range(1, 3000)}
    assert {o[3] for o in offsets} == {-1, 1}
    assert {o[1] for o in offsets} == set(range(SPATIAL_MARGIN + 1))
    assert {o[0] for o in offsets} == set(range(CHANNEL_MARGIN + 1))


def test_a_shifted_window_is_that_window_of_the_whole_field() -> None:
    perturbation = Perturbation(SHAPE, 0.1, 5, CPU, True, "shifted")
    rows, cols = slice(3, 9), slice(2, 7)
    window = perturbation.noise(4, rows, cols)
    assert torch.equal(window, perturbation.noise(4)[..., rows, cols])
    z = _z()[..., rows, cols]
    assert torch.allclose(perturbation.perturb(z, 4, rows=rows, cols=cols), z + 0.1 * window)


def test_each_shifted_field_is_standard_gaussian_and_steps_differ() -> None:
    shape = (1, 64, 64, 64)
    perturbation = Perturbation(shape, 1.0, 0, CPU, True, "shifted")
    steps = range(1, 6)
    assert len({perturbation.offsets(step) for step in steps}) == len(steps)
    fields = [perturbation.noise(step) for step in steps]
    for field in fields:  # 262 144 values: mean within 0.01, std within 0.01 of 1
        assert abs(field.mean().item()) < 0.01
        assert abs(field.std().item() - 1) < 0.01
    # fields at different offsets are uncorrelated, value by value (a shared value would be 1)
    for a, b in itertools.pairwise(fields):
        correlation = torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1]
        assert abs(correlation.item()) < 0.02


@pytest.mark.parametrize("draw", ["fresh", "shifted"])
def test_no_perturbation_returns_the_code_itself(draw) -> None:
    z = _z()
    assert Perturbation(SHAPE, 0.0, 5, CPU, False, draw).perturb(z, 3) is z


def test_an_unknown_draw_is_refused() -> None:
    with pytest.raises(ValueError, match="reg_noise_draw must be one of"):
        FitConfig(reg_noise_draw="bogus")
    with pytest.raises(ValueError, match="reg_noise_draw must be one of"):
        Perturbation(SHAPE, 0.1, 5, CPU, False, "bogus")


def test_the_memory_estimate_counts_the_bank() -> None:
    from autodip.core.memory import estimate_run_memory
    from autodip.nets import create_net

    net = create_net("hourglass", width=8)
    fresh = estimate_run_memory(net, 3, 64, 64, reg_noise_draw="fresh")
    shifted = estimate_run_memory(net, 3, 64, 64, reg_noise_draw="shifted")
    bank = held_values((1, net.in_channels, 64, 64), "shifted")
    assert bank == (net.in_channels + CHANNEL_MARGIN) * (64 + SPATIAL_MARGIN) ** 2
    assert shifted.buffers - fresh.buffers == 4 * (bank - net.in_channels * 64 * 64)
