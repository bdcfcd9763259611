"""Tiles: the plan covers the image, blending leaves no seams, and memory limits are enforced."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from autodip.api import denoise, inpaint
from autodip.core.memory import InsufficientMemoryError, parse_size
from autodip.core.tiling import plan_tiles, restore_in_tiles


def _smooth(size: tuple[int, int] = (48, 56)) -> np.ndarray:
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]] / max(size)
    planes = [0.5 + 0.25 * np.sin(2 * np.pi * (0.7 * xx + k * 0.4 * yy)) for k in range(3)]
    return np.stack(planes).astype(np.float32)


@pytest.mark.parametrize("shape", [(100, 60), (64, 64), (65, 129), (10, 7)])
def test_plan_covers_the_image_with_the_overlap(shape):
    tiles = plan_tiles(*shape, tile=32, overlap=8)
    covered = np.zeros(shape, int)
    for t in tiles:
        covered[t.rows, t.cols] += 1
        assert t.height == min(32, shape[0]) and t.width == min(32, shape[1])
    assert covered.min() >= 1
    tops = sorted({t.top for t in tiles})
    assert all(b - a <= 32 - 8 for a, b in itertools.pairwise(tops))


def test_identity_tiles_reassemble_the_image_exactly():
    image = np.random.default_rng(0).random((3, 50, 70)).astype(np.float32)
    out = restore_in_tiles(image, 24, 6, lambda tile, part: part)
    assert np.allclose(out, image, atol=1e-6)


def test_tiles_that_disagree_meet_in_a_smooth_ramp_not_a_step():
    image = np.zeros((1, 40, 100), np.float32)
    columns = sorted({t.left for t in plan_tiles(40, 100, 32, 16)})

    def biased(tile, part):  # each column of tiles is off by another constant
        return part + 0.2 * columns.index(tile.left)

    out = restore_in_tiles(image, 32, 16, biased)[0]
    jumps = np.abs(np.diff(out, axis=1)).max()
    assert jumps < 0.2 / 4  # a hard seam would jump by the full 0.2


def test_tiled_denoising_has_no_visible_seams():
    clean = _smooth((48, 48))
    rng = np.random.default_rng(1)
    noisy = np.clip(clean + 0.08 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    result = denoise(
        noisy, iters=200, width=16, device="cpu", stop=None, seed=0, tile=32, overlap=16
    )
    assert result.pixels.shape == clean.shape
    assert len(result.config["tiles"]) == 4
    error = np.abs(result.pixels - clean).mean(axis=0)
    # internal tile borders: the start of the second tile row/column (and the overlap's middle)
    border = np.zeros(error.shape, bool)
    for t in plan_tiles(*error.shape, 32, 16):
        if t.top:
            border[t.top + 6 : t.top + 10, :] = True
        if t.left:
            border[:, t.left + 6 : t.left + 10] = True
    assert error[border].mean() < 1.5 * error[~border].mean()
    assert error.mean() < np.abs(noisy - clean).mean()  # and it did denoise


def test_an_inpainting_tile_without_known_pixels_is_refused():
    image = _smooth((40, 40))
    mask = np.ones((40, 40))
    mask[:, 20:] = 0
    with pytest.raises(ValueError, match="no known pixel"):
        inpaint(image, mask, iters=2, width=8, device="cpu", tile=16, overlap=4)


def test_a_run_over_the_memory_limit_is_refused_with_advice():
    image = _smooth((64, 64))
    with pytest.raises(InsufficientMemoryError, match="--tile") as info:
        denoise(image, iters=2, device="cpu", max_memory=parse_size("10M"))
    assert "needs about" in str(info.value) and "10.0 MiB" in str(info.value)


def test_parse_size_rejects_nonsense():
    for bad in ("", "lots", "-1G", "0"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_the_memory_estimate_counts_what_the_criteria_keep():
    from autodip.core.memory import stopper_images
    from autodip.stopping import Stopper, create_criterion

    osc = Stopper(create_criterion("osc"))  # lag 350 steps: 35 estimates at every 10 steps
    wmv = Stopper(create_criterion("wmv"), [create_criterion("emv")])  # a 100-step window
    assert stopper_images(None, 10) == 0
    assert stopper_images(osc, 10) == 1 + 35 + 1
    assert stopper_images(wmv, 10) == 1 + (1 + 10) + 1
