"""Denoising defaults from the 256² development sweep, with each network's seconds measured cleanly.

The sweep (``benchmarks/sweeps/dev256.json``, cached in ``benchmarks/results/dev256/``) ran beside
other work, so its recorded seconds mix in whatever shared the CPU (the same 4500-step run took
264 s and 5073 s). This script therefore

1. measures each swept network's seconds per step at 256² on one thread, in alternating rounds
   within one process, with nothing else running (cached in ``results/net_costs.json``: a
   network that has runs but no cost yet is measured, ``--measure`` measures all again — pause
   background jobs first);
2. rescales every cached run's seconds (its fit and its criteria alike) so that its fit costs the
   clean time per step; a run from a GPU lease (its seconds are GPU seconds) gets the clean CPU
   cost for its fit and, for each criterion, the median CPU cost of that criterion in the sweep;
3. compares the networks on the (image, σ) pairs that every one of them has run:
   - the project's rule (:mod:`autodip.bench.choose`: most dB gained per second within 0.1 dB of
     the best mean PSNR at the stop) over every criterion, patience and budget, hard or adaptive
     (a nominal budget the fit guard extends up to 3×, as the runner does);
   - the shipped policy replayed per network (CIFS, S = 300, nominal budget 1500, adaptive
     extension to 4500 with the fit guard: :func:`autodip.bench.adaptive.replay_adaptive`);
   - the floor of issue 14: no image below its noisy input, none more than 2 dB under CBM3D (σ̂).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/choose256.py   # after every sweep commit

(measuring a new network's cost takes a few minutes: keep the machine otherwise idle then).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from collections import defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np
import torch

from autodip import defaults
from autodip.bench.adaptive import replay_adaptive
from autodip.bench.analyse import step_costs
from autodip.bench.choose import adaptive_samples, budgets_for, markdown, pick, replay, summarise
from autodip.bench.provenance import provenance, write_report
from guard import bm3d_estimated, current, default_network, load_runs

RESULTS = Path(__file__).resolve().parent / "results"
SWEEP = RESULTS / "dev256"
COSTS = RESULTS / "net_costs.json"
SIZE = 256
PATIENCES = [300, 500, 1000]
NOMINALS = (1000, 1500, 2000, 3000)  # nominal budgets replayed for the adaptive policy
FLOOR_DB = 2.0  # issue 14: none more than 2 dB under CBM3D (σ̂)


def measure_costs(networks: list[str], rounds: int = 3, steps: int = 40) -> dict[str, float]:
    """Seconds per step of each network's default denoising fit at ``SIZE``², one thread.

    The networks alternate within each round so that any load hits them alike; the median of the
    rounds is kept. A step is what ``autodip.api.denoise`` does without a stopping criterion:
    forward, backward, Adam, the input perturbation and the output average.
    """
    from autodip.api import denoise

    torch.set_num_threads(1)
    noisy = np.random.default_rng(0).random((3, SIZE, SIZE), dtype=np.float32)
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for name in networks:
            spans = []
            for iters in (steps // 4, steps):
                start = time.perf_counter()
                denoise(noisy, net=name, iters=iters, stop=None, device="cpu", ensemble=1)
                spans.append(time.perf_counter() - start)
            times[name].append((spans[1] - spans[0]) / (steps - steps // 4))
    return {name: float(np.median(values)) for name, values in times.items()}


def clean_factor(run: dict[str, Any], clean: float) -> float:
    """What a CPU run's seconds are multiplied by for its fit to cost ``clean`` seconds a step."""
    base, _ = step_costs(run)
    return clean / base if base > 0 else 1.0


