"""The eight flips and rotations: exact inverses, and they commute with every task's operator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autodip.physics.operators import Denoise, Inpaint, Operator, SuperResolve
from autodip.physics.transforms import DIHEDRAL, apply, invert, transform_operator

NAMES = list(DIHEDRAL)


def _random(*shape, dtype=torch.float32, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("name", NAMES)
def test_each_transform_is_inverted_exactly_on_a_non_square_image(name):
    x = _random(1, 3, 7, 5)
    moved = apply(x, name)
    expected = (5, 7) if DIHEDRAL[name][0] % 2 else (7, 5)
    assert tuple(moved.shape[-2:]) == expected
    assert torch.equal(invert(moved, name), x)


def test_the_eight_are_distinct_and_the_first_four_keep_the_shape():
    x = _random(1, 1, 4, 4)
    images = {tuple(apply(x, n).flatten().tolist()) for n in NAMES}
    assert len(images) == 8
    assert all(DIHEDRAL[n][0] % 2 == 0 for n in NAMES[:4])


def test_names_are_checked():
    with pytest.raises(ValueError, match="unknown transform 'twist'"):
        apply(torch.zeros(1, 1, 2, 2), "twist")


@pytest.mark.parametrize("name", NAMES)
def test_inpainting_masks_transform_with_the_image(name):
    x = _random(1, 3, 9, 6)
    mask = (_random(3, 9, 6, seed=1) > 0.4).float()  # per channel
    operator = Inpaint(mask)
    moved = transform_operator(operator, name)
    assert torch.equal(moved.A(apply(x, name)), apply(operator.A(x), name))
    assert moved.known_fraction == operator.known_fraction


@pytest.mark.parametrize("factor", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("name", NAMES)
def test_super_resolution_downsampling_commutes_with_every_transform(factor, name):
    # exact in real arithmetic (symmetric kernel, symmetric padding, blocks centred): float64
    # agrees to rounding, float32 to a few ulps (the sums run in another order)
    operator = SuperResolve(factor)
    assert transform_operator(operator, name) is operator
    for dtype, tolerance in ((torch.float64, 1e-12), (torch.float32, 1e-6)):
        x = _random(1, 3, 7 * factor, 5 * factor, dtype=dtype, seed=factor)
        difference = operator.A(apply(x, name)) - apply(operator.A(x), name)
        assert float(difference.abs().max()) < tolerance, (dtype, float(difference.abs().max()))


@pytest.mark.parametrize("name", NAMES)
def test_denoising_is_left_as_it_is(name):
    operator = Denoise()
    assert transform_operator(operator, name) is operator


def test_an_operator_of_unknown_kind_is_refused():
    class Blur(Operator):
        name = "blur"

    with pytest.raises(ValueError, match="not with blur"):
        transform_operator(Blur(), "rot90")
    blur = Blur()  # every operator commutes with the identity: seeds-only ensembles of one's own
    assert transform_operator(blur, "identity") is blur


def test_an_operator_of_ones_own_runs_once_unless_asked_for_an_ensemble():
    import autodip

    class Scale(Operator):  # A x = x / 2: not a task autodip measured ensembles for
        name = "scale"

        def A(self, x):  # noqa: N802
            return x / 2

        def A_adjoint(self, y):  # noqa: N802
            return y / 2

    y = np.full((3, 16, 16), 0.25, np.float32)
    options = {"iters": 2, "width": 4, "device": "cpu", "stop": None}
    assert autodip.restore(y, Scale(), **options).ensemble is None  # the task default is not used
    assert autodip.restore(y, Scale(), ensemble=2, **options).ensemble["size"] == 2
