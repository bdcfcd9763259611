"""The costly networks' first pass at 256² beside the default network → ``pass1.md``.

``benchmarks/sweeps/dev256-pass1.json`` runs ``hourglass-w128`` and ``dip-skip`` on the first 4
crops of the development sweep at σ = 25 (4500 steps, every criterion and the residual recorded),
before either gets the sweep's 36 runs: under the project's rule (most dB gained per second within
0.1 dB of the best mean PSNR) a network that costs 3.6–3.7× the default's time per step
(``net_costs.json``) must gain well over 0.1 dB to be worth more runs. This script sets each
pass-1 trajectory beside the default network's (``hourglass-w64``, from ``dev256/``) on the same
noisy file: the trajectory's PSNR peak, and the shipped policy replayed on it
(:func:`autodip.bench.adaptive.replay_adaptive`: CIFS with S = 300, the discrepancy principle
confirming beside it, the fit guard's adaptive budget 1500 → 4500), with CBM3D (σ̂) on the same
file. Seconds are the steps run × each network's clean CPU cost per step at 256² on one thread
(``net_costs.json``): the pass-1 runs ran on a GPU, whose seconds say nothing of a CPU's. Nothing
is trained here.

Usage, from the repository root::

    python benchmarks/pass1.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.bench.adaptive import replay_adaptive
from autodip.bench.analyse import history_peak
from autodip.bench.provenance import provenance, write_report
from autodip.defaults import ADAPTIVE_CAP, DENOISE_ITERS, DENOISE_PATIENCE, DENOISE_STOP
from guard import _key, bm3d_estimated, current, load_runs, stop_cell

RESULTS = Path("benchmarks/results")
DEFAULT = "hourglass-w64"  # the default network at 256² (σ̂ < 35)


def trajectory(run: dict[str, Any], cost: float) -> dict[str, Any]:
    """A run's peak and the shipped policy's replay on it, with CPU seconds at ``cost`` a step."""
    peak, peak_step = history_peak(run["history"])
    cap = ADAPTIVE_CAP * DENOISE_ITERS
    replay = replay_adaptive(run, DENOISE_STOP, DENOISE_PATIENCE, DENOISE_ITERS, cap)
    return {
        "network": run["job"]["network"],
        "peak": peak,
        "peak_step": peak_step,
        "psnr": replay.psnr,
        "stop": replay.stop,
        "halt": replay.halt,
        "confirmed": replay.confirmed,
        "cpu_seconds": replay.halt * cost,
        "ran_on": " ".join(
            str(run.get("placement", {}).get(k, "?")) for k in ("device", "precision")
        ),
    }


def rows(
    pass1: list[dict[str, Any]], dev256: list[dict[str, Any]], costs: dict[str, float]
) -> list[dict[str, Any]]:
    """One row per pass-1 trajectory whose crop the default network has run too."""
    bm3d = {**bm3d_estimated(dev256), **bm3d_estimated(pass1)}
    default = {
        _key(r): r for r in dev256 if r["job"]["kind"] == "dip" and r["job"]["network"] == DEFAULT
    }
    found = []
    for run in pass1:
        if run["job"]["kind"] != "dip" or _key(run) not in default:
            continue
        base = default[_key(run)]
        # the same noisy file: _key names image and degradation only, so check seed and crop too
        if (base["job"]["seed"], base["job"]["crop"]) != (run["job"]["seed"], run["job"]["crop"]):
            raise SystemExit(f"pass1: {_key(run)} ran with another seed or crop in the two folders")
        found.append(
            {
                "image": Path(run["job"]["image"]).stem,
                "sigma": run["job"]["level"],
                "noisy": run["measured_psnr"],
                "cbm3d": bm3d.get(_key(run)),
                "candidate": trajectory(run, costs[run["job"]["network"]]),
                "default": trajectory(base, costs[DEFAULT]),
            }
        )
    return sorted(found, key=lambda r: (r["candidate"]["network"], r["sigma"], r["image"]))


def markdown(found: list[dict[str, Any]]) -> list[str]:
    """The per-crop table and the per-network means."""
    lines = [
        f"| image | σ | noisy | CBM3D (σ̂) | network | peak (step) | {DEFAULT} peak (step) "
        f"| shipped policy: dB (stop / halt) | {DEFAULT}: dB (stop / halt) | difference "
        "| CPU s | CPU s, w64 | ran on |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    for r in found:
        c, d = r["candidate"], r["default"]
        bm3d = "–" if r["cbm3d"] is None else f"{r['cbm3d']:.2f}"
        lines.append(
            f"| {r['image']} | {r['sigma']:g} | {r['noisy']:.2f} | {bm3d} | {c['network']} "
            f"| {c['peak']:.2f} ({c['peak_step']}) | {d['peak']:.2f} ({d['peak_step']}) "
            f"| {stop_cell(c)} | {stop_cell(d)} | {c['psnr'] - d['psnr']:+.2f} "
            f"| {c['cpu_seconds']:.0f} | {d['cpu_seconds']:.0f} | {c['ran_on']} |"
        )
    if not found:
        return [*lines, "", "No pass-1 run is cached yet: run the sweep first."]
    mean = statistics.fmean
    lines += [
        "",
        "| network | crops | mean peak − w64's | mean PSNR at the stop − w64's | CPU time vs w64 |",
        "|---|---|---|---|---|",
    ]
    for network in sorted({r["candidate"]["network"] for r in found}):
        group = [r for r in found if r["candidate"]["network"] == network]
        peak = mean(r["candidate"]["peak"] - r["default"]["peak"] for r in group)
        stop = mean(r["candidate"]["psnr"] - r["default"]["psnr"] for r in group)
        cost = sum(r["candidate"]["cpu_seconds"] for r in group) / sum(
            r["default"]["cpu_seconds"] for r in group
        )
        lines.append(f"| {network} | {len(group)} | {peak:+.2f} | {stop:+.2f} | {cost:.2f}× |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=RESULTS / "dev256-pass1")
    parser.add_argument("--default-runs", type=Path, default=RESULTS / "dev256")
    parser.add_argument("--out", type=Path, default=RESULTS / "pass1.md")
    args = parser.parse_args()
    costs_file = Path(__file__).resolve().parent / "results" / "net_costs.json"
    costs = json.loads(costs_file.read_text())["seconds_per_step"]
    found = rows(current(load_runs(args.runs)), current(load_runs(args.default_runs)), costs)
    body = [
        "# The costly networks' first pass at 256², beside the default network",
        "",
        f"- runs: `{args.runs}` ({len(found)} trajectories), the default network's from "
        f"`{args.default_runs}` on the same noisy files",
        f"- policy: {DENOISE_STOP} with S = {DENOISE_PATIENCE}, the discrepancy principle beside "
        f"it, adaptive budget {DENOISE_ITERS} → {ADAPTIVE_CAP * DENOISE_ITERS}; CPU seconds = "
        "steps run × the network's clean cost per step at 256², one thread "
        "([`net_costs.json`](net_costs.json))",
        "",
        *markdown(found),
    ]
    path, _ = write_report(args.out, "\n".join(body), {"rows": found}, provenance())
    print(f"wrote {path} ({len(found)} trajectories)")


if __name__ == "__main__":
    main()
