"""Exploration: stop when CIFS *or* the discrepancy principle confirms, return CIFS's best so far.

Not the shipped policy (``guard.md`` replays that one). Replayed on the 256² default-network runs of
``benchmarks/results/dev256`` under today's σ̂ (:func:`guard.current`). Per run: the shipped
adaptive policy (:func:`autodip.bench.adaptive.replay_adaptive`), and the candidate: within the
adaptive cap, the first of CIFS's confirmation and the ``discrepancy`` criterion's confirmation
(both gated: a stop counts only once the residual is at most ``--gate`` · σ̂²); at a discrepancy
confirmation the estimate returned is CIFS's running best up to that step. Runs where neither
confirms fall back to the shipped policy's result. Prints mean PSNR, confirmations and mean halt
step per σ.

Usage: ``python benchmarks/confirm_either.py [--gate 1.1]``
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import guard
from autodip.bench.adaptive import replay_adaptive
from autodip.bench.analyse import criterion_gate, criterion_stop

CAP = guard.ADAPTIVE_CAP * guard.DEFAULT_ITERS


def candidate(run: dict[str, Any], gate: float) -> tuple[float, bool, int]:
    """PSNR at the candidate policy's stop, whether a rule confirmed it, and its halt step."""
    shipped = replay_adaptive(run, "cifs", guard.DEFAULT_PATIENCE, guard.DEFAULT_ITERS, CAP)
    cifs_gate = criterion_gate(run, "cifs", gate)
    cifs = criterion_stop(run, "cifs", guard.DEFAULT_PATIENCE, CAP, cifs_gate)
    fit = criterion_stop(
        run, "discrepancy", guard.DEFAULT_PATIENCE, CAP, criterion_gate(run, "discrepancy", gate)
    )
    if cifs["confirmed"] and (not fit["confirmed"] or cifs["halt"] <= fit["halt"]):
        stop, halt, confirmed = cifs["stop"], cifs["halt"], True
    elif fit["confirmed"]:
        halt, confirmed = fit["halt"], True
        stop = criterion_stop(run, "cifs", guard.DEFAULT_PATIENCE, halt, cifs_gate)["stop"]
    else:
        stop, halt, confirmed = shipped.stop, shipped.halt, False
    psnr = next(h["psnr"] for h in run["history"] if h["step"] == stop)
    return psnr, confirmed, halt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/results/dev256"))
    parser.add_argument("--gate", type=float, default=1.1)
    args = parser.parse_args()
    runs = guard.replayable(guard.current(guard.load_runs(args.runs)))
    print("| σ | runs | shipped PSNR | shipped confirmed | shipped halt | either PSNR | "
          "either confirmed | either halt |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for sigma, group in guard.by_sigma(runs).items():
        shipped = [
            replay_adaptive(r, "cifs", guard.DEFAULT_PATIENCE, guard.DEFAULT_ITERS, CAP)
            for r in group
        ]
        either = [candidate(r, args.gate) for r in group]
        cells = [
            f"{statistics.mean(s.psnr for s in shipped):.2f}",
            str(sum(s.confirmed for s in shipped)),
            f"{statistics.mean(s.halt for s in shipped):.0f}",
            f"{statistics.mean(e[0] for e in either):.2f}",
            str(sum(e[1] for e in either)),
            f"{statistics.mean(e[2] for e in either):.0f}",
        ]
        print(f"| {sigma:g} | {len(group)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
