"""The comparison of the default ensemble with one run of a costlier network
(``benchmarks/ensemble_vs_net.py``), on made-up rows."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from ensemble_vs_net import per_crop, summary


def _row(image: str, sigma: float, ensemble: tuple[float, float, float], single: float):
    row = {"image": image, "sigma": sigma, "noisy": 20.0, "cbm3d": 30.0, "width": 64}
    for k, value in zip((1, 2, 4), ensemble, strict=True):
        row[f"ensemble{k}"] = {"psnr": value, "cpu_seconds": 100.0 * k}
    row["dip-skip"] = {"psnr": single, "cpu_seconds": 380.0}
    return row


def test_the_rule_weighs_one_costly_run_against_the_ensemble_of_the_same_time():
    rows = [_row("a", 25, (28.0, 28.3, 28.5), 28.3), _row("b", 25, (29.0, 29.3, 29.5), 29.4)]
    lines, picks = summary(rows, "dip-skip")
    assert picks == {"25": "ensemble4"}  # dip-skip is 0.15 dB under the 4 runs on average
    assert not any(line.startswith("| all ") for line in lines)  # one σ: no pooled rows
    rows = [_row("a", 25, (28.0, 28.3, 28.5), 28.7), _row("b", 50, (24.0, 24.1, 24.2), 24.3)]
    lines, picks = summary(rows, "dip-skip")
    assert picks["all"] == "dip-skip" and picks["50"] == "dip-skip"  # 0.15 dB over, faster
    row = next(line for line in lines if line.startswith("| all | 2 | hourglass ×4 (the default) "))
    assert "| 26.35 | 30.00 | -3.65 | -5.80 | 400 | 4.00× |" in row
    table = per_crop(rows, "dip-skip")
    assert table[2].endswith("| 28.70 (380 s) | +0.20 |")
