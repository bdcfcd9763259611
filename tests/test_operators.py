"""Degradation operators: adjointness, sizes, the Lanczos kernel, mask validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autodip.physics.operators import (
    Denoise,
    Inpaint,
    SuperResolve,
    lanczos2_taps,
    published_iterations,
)


def _inner(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() * b.double()).sum())


def _operators(channels: int, height: int, width: int) -> list:
    rng = np.random.default_rng(1)
    return [
        Denoise(),
        Inpaint(rng.random((height, width)) > 0.3),
        Inpaint(rng.random((channels, height, width)) > 0.5),
        *(SuperResolve(f) for f in (2, 3, 4, 8)),
    ]


@pytest.mark.parametrize("index", range(7))
@pytest.mark.parametrize("size", [(1, 9, 7), (3, 5, 11)])
def test_adjoint_identity(index: int, size: tuple[int, int, int]) -> None:
    channels, h, w = size
    op = _operators(channels, h, w)[index]
    est_h, est_w = op.estimate_size(h, w)
    g = torch.Generator().manual_seed(index)
    x = torch.randn(1, channels, est_h, est_w, generator=g)
    y = torch.randn(1, channels, h, w, generator=g)
    ax = op.A(x)
    assert ax.shape == y.shape
    aty = op.A_adjoint(y)
    assert aty.shape == x.shape
    left, right = _inner(ax, y), _inner(x, aty)
    assert left == pytest.approx(right, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
@pytest.mark.parametrize("low", [(5, 7), (1, 1), (13, 4)])
def test_super_resolve_sizes(factor: int, low: tuple[int, int]) -> None:
    op = SuperResolve(factor)
    assert op.estimate_size(*low) == (factor * low[0], factor * low[1])
    x = torch.rand(1, 3, factor * low[0], factor * low[1])
    assert tuple(op.A(x).shape[-2:]) == low


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_lanczos_taps_sum_to_one_and_are_symmetric(factor: int) -> None:
    taps = lanczos2_taps(factor)
    assert taps.sum() == pytest.approx(1.0)
    assert np.allclose(taps, taps[::-1])
    assert len(taps) == (4 * factor if factor % 2 == 0 else 4 * factor - 1)
    assert taps.argmax() in ((len(taps) - 1) // 2, len(taps) // 2)


def test_super_resolve_keeps_constants_and_averages_blocks() -> None:
    op = SuperResolve(4)
    constant = torch.full((1, 3, 16, 12), 0.3)
    assert torch.allclose(op.A(constant), torch.full((1, 3, 4, 3), 0.3), atol=1e-6)
    # a horizontal ramp keeps its value at each block's centre (the filter is symmetric)
    ramp = torch.arange(32.0).repeat(1, 1, 32, 1)
    low = op.A(ramp)[0, 0, 4]
    centres = torch.arange(8) * 4 + 1.5
    # (the two outer samples on each side see the replicated border)
    assert torch.allclose(low[2:-2], centres[2:-2], atol=1e-4)


def test_super_resolve_rejects_bad_factors() -> None:
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="factor"):
            SuperResolve(bad)


def test_inpaint_mask_validation() -> None:
    with pytest.raises(ValueError, match="no known pixel"):
        Inpaint(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="H×W or C×H×W"):
        Inpaint(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        Inpaint(np.full((4, 4), np.nan))
    op = Inpaint(np.ones((4, 5)))
    with pytest.raises(ValueError, match="must match"):
        op.check(torch.rand(1, 3, 5, 4))
    with pytest.raises(ValueError, match="channels"):
        Inpaint(np.ones((2, 4, 5))).check(torch.rand(1, 3, 4, 5))
    op.check(torch.rand(1, 3, 4, 5))  # the right size passes


def test_inpaint_restrict_zeroes_unknown_pixels() -> None:
    mask = np.array([[1, 0], [1, 1]])
    op = Inpaint(mask)
    out = op.restrict(torch.ones(1, 2, 2, 2))
    assert out[0, :, 0, 1].abs().sum() == 0 and out.sum() == 6
    assert op.describe()["known_fraction"] == pytest.approx(0.75)


def test_published_iterations() -> None:
    assert published_iterations(Inpaint(np.ones((2, 2)))) == 3000
    assert published_iterations(SuperResolve(4)) == 2000
    assert published_iterations(SuperResolve(8)) == 4000
    assert published_iterations(SuperResolve(6)) == 3000
    assert published_iterations(Denoise()) == 3000
