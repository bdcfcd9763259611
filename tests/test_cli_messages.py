"""What the command line says is what it does: networks, tiles, memory, outputs, progress."""

import re

import numpy as np
import pytest
from PIL import Image

from autodip import cli

FAST = ["--iters", "6", "--width", "8", "--monitor-every", "3", "--quiet", "--device", "cpu"]


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _png(path, seed=0, size=(24, 20)):
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_the_memory_breakdown_adds_up_to_the_total(tmp_path, capsys):
    src = _png(tmp_path / "ok.png", size=(64, 64))
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", "--max-memory", "1K", *FAST],
                          capsys)  # fmt: skip
    assert code == cli.EXIT_FAILURE
    total, parts = re.search(r"needs about ([\d.]+) MiB \((.*?) MiB\)", stderr).groups()
    names = [re.sub(r"[\d.]+$", "", part).strip() for part in parts.split(" + ")]
    assert names == ["parameters and optimiser", "activations", "buffers",
                     "safety margin (25%)", "fixed runtime overhead"]  # fmt: skip
    shown = [float(part.rsplit(" ", 1)[1]) for part in parts.split(" + ")]
    assert sum(shown) == pytest.approx(float(total), abs=1e-9)


@pytest.mark.parametrize("columns", [80, 60, 40, 24])
def test_the_progress_bar_fits_the_terminal_and_keeps_the_step(monkeypatch, capsys, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    with cli._Progress(1500, True, label="denoising") as progress:
        progress(750, 0.0123)
        progress(1500, 0.0123)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines and all(len(line) < columns for line in lines)
    assert "1500/1500" in lines[-1] and "…" not in lines[-1]
    if columns >= 60:  # the important fields: step, time left, loss
        assert "left" in lines[-1] and "loss 1.23e-02" in lines[-1]
