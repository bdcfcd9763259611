r"""OSC's window against the run's length, replayed on recorded curves → ``osc_window.md``.

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

The same runs are ``sure``'s with OSC's std 1/25 (:mod:`autodip.stopping.sure`: the same
objective, the same pseudo-noise draw, so the same trajectory; ``sure``'s own default std is
smaller, ``sure_std.md``): its score, Stein's unbiased risk estimate
:math:`r_t - \hat\sigma^2 + 2\hat\sigma^2 c_t`, is rebuilt from the recorded residuals and
projection curve with σ̂ from the shipped estimator (:func:`autodip.bench.restimate.restimated`),
and stopped by the shared rule (S = 300) within each budget, and under the shipped policy
(1500 steps, adaptive to 4500, the confirmation gate) by
:func:`autodip.bench.adaptive.replay_adaptive`, as ``autodip denoise --stop sure`` would run.

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
from autodip.bench.adaptive import replay_adaptive
from autodip.bench.analyse import history_peak, record_at, replay_stop
from autodip.bench.provenance import provenance, write_report
from autodip.bench.restimate import restimated
from autodip.defaults import TASK_DEFAULTS
from autodip.stopping.osc import OrthogonalStopping, replay_scores
from autodip.stopping.sure import SteinRisk, sure_scores
from guard import load_runs

#: ``sure``'s rows: with OSC's pseudo-noise (std 1/25, not sure's default), its own patience.
SURE = "sure (s = 10.2/255, S = 300)"
#: The shipped budget policy for denoising: nominal steps and the adaptive cap.
NOMINAL = TASK_DEFAULTS["denoise"].iters
CAP = 3 * NOMINAL

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
        "peak": best,
        "accuracy": psnr / best,
        "at_first_score": bool(steps) and stop == steps[0],
    }


def with_sure(run: dict[str, Any]) -> dict[str, Any]:
    """An OSC run with σ̂ from the shipped estimator and the scores ``sure`` gives its
    trajectory (``criteria.sure``), from its residuals and projection curve.
    """
    run = restimated(run) if run.get("sigma_method") is None else dict(run)
    trace = run["criteria"]["osc"]["trace"]
    residual = {h["step"]: h["residual"] for h in run["history"]}
    steps = [s for s in trace["steps"] if s in residual]
    coefficients = dict(zip(trace["steps"], trace["coefficients"], strict=True))
    scores = sure_scores([residual[s] for s in steps], [coefficients[s] for s in steps],
                         run["sigma_hat"])  # fmt: skip
    record = {"steps": steps, "scores": scores, "lower_is_better": SteinRisk.lower_is_better}
    run["criteria"] = {**run["criteria"], "sure": record}
    return run


def sure_within(run: dict[str, Any], budget: int) -> dict[str, Any]:
    """Where ``sure``'s rule stops the recorded run within ``budget`` steps (no gate)."""
    record = run["criteria"]["sure"]
    stop, _, confirmed = replay_stop(
        record["steps"], record["scores"], SteinRisk.default_patience, end=budget
    )
    return _outcome(run, stop, confirmed, budget)


def sure_shipped(run: dict[str, Any]) -> dict[str, Any]:
    """``autodip denoise --stop sure``: the shipped adaptive budget and confirmation gate."""
    replay = replay_adaptive(run, "sure", SteinRisk.default_patience, NOMINAL, CAP)
    return {**_outcome(run, replay.stop, replay.confirmed, CAP), "halt": replay.halt}


def _outcome(run: dict[str, Any], stop: int, confirmed: bool, budget: int) -> dict[str, Any]:
    best, best_step = history_peak(run["history"], budget)
    psnr = float(record_at(run["history"], stop)["psnr"])
    return {
        "image": run["job"]["image"],
        "sigma": run["job"]["level"],
        "sigma_hat": run["sigma_hat"],
        "peak_step": best_step,
        "peak": best,
        "stop": stop,
        "confirmed": confirmed,
        "psnr": psnr,
        "accuracy": psnr / best,
        "at_first_score": False,
    }


