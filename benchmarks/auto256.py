"""``--net auto`` at 256²: the width predictor's choice against the default width → ``auto256.md``.

The width predictor (*The Devil is in the Upsampling*, Liu et al.; :mod:`autodip.analysis.
width_predictor`) was judged on 128² crops, where the width moved PSNR by 0.06–0.3 dB. Issue 14
asks whether it still earns its place at real sizes. Nothing is trained or fitted here: for each
(image, σ) of the 256² development sweep (``benchmarks/sweeps/dev256.json``) the noisy crop is
rebuilt exactly as the sweep made it, the predictor chooses a width from it (as ``autodip denoise
--net auto`` does), and the sweep's cached trajectories of each width are replayed with the
shipped stopping policy (CIFS, S = 300, budget 1500 adaptive up to 4500:
:func:`autodip.bench.adaptive.replay_adaptive`). The predictor's choice is compared with the
default width at 256² and with the best width of those the sweep has run (an oracle), on the
pairs where the chosen width's run exists; the rest are counted, not guessed.

Usage::

    python benchmarks/auto256.py   # after each dev256 sweep commit
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.analysis.width_predictor import choose_architecture
from autodip.api import (
    ADAPTIVE_CAP,
    DEFAULT_ITERS,
    DEFAULT_PATIENCE,
    DEFAULT_STOP,
    measurement_sigma,
)
from autodip.bench.adaptive import replay_adaptive
from autodip.bench.analyse import history_peak
from autodip.bench.provenance import provenance, write_report
from autodip.bench.run import degrade, load_clean
from autodip.bench.sweep import Sweep, expand
from autodip.defaults import TASK_DEFAULTS
from guard import current, load_runs

SWEEP = Path("benchmarks/sweeps/dev256.json")
WIDTHS = (32, 64, 128)


def policy_psnr(run: dict[str, Any]) -> dict[str, float]:
    """PSNR with the shipped stopping policy, and the run's peak."""
    cap = ADAPTIVE_CAP * DEFAULT_ITERS
    replay = replay_adaptive(run, DEFAULT_STOP, DEFAULT_PATIENCE, DEFAULT_ITERS, cap)
    return {"stop": replay.psnr, "peak": history_peak(run["history"])[0]}


def rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (image, σ) of the sweep: the predicted width and each width's PSNR."""
    by_width: dict[tuple[str, str, int], dict[str, float]] = {}
    for run in runs:
        job = run["job"]
        if job["kind"] != "dip" or run["history"][-1]["step"] < ADAPTIVE_CAP * DEFAULT_ITERS:
            continue
        name = job["network"]
        if name.startswith("hourglass-w"):
            width = int(name.removeprefix("hourglass-w"))
            by_width[job["image"], job["degradation"], width] = policy_psnr(run)
    out = []
    seen = set()
    for job in expand(Sweep.from_file(SWEEP)):
        key = (Path(job.image).name, job.degradation.label)
        if job.kind != "dip" or key in seen:
            continue
        seen.add(key)
        noisy, _, _ = degrade(load_clean(job), job)
        choice = choose_architecture(noisy)
        default_width = TASK_DEFAULTS["denoise"].width_for(256, 256, sigma=measurement_sigma(noisy))
        widths = {w: by_width.get((*key, w)) for w in WIDTHS}
        out.append(
            {
                "image": key[0],
                "degradation": key[1],
                "predicted": choice["width"],
                "probabilities": choice["probabilities"],
                "default_width": default_width,
                "widths": {str(w): v for w, v in widths.items() if v is not None},
            }
        )
    return out


def summary(table: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the pairs where the predicted and the default widths both have runs."""
    usable = [
        r
        for r in table
        if str(r["predicted"]) in r["widths"] and str(r["default_width"]) in r["widths"]
    ]
    chosen = [r["widths"][str(r["predicted"])]["stop"] for r in usable]
    default = [r["widths"][str(r["default_width"])]["stop"] for r in usable]
    oracle = [max(v["stop"] for v in r["widths"].values()) for r in usable]
    return {
        "pairs": len(table),
        "usable": len(usable),
        "predicted_counts": dict(Counter(r["predicted"] for r in table)),
        "predicted_mean": float(np.mean(chosen)) if usable else None,
        "default_mean": float(np.mean(default)) if usable else None,
        "oracle_mean": float(np.mean(oracle)) if usable else None,
        "predicted_beats_default": sum(c > d for c, d in zip(chosen, default, strict=True)),
        "default_beats_predicted": sum(d > c for c, d in zip(chosen, default, strict=True)),
    }


def markdown(table: list[dict[str, Any]], s: dict[str, Any]) -> str:
    counts = ", ".join(f"width {w} {n}×" for w, n in sorted(s["predicted_counts"].items()))
    out = [
        "# `--net auto` at 256²: the predicted width against the default",
        "",
        f"- the noisy 256² crops of `{SWEEP}`, rebuilt as the sweep made them; the predictor "
        "chooses from the noisy crop, as `autodip denoise --net auto` does",
        f"- PSNR with the shipped policy: `{DEFAULT_STOP}`, S = {DEFAULT_PATIENCE}, budget "
        f"{DEFAULT_ITERS} adaptive up to {ADAPTIVE_CAP * DEFAULT_ITERS}, replayed on the sweep's "
        "cached trajectories (`benchmarks/results/dev256/`)",
        f"- widths with runs so far are compared; a pair whose predicted width has no run yet is "
        f"counted, not guessed: {s['usable']} of {s['pairs']} pairs usable",
        f"- the predictor chose {counts}",
        "",
    ]
    if s["usable"]:
        out += [
            f"On the usable pairs: predicted width {s['predicted_mean']:.2f} dB, the default "
            f"width {s['default_mean']:.2f} dB, the best width run (oracle) "
            f"{s['oracle_mean']:.2f} dB; the prediction is better on "
            f"{s['predicted_beats_default']} pairs and worse on {s['default_beats_predicted']}.",
            "",
        ]
    out += [
        "| image | σ | predicted (p32/p64/p128) | " + " | ".join(f"w{w}" for w in WIDTHS) + " |",
        "|---|---|---|" + "---|" * len(WIDTHS),
    ]
    for r in table:
        p = r["probabilities"]
        cells = []
        for w in WIDTHS:
            v = r["widths"].get(str(w))
            text = "–" if v is None else f"{v['stop']:.2f} (peak {v['peak']:.2f})"
            if w == r["predicted"]:
                text = f"**{text}**"
            cells.append(text)
        out.append(
            f"| {r['image']} | {r['degradation'].split(':')[1]} | {r['predicted']} "
            f"({p['32']:.2f}/{p['64']:.2f}/{p['128']:.2f}) | " + " | ".join(cells) + " |"
        )
    out += ["", "Bold: the predicted width. Each cell: PSNR at the policy's stop (the run's peak)."]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/results/dev256"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/auto256.md"))
    args = parser.parse_args()
    table = rows(current(load_runs(args.runs)))  # σ̂ and CIFS as today's estimator gives them
    s = summary(table)
    write_report(args.out, markdown(table, s), {"summary": s, "rows": table}, provenance())
    print(f"wrote {args.out} ({s['usable']} of {s['pairs']} pairs usable)")


if __name__ == "__main__":
    main()
