"""The whole-image benchmark's runs go on across sessions (``benchmarks/common.py``,
``defaults_beside_cbm3d``): they resume a checkpoint they find, start afresh when it cannot serve,
never store an interrupted run as a result, and delete the checkpoint once done.

The run itself is replaced by a stand-in that records how it was called: that a resumed run ends
as an uninterrupted one is :mod:`tests.test_checkpoint`'s to check, on real runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from autodip.core.result import Result
from autodip.errors import CheckpointError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from common import defaults_beside_cbm3d


class StandIn:
    """Replaces :func:`autodip.api.restore`: saves "a checkpoint", refuses a stale one, and returns
    a result whose own clock says ``run_seconds``."""

    def __init__(self, interrupted: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.interrupted = interrupted

    def __call__(self, noisy: np.ndarray, operator: Any, **options: Any) -> Result:
        checkpoint = options["checkpoint"]
        self.calls.append({"resume": checkpoint.resume, "every": checkpoint.every})
        if checkpoint.resume and checkpoint.path.read_text() == "another run's":
            raise CheckpointError(f"checkpoint '{checkpoint.path}' belongs to a different run")
        checkpoint.path.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.path.write_text("this run's")
        return _result(noisy, self.interrupted, resumed=checkpoint.resume)


def _result(noisy: np.ndarray, interrupted: bool = False, resumed: bool = False) -> Result:
    """A finished (or interrupted) run's result, 1234 s by its own clock; a resumed one says from
    which step, as :class:`autodip.core.run.Run` does."""
    config = {
        "net": {"name": "hourglass", "options": {"width": 64}},
        "placement": {"device": "cpu", "precision": "fp32"},
        "budget": {"cap": 7500},
        "task": {"default_patience": 450},
        **({"resumed_from_step": 200} if resumed else {}),
    }
    image = torch.from_numpy(noisy)[None]
    return Result(image, 4000, "stopped", interrupted, 1234.0, config=config, stop_step=3700,
                  confirmed=True)  # fmt: skip


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> StandIn:
    restore = StandIn()
    clean = np.full((3, 8, 8), 0.5, dtype=np.float32)
    monkeypatch.setattr("autodip.api.restore", restore)
    monkeypatch.setattr("autodip.bench.run.load_clean", lambda job: clean)
    monkeypatch.setattr("autodip.bench.run.degrade", lambda image, job: (image + 0.1, None, image))
    monkeypatch.setattr(
        "autodip.bench.baselines.denoise_baseline", lambda name, noisy, sigma: (noisy, 25.0, None)
    )
    return restore


def test_a_run_keeps_a_checkpoint_while_it_runs_and_deletes_it_when_done(stand_in, tmp_path):
    checkpoint = tmp_path / "runs" / "image-s25.ckpt"
    done = defaults_beside_cbm3d(None, record_psnr=False, checkpoint=checkpoint)
    assert stand_in.calls == [{"resume": False, "every": 200}]
    assert not checkpoint.exists()
    assert "resumed" not in done["run"]
    assert done["seconds"] < 60  # the wall clock of this call, not the stand-in's 1234 s


def test_a_checkpoint_found_is_resumed_and_the_seconds_are_the_runs_own_clock(stand_in, tmp_path):
    checkpoint = tmp_path / "image-s25.ckpt"
    checkpoint.write_text("this run's")
    done = defaults_beside_cbm3d(None, record_psnr=False, checkpoint=checkpoint)
    assert stand_in.calls == [{"resume": True, "every": 200}]
    assert done["run"]["resumed"] is True
    assert done["seconds"] == 1234.0  # summed over the segments, not this segment's wall clock
    assert not checkpoint.exists()


def test_a_checkpoint_that_cannot_serve_is_dropped_and_the_run_starts_afresh(
    stand_in, tmp_path, capsys
):
    checkpoint = tmp_path / "image-s25.ckpt"
    checkpoint.write_text("another run's")
    done = defaults_beside_cbm3d(None, record_psnr=False, checkpoint=checkpoint)
    assert [call["resume"] for call in stand_in.calls] == [True, False]
    assert "resumed" not in done["run"]
    assert "starting afresh" in capsys.readouterr().out


def test_an_interrupted_run_is_not_a_result_and_its_checkpoint_stays(stand_in, tmp_path):
    stand_in.interrupted = True
    checkpoint = tmp_path / "image-s25.ckpt"
    with pytest.raises(KeyboardInterrupt):
        defaults_beside_cbm3d(None, record_psnr=False, checkpoint=checkpoint)
    assert checkpoint.read_text() == "this run's"


def test_without_a_checkpoint_file_the_run_keeps_none(monkeypatch, stand_in):
    seen = []

    def restore(noisy: np.ndarray, operator: Any, **options: Any) -> Result:
        seen.append(options["checkpoint"])
        return _result(noisy)

    monkeypatch.setattr("autodip.api.restore", restore)
    defaults_beside_cbm3d(None, record_psnr=False)
    assert seen == [None]


def test_a_row_run_with_another_patience_than_todays_is_run_again(stand_in, tmp_path):
    from autodip.defaults import TASK_DEFAULTS
    from cbsd68_full import superseded

    done = defaults_beside_cbm3d(None, record_psnr=False, checkpoint=tmp_path / "run.ckpt")
    assert done["run"]["patience"] == 450  # what the run's config says it stopped with
    today = TASK_DEFAULTS["denoise"].patience_for(321, 481)
    row = {"shape": [3, 321, 481], "confirmed": True, "iterations": 3000, "cap": 7500}
    assert not superseded({**row, "patience": today})
    assert superseded({**row, "patience": today - 150})
    assert superseded(row) == (today != 300)  # rows before it was recorded ran with S = 300
    capped = {**row, "patience": today, "confirmed": False, "iterations": 4500, "cap": 4500}
    assert superseded(capped)  # today's cap there is larger


def test_the_report_names_todays_defaults_and_says_when_old_rows_are_in_its_mean():
    from autodip.defaults import TASK_DEFAULTS
    from cbsd68_full import markdown

    row = {
        "image": "1.png",
        "shape": [3, 321, 481],
        "noisy_psnr": 20.0,
        "net": "hourglass",
        "width": 64,
        "stop_step": 3000,
        "iterations": 3000,
        "confirmed": True,
        "confirmed_by": "cifs",
        "cap": 7500,
        "psnr": 28.0,
        "ssim": 0.8,
        "peak": 28.1,
        "peak_step": 2900,
        "bm3d_psnr": 29.0,
        "seconds": 10.0,
        "bm3d_seconds": 1.0,
        "placement": {"device": "cpu", "precision": "bf16"},
    }
    today = TASK_DEFAULTS["denoise"].patience_for(321, 481)
    fresh = "\n".join(markdown([{**row, "patience": today}], 1, "alone", "data"))
    assert f"CIFS with S = {today} " in fresh
    assert "ran with earlier defaults" not in fresh
    mixed = markdown([{**row, "patience": today}, {**row, "patience": today - 150}], 2, "", "")
    assert "1 of the 2 ran with earlier defaults" in "\n".join(mixed)
