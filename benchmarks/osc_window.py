"""OSC's window against the run's length, replayed on recorded curves → ``osc_window.md``.

OSC (*Towards the Automation of Deep Image Prior*) scores the curvature of the projection curve
:math:`c_t` over a half-length ``L`` and averages it over ``window`` steps, on a step axis divided
by ``time_scale``. Today these are fixed (300, 100, 3000 — the paper's, for its 3000-step runs),
and on shorter runs OSC stops at its first scorable step (issue 14 item 4). Every OSC run of a
sweep now stores :math:`c_t` (``criteria.osc.trace``), so other windows can be judged without
running again: :func:`autodip.stopping.osc.replay_scores` recomputes the scores, the shared
candidate rule finds the stop within a budget, and the stop's PSNR is read from the run's own
history.

Rules compared, for a nominal budget ``B``: the fixed one; and ``L = B/10``, ``window = B/30``,
``time_scale = B`` (the paper's proportions, scaled to the run). Accuracy is the OSC paper's:
PSNR at the stop / the best PSNR of the run within the budget; the paper reports > 95 % in 38 of
40 runs.

Usage::

    python benchmarks/osc_window.py --runs benchmarks/results/dev256-own [--budget 1500 3000 4500]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.bench.analyse import history_peak, record_at, replay_stop
from autodip.bench.provenance import provenance, write_report
from autodip.stopping.osc import OrthogonalStopping, replay_scores
from guard import load_runs

FIXED = {"half_length": 300, "window": 100, "time_scale": 3000.0}


def rules(budget: int) -> dict[str, dict[str, Any]]:
    """The windows compared at one nominal budget."""
    scaled = {"half_length": max(10, budget // 10), "window": max(10, budget // 30)}
    return {"fixed (300/100/3000)": FIXED, "scaled (B/10, B/30, B)": {**scaled,
            "time_scale": float(budget)}}  # fmt: skip


def stop_within(run: dict[str, Any], options: dict[str, Any], budget: int) -> dict[str, Any]:
    """Where OSC with ``options`` stops the recorded run within ``budget`` steps."""
    trace = run["criteria"]["osc"]["trace"]
    steps, scores = replay_scores(trace["steps"], trace["coefficients"], **options)
    probe = OrthogonalStopping(**options)
    spacing = trace["steps"][1] - trace["steps"][0]
    k, h = probe.samples(spacing)
    lag = (k + h) * spacing  # a score is known this many steps after the step it belongs to
    stop, _, confirmed = replay_stop(
        steps, scores, probe.default_patience, lower_is_better=False, end=budget - lag
    )
    stop = min(stop, budget)
    best, _ = history_peak(run["history"], budget)
    psnr = float(record_at(run["history"], stop)["psnr"])
    return {
        "stop": stop,
        "confirmed": confirmed,
        "psnr": psnr,
        "accuracy": psnr / best,
        "at_first_score": bool(steps) and stop == steps[0],
    }


def table(runs: list[dict[str, Any]], budgets: list[int]) -> list[dict[str, Any]]:
    """One row per (budget, rule): accuracy over the OSC runs with a stored curve."""
    usable = [
        r for r in runs if r["job"]["kind"] == "osc" and "trace" in r["criteria"].get("osc", {})
    ]
    rows = []
    for budget in budgets:
        within = [r for r in usable if r["history"][-1]["step"] >= budget]
        for name, options in rules(budget).items():
            stops = [stop_within(r, options, budget) for r in within]
            accuracy = [s["accuracy"] for s in stops]
            rows.append(
                {
                    "budget": budget,
                    "rule": name,
                    "options": options,
                    "runs": len(stops),
                    "above_95": sum(a > 0.95 for a in accuracy),
                    "mean_accuracy": float(np.mean(accuracy)) if stops else None,
                    "confirmed": sum(s["confirmed"] for s in stops),
                    "first_step_stops": sum(s["at_first_score"] for s in stops),
                    "stops": stops,
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]], folder: Path) -> str:
    out = [
        "# OSC's window against the run's length",
        "",
        f"- the OSC runs of `{folder}/` with a stored projection curve, replayed "
        "(`autodip.stopping.osc.replay_scores`) under each rule and cut at each budget",
        "- accuracy: PSNR at the stop / the best PSNR of the run within the budget (the OSC "
        "paper's measure; it reports > 95 % in 38 of 40 runs)",
        "",
        "| budget | rule | runs | > 95 % | mean accuracy | confirmed "
        "| stopped at its first score |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mean = "–" if r["mean_accuracy"] is None else f"{100 * r['mean_accuracy']:.1f} %"
        out.append(
            f"| {r['budget']} | {r['rule']} | {r['runs']} | {r['above_95']} | {mean} | "
            f"{r['confirmed']} | {r['first_step_stops']} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--budget", type=int, nargs="+", default=[1500, 3000, 4500])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/osc_window.md"))
    args = parser.parse_args()
    rows = table(load_runs(args.runs), args.budget)
    write_report(args.out, markdown(rows, args.runs), rows, provenance())
    print(f"wrote {args.out} ({max((r['runs'] for r in rows), default=0)} OSC runs with a curve)")


if __name__ == "__main__":
    main()