def summary_row(budget: int | str, rule: str, stops: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of the table: how a rule's stops compare with their runs' peaks."""
    accuracy = [s["accuracy"] for s in stops]
    return {
        "budget": budget,
        "rule": rule,
        "runs": len(stops),
        "above_95": sum(a > 0.95 for a in accuracy),
        "mean_accuracy": float(np.mean(accuracy)) if stops else None,
        "mean_gap_db": float(np.mean([s["peak"] - s["psnr"] for s in stops])) if stops else None,
        "confirmed": sum(s["confirmed"] for s in stops),
        "first_step_stops": sum(s["at_first_score"] for s in stops),
        "stops": stops,
    }


def table(runs: list[dict[str, Any]], budgets: list[int]) -> list[dict[str, Any]]:
    """One row per (budget, rule): accuracy over the OSC runs with a stored curve, OSC's windows
    and ``sure``'s score on the same trajectories; then ``sure`` under the shipped policy.
    """
    usable = [
        r for r in runs if r["job"]["kind"] == "osc" and "trace" in r["criteria"].get("osc", {})
    ]
    sure = [with_sure(r) for r in usable]
    rows = []
    for budget in budgets:
        within = [r for r in usable if r["history"][-1]["step"] >= budget]
        for name, options in rules(budget).items():
            stops = [stop_within(r, options, budget) for r in within]
            rows.append({**summary_row(budget, name, stops), "options": options})
        stops = [sure_within(r, budget) for r in sure if r["history"][-1]["step"] >= budget]
        rows.append(summary_row(budget, SURE, stops))
    shipped = [sure_shipped(r) for r in sure if r["history"][-1]["step"] >= CAP]
    rows.append(summary_row(f"{NOMINAL} → {CAP}", f"{SURE}, shipped policy", shipped))
    return rows


def price_rows(runs: list[dict[str, Any]], shipped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per OSC run: the plain run's peak on the same crop (no pseudo-noise), CIFS's PSNR on it
    under the shipped policy, and ``sure``'s under the shipped policy on the OSC run.
    """
    plain = {
        (r["job"]["image"], r["job"]["level"]): r
        for r in runs
        if r["job"]["kind"] == "dip" and r["job"]["network"] == "hourglass-w64"
    }
    rows = []
    for stop in shipped:
        run = plain.get((stop["image"], stop["sigma"]))
        if run is None or run["history"][-1]["step"] < CAP:
            continue
        run = restimated(run) if run.get("sigma_method") is None else run
        default = replay_adaptive(run, "cifs", TASK_DEFAULTS["denoise"].patience, NOMINAL, CAP)
        rows.append({
            "image": stop["image"], "sigma": stop["sigma"],
            "plain_peak": history_peak(run["history"], CAP)[0], "default": default.psnr,
            "osc_peak": stop["peak"], "sure": stop["psnr"],
        })  # fmt: skip
    return rows


def markdown(rows: list[dict[str, Any]], prices: list[dict[str, Any]], folder: Path) -> str:
    out = [
        "# OSC's window against the run's length",
        "",
        f"- the OSC runs of `{folder}/` with a stored projection curve, replayed "
        "(`autodip.stopping.osc.replay_scores`) under each rule and cut at each budget",
        "- accuracy: PSNR at the stop / the best PSNR of the run within the budget (the OSC "
        "paper's measure; it reports > 95 % in 38 of 40 runs)",
        "",
        f"- `{SURE}`: Stein's unbiased risk estimate r − σ̂² + 2σ̂²·c on the same runs "
        "(`autodip.stopping.sure` with OSC's std 1/25, so that these runs are its runs; its "
        "default std is 3/255), rebuilt from their residuals and projection curves, σ̂ from "
        "the shipped estimator; *shipped policy*: as `autodip denoise --stop sure` runs "
        f"({NOMINAL} steps, adaptive to {CAP}, the confirmation gate), accuracy against the "
        f"best PSNR within {CAP} steps",
        "",
        "| budget | rule | runs | > 95 % | mean accuracy | mean gap to the peak (dB) | confirmed "
        "| stopped at its first score |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mean = "–" if r["mean_accuracy"] is None else f"{100 * r['mean_accuracy']:.1f} %"
        gap = "–" if r["mean_gap_db"] is None else f"{r['mean_gap_db']:.2f}"
        out.append(
            f"| {r['budget']} | {r['rule']} | {r['runs']} | {r['above_95']} | {mean} | {gap} | "
            f"{r['confirmed']} | {r['first_step_stops']} |"
        )
    shipped = rows[-1]["stops"]
    out += [
        "",
        "## The pseudo-noise's price",
        "",
        "The plain run on the same crop (no pseudo-noise; width 64 like the OSC runs — the "
        "default network but at σ̂ ≥ 35, where it is width 32 —, recorded to "
        f"{CAP} steps) against the OSC runs (fitting y + p, p of std 1/25): mean over the runs "
        "of each σ.",
        "",
        "| σ | runs | plain run's peak | CIFS, shipped policy, on it | OSC run's peak "
        f"| {SURE}, shipped policy |",
        "|---|---|---|---|---|---|",
    ]
    for sigma in sorted({p["sigma"] for p in prices}):
        group = [p for p in prices if p["sigma"] == sigma]
        mean = {k: float(np.mean([p[k] for p in group]))
                for k in ("plain_peak", "default", "osc_peak", "sure")}  # fmt: skip
        out.append(
            f"| {sigma:g} | {len(group)} | {mean['plain_peak']:.2f} | {mean['default']:.2f} | "
            f"{mean['osc_peak']:.2f} | {mean['sure']:.2f} |"
        )
    out += [
        "",
        f"## {SURE} under the shipped policy, per run",
        "",
        "| image | σ | σ̂ | peak step | peak PSNR | stop | PSNR at the stop | accuracy "
        "| confirmed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sorted(shipped, key=lambda s: (s["sigma"], s["image"])):
        out.append(
            f"| {s['image']} | {s['sigma']:g} | {s['sigma_hat']:.1f} | {s['peak_step']} | "
            f"{s['peak']:.2f} | {s['stop']} | {s['psnr']:.2f} | {100 * s['accuracy']:.1f} % | "
            f"{'yes' if s['confirmed'] else 'no'} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--budget", type=int, nargs="+", default=[1500, 3000, 4500])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/osc_window.md"))
    args = parser.parse_args()
    runs = load_runs(args.runs)
    rows = table(runs, args.budget)
    prices = price_rows(runs, rows[-1]["stops"])
    data = {"rows": rows, "prices": prices}
    write_report(args.out, markdown(rows, prices, args.runs), data, provenance())
    print(f"wrote {args.out} ({max((r['runs'] for r in rows), default=0)} OSC runs with a curve)")


if __name__ == "__main__":
    main()
