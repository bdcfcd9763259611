"""Tiles: the plan covers the image, blending leaves no seams, and memory limits are enforced."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from autodip.api import denoise, inpaint
from autodip.core.checkpoint import Checkpointing
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


def test_each_tiles_run_is_handed_to_the_monitors_and_checkpoints_are_refused(tmp_path):
    class Watch:  # a monitor that reads the run it watches (as autodip serve's does)
        def __init__(self) -> None:
            self.runs: list[tuple[int, int]] = []
            self.steps: list[int] = []

        def on_start(self, run) -> None:
            self.runs.append((run.state.step, run.budget.limit))

        def __call__(self, report) -> None:
            self.steps.append(report.step)

    watch = Watch()
    noisy = _smooth((40, 40))
    result = denoise(noisy, iters=20, width=8, device="cpu", tile=32, monitors=[watch])
    tiles = len(result.config["tiles"])
    assert tiles == len(plan_tiles(40, 40, 32, 8)) and watch.runs == [(0, 20)] * tiles
    assert watch.steps == [10, 20] * tiles
    with pytest.raises(ValueError, match="checkpoints save one whole run"):
        denoise(noisy, iters=2, tile=32, checkpoint=Checkpointing(tmp_path / "x.ckpt"))


def test_ctrl_c_between_tiles_keeps_the_tiles_done_and_the_rest_of_the_input():
    noisy = _smooth((40, 40))
    planned = plan_tiles(40, 40, 32, 8)

    def interrupt_at(tile: int):
        def on_tile(index: int, count: int) -> None:
            if index == tile:
                raise KeyboardInterrupt

        return on_tile

    options = {"iters": 10, "width": 8, "device": "cpu", "tile": 32, "seed": 0}
    whole = denoise(noisy, **options)
    result = denoise(noisy, on_tile=interrupt_at(2), **options)
    assert result.interrupted and len(result.config["tiles"]) == 1
    assert (
        result.reason
        == "interrupted after tile 1 of 4; the 3 tiles not run keep their input pixels"
    )

    def only(tile) -> np.ndarray:  # the pixels no other tile covers
        mask = np.zeros((40, 40), bool)
        mask[tile.rows, tile.cols] = True
        for other in planned:
            if other is not tile:
                mask[other.rows, other.cols] = False
        return mask

    first, last = only(planned[0]), only(planned[-1])
    assert first.any() and last.any()
    assert np.array_equal(result.pixels[:, last], noisy[:, last])  # never restored
    assert np.allclose(result.pixels[:, first], whole.pixels[:, first], atol=1e-6)  # kept
    assert not np.allclose(whole.pixels[:, last], noisy[:, last], atol=1e-3)  # runs change pixels
    with pytest.raises(KeyboardInterrupt):  # nothing restored yet: nothing to return
        denoise(noisy, on_tile=interrupt_at(1), **options)


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