def rescaled(
    run: dict[str, Any], clean: float, criterion_costs: dict[str, float]
) -> dict[str, Any]:
    """``run`` with its fit's seconds per step set to ``clean`` and its criteria's costs made CPU
    costs.

    A CPU run's criteria are scaled by the same factor as its fit (whatever shared the CPU slowed
    both alike). A run from another device (a GPU lease) has GPU seconds, which say nothing of
    what its criteria cost on a CPU: each criterion is given ``criterion_costs``, its median cost
    per step over the sweep's CPU runs (a criterion scores the 256² estimate, whatever network
    made it).
    """
    on_cpu = run["placement"]["device"] == "cpu"
    factor = clean_factor(run, clean)
    out = copy.deepcopy(run)
    iterations = max(int(run["iterations"]), 1)
    for name, record in out["criteria"].items():
        if record.get("seconds") is None:
            continue
        if on_cpu:
            record["seconds"] *= factor
        else:
            record["seconds"] = criterion_costs[name] * iterations
    own = sum(float(r.get("seconds") or 0.0) for r in out["criteria"].values())
    out["seconds"] = clean * iterations + own
    return out


def cpu_criterion_costs(runs: list[dict[str, Any]], costs: dict[str, float]) -> dict[str, float]:
    """Each criterion's median seconds per step over the CPU runs, rescaled as their fits are."""
    per_step = defaultdict(list)
    for run in runs:
        if run["placement"]["device"] != "cpu":
            continue
        factor = clean_factor(run, costs[run["job"]["network"]])
        for name, cost in step_costs(run)[1].items():
            per_step[name].append(cost * factor)
    return {name: float(np.median(values)) for name, values in per_step.items()}


def pairs_run(runs: list[dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    """The (image, degradation) pairs each network in ``runs`` has run."""
    have: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for run in runs:
        have[run["job"]["network"]].add((run["job"]["image"], run["job"]["degradation"]))
    return have


def comparable(runs: list[dict[str, Any]], networks: list[str]) -> list[dict[str, Any]]:
    """The runs on the (image, degradation) pairs that every one of ``networks`` has run."""
    have = pairs_run(runs)
    common = set.intersection(*(have[n] for n in networks)) if networks else set()
    return [r for r in runs if (r["job"]["image"], r["job"]["degradation"]) in common]


def shipped_policy_rows(
    runs: list[dict[str, Any]],
    costs: dict[str, float],
    bm3d: dict[tuple[str, str], float],
    nominal: int,
    cap: int,
) -> list[dict[str, Any]]:
    """Per run: the shipped stopping policy replayed (CIFS, S = 300, the fit guard's adaptive
    budget) with a ``nominal`` budget extended up to ``cap`` steps."""
    rows = []
    for run in runs:
        job = run["job"]
        replay = replay_adaptive(run, "cifs", defaults.DENOISE_PATIENCE, nominal, cap)
        peak = max(h["psnr"] for h in run["history"])
        base, own = step_costs(run)  # the fit and CIFS's own cost, as the rule counts them
        rows.append(
            {
                "image": job["image"], "sigma": job["level"], "network": job["network"],
                "noisy": run["measured_psnr"], "cbm3d": bm3d[job["image"], job["degradation"]],
                "psnr": replay.psnr, "peak": peak, "stop": replay.stop, "halt": replay.halt,
                "confirmed": replay.confirmed, "underfitted": replay.underfitted,
                "seconds": replay.halt * (base + own["cifs"]), "nominal": nominal, "cap": cap,
            }
        )  # fmt: skip
    return rows


def default_rows(rows: list[dict[str, Any]], sigma_hat: dict[tuple[str, float], float]):
    """The rows of the network ``autodip denoise`` picks for each crop (its width rule reads the
    crop's σ̂), labelled ``default``: the shipped network and policy together."""
    chosen = []
    for row in rows:
        sigma = sigma_hat[row["image"], row["sigma"]]
        if row["network"] == default_network({"crop": SIZE}, sigma):
            chosen.append({**row, "network": "default"})
    return chosen


def policy_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """Per network and σ, and over all σ: mean PSNR, gaps, floor breaches and seconds of the
    shipped policy."""
    groups = defaultdict(list)
    for row in rows:
        groups[row["network"], row["nominal"], row["cap"], row["sigma"]].append(row)
        groups[row["network"], row["nominal"], row["cap"], math.inf].append(row)
    lines = [
        "| network | budget | σ | images | mean PSNR | mean CBM3D (σ̂) | mean gap | worst gap "
        f"| below noisy | > {FLOOR_DB:g} dB under CBM3D | gap to own peak | confirmed "
        "| mean seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (network, nominal, cap, sigma), group in sorted(groups.items()):
        gaps = [r["psnr"] - r["cbm3d"] for r in group]
        lines.append(
            f"| {network} | {nominal} → {cap} | {'all' if sigma == math.inf else f'{sigma:g}'} "
            f"| {len(group)} | "
            f"{mean(r['psnr'] for r in group):.2f} | "
            f"{mean(r['cbm3d'] for r in group):.2f} | {mean(gaps):+.2f} | {min(gaps):+.2f} | "
            f"{sum(r['psnr'] < r['noisy'] for r in group)} | "
            f"{sum(g < -FLOOR_DB for g in gaps)} | "
            f"{mean(r['peak'] - r['psnr'] for r in group):.2f} | "
            f"{sum(r['confirmed'] for r in group)}/{len(group)} | "
            f"{mean(r['seconds'] for r in group):.0f} |"
        )
    return lines


def by_coverage(runs: list[dict[str, Any]], networks: list[str]) -> tuple[list[str], list[str]]:
    """``networks`` split into those that have run every (image, degradation) pair any of them
    has run, and those still short of some: a network being swept joins the comparison once done."""
    have = pairs_run(runs)
    every = set().union(*have.values()) if have else set()
    complete = [n for n in networks if have[n] == every]
    return complete, [n for n in networks if n not in complete]


def compare(
    dip: list[dict[str, Any]],
    networks: list[str],
    costs: dict[str, float],
    criterion_costs: dict[str, float],
    bm3d: dict[tuple[str, str], float],
    sweep: dict[str, Any],
    level: int = 2,
) -> tuple[list[str], Any, list[dict[str, Any]]]:
    """The shipped policy per network and the project's rule over every combination, on the
    pairs every one of ``networks`` has run; markdown sections at heading ``level``."""
    runs = [
        rescaled(r, costs[r["job"]["network"]], criterion_costs) for r in comparable(dip, networks)
    ]
    runs = [r for r in runs if r["job"]["network"] in networks]
    pairs = len({(r["job"]["image"], r["job"]["degradation"]) for r in runs})
    candidates = summarise(
        replay(runs, PATIENCES, budgets_for(sweep["iters"]))
        + adaptive_samples(runs, PATIENCES, list(NOMINALS), defaults.ADAPTIVE_CAP)
    )
    chosen, _ = pick(candidates)
    shipped = defaults.TASK_DEFAULTS["denoise"].iters
    policy = [
        row
        for nominal in NOMINALS
        for row in shipped_policy_rows(
            runs, costs, bm3d, nominal, min(defaults.ADAPTIVE_CAP * nominal, sweep["iters"])
        )
    ]
    sigma_hat = {(r["job"]["image"], r["job"]["level"]): r["sigma_hat"] for r in runs}
    policy += default_rows(policy, sigma_hat)
    head = "#" * level
    rule = markdown(candidates)
    if level > 2:  # the rule's own sub-headings, one level down
        rule = "\n".join(
            "#" + line if line.startswith("###") else line for line in rule.splitlines()
        )
    lines = [
        f"{len(runs)} runs of {', '.join(networks)} on the {pairs} (image, σ) pairs every one of "
        "them has run.",
        "",
        f"{head} The shipped policy per network",
        "",
        f"CIFS with S = 300 and the adaptive budget of the fit guard, replayed on each trajectory: "
        f"*budget* is the nominal budget → the cap ({defaults.ADAPTIVE_CAP}× the nominal one, cut "
        f"at the {sweep['iters']} recorded steps; shipped: {shipped} → "
        f"{defaults.ADAPTIVE_CAP * shipped}); seconds = steps run × the clean cost per step "
        "of the fit and CIFS. *default*: on each crop the network `autodip denoise` picks "
        f"there ({defaults.TASK_DEFAULTS['denoise'].describe_width()}, by the crop's σ̂); "
        "*all*: every σ together.",
        "",
        *policy_markdown(policy),
        "",
        f"{head} The project's rule over every combination",
        "",
        rule,
    ]
    return lines, chosen, policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="(re)measure the clean costs")
    parser.add_argument(
        "--networks",
        nargs="+",
        help="with --measure: the networks to measure (default: the sweep's networks with runs), "
        "e.g. all of the sweep's before their runs exist, to plan it",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "choose256.md")
    args = parser.parse_args()
    if args.networks and not args.measure:
        parser.error("--networks names the networks to measure: use it with --measure")
    sweep = json.loads((SWEEP / "sweep.json").read_text())
    runs = current(load_runs(SWEEP))  # σ̂ and CIFS as today's estimator gives them
    dip = [r for r in runs if r["job"]["kind"] == "dip"]
    networks = [n for n in sweep["networks"] if any(r["job"]["network"] == n for r in dip)]
    costs = json.loads(COSTS.read_text())["seconds_per_step"] if COSTS.exists() else {}
    missing = [n for n in networks if n not in costs]
    if args.measure or missing:
        measured = (args.networks or networks) if args.measure else missing
        print(f"measuring {', '.join(measured)} (keep the CPU idle)")
        costs = {**costs, **measure_costs(measured)}
        record = provenance(threads=1, size=f"{SIZE}²", measured=", ".join(measured))
        COSTS.write_text(json.dumps({"provenance": record, "seconds_per_step": costs}, indent=1))
    bm3d = bm3d_estimated(runs)
    complete, partial = by_coverage(dip, networks)
    criterion_costs = cpu_criterion_costs(dip, costs)
    main_lines, chosen, policy = compare(dip, complete, costs, criterion_costs, bm3d, sweep)
    cost_line = ", ".join(f"{n} {1000 * costs[n]:.0f} ms" for n in networks)
    lines = [
        "# Denoising defaults from the 256² development sweep",
        "",
        f"- sweep: `benchmarks/results/dev256/`; the networks that have run every (image, σ) pair "
        f"any network has: {', '.join(complete)}"
        + (
            f"; still running: {', '.join(partial)} (each compared on its own pairs below)"
            if partial
            else ""
        ),
        f"- clean seconds per step at 256², one thread ([`net_costs.json`](net_costs.json)): "
        f"{cost_line}",
        "",
        *main_lines,
    ]
    so_far: dict[str, Any] = {}  # the partial networks' comparisons, on their own pairs
    pairs = pairs_run(dip)
    for network in partial:
        part_lines, part_chosen, part_policy = compare(
            dip, [*complete, network], costs, criterion_costs, bm3d, sweep, level=3
        )
        so_far[network] = {"chosen": part_chosen.__dict__, "policy": part_policy}
        lines += [
            "",
            f"## So far: {network} on the {len(pairs[network])} pairs it has run",
            "",
            f"{network} has not run every pair yet, so it is compared with the other networks on "
            "its own pairs only; the rule's choice above does not count it until it has run "
            "them all. Every row here is one run, while `autodip denoise` averages "
            f"{defaults.DENOISE_ENSEMBLE} runs of its network: "
            "[`ensemble_vs_net.md`](ensemble_vs_net.md) sets one run of a costlier network "
            "beside that ensemble at the same CPU time.",
            "",
            *part_lines,
        ]
    data = {"costs": costs, "chosen": chosen.__dict__, "policy": policy, "so_far": so_far}
    write_report(args.out, "\n".join(lines), data, provenance())
    print(args.out)


if __name__ == "__main__":
    main()
