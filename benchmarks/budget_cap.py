"""The adaptive budget's cap replayed at several values on recorded trajectories (budget_cap.md).

Issue 14 asks whether a size-dependent budget wins. At 256² the default run's adaptive budget (1500
steps, extended by 750 while the run is not done, up to a cap of 4500) rarely reaches its cap; on
whole CBSD68 images it does: 12 of the 34 default runs in
``benchmarks/results/cbsd68_full.md`` (108070, 134035, 148089, 16077, 167062, 175043, 223061,
229036, 241048, 291000, 304074, 351093) ran to 4500 steps unconfirmed with their peak at step
4220–4500. ``benchmarks/sweeps/full-cap.json`` records those twelve whole images to 9000 steps
(every criterion and the residual on each trajectory, same noise as ``cbsd68_full.py``), and this
script replays the shipped policy on them (:func:`autodip.bench.adaptive.replay_adaptive`: CIFS
with S = 300, the discrepancy principle confirming beside it, the fit guard, nominal 1500 steps)
once per cap in ``--caps``, beside the trajectory's own peak and CBM3D with σ̂ on the same noisy
file. Nothing is trained here.

The steps a policy halts at are its cost; the seconds per step of the recorded runs are in the
rows (they depend on the machine the trajectories ran on). Usage, from the repository root::

    python benchmarks/budget_cap.py                 # benchmarks/results/full-cap, caps 4500–9000
    python benchmarks/budget_cap.py --runs benchmarks/results/dev-full --caps 1500,3000,4500 \\
        --out benchmarks/results/budget_cap-dev-full.md   # the 4500-step whole-image runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.bench.adaptive import replay_adaptive
from autodip.bench.analyse import history_peak
from autodip.bench.provenance import provenance, write_report
from autodip.defaults import DENOISE_ITERS, DENOISE_PATIENCE, DENOISE_STOP, TASK_DEFAULTS
from cbsd68_full import FORMER_CAP
from ensemble import rule_pick
from guard import _key, bm3d_estimated, current, load_runs, stop_cell

#: Issue 14's target: PSNR at the stop at least CBM3D (σ̂) − 1.0 dB.
TARGET_GAP = -1.0
#: Denoising's caps in words, e.g. ``3× (5× from 131072 pixels ≈ 362²)``.
DENOISE_CAPS = TASK_DEFAULTS["denoise"].describe_cap()
#: Issue 14's floor: no result more than this many dB under CBM3D (σ̂) (nor below its input).
FLOOR_GAP = 2.0


def rows(runs: list[dict[str, Any]], caps: list[int], network: str) -> list[dict[str, Any]]:
    """One row per recorded run of ``network`` long enough for every cap: each cap's replay."""
    bm3d = bm3d_estimated(runs)
    longest = max(caps)
    found = []
    for run in runs:
        job = run["job"]
        if job["kind"] != "dip" or job["network"] != network:
            continue
        if run["history"][-1]["step"] < longest or "residual" not in run["history"][-1]:
            continue
        peak, peak_step = history_peak(run["history"])
        replays = {
            str(cap): replay_adaptive(
                run, DENOISE_STOP, DENOISE_PATIENCE, DENOISE_ITERS, cap
            ).to_dict()
            for cap in caps
        }
        found.append(
            {
                "image": Path(job["image"]).stem,
                "sigma": job["level"],
                "noisy": run["measured_psnr"],
                "bm3d_estimated": bm3d.get(_key(run)),
                "peak": peak,
                "peak_step": peak_step,
                "recorded_steps": run["history"][-1]["step"],
                "seconds_per_step": run["seconds"] / run["iterations"],
                "placement": run.get("placement") or {},
                "replays": replays,
            }
        )
    return sorted(found, key=lambda r: (r["sigma"], r["image"]))


def markdown(found: list[dict[str, Any]], caps: list[int], runs_folder: Path) -> list[str]:
    """Per-image table and the per-cap summary."""
    header = " | ".join(f"cap {cap}: dB (stop / halt)" for cap in caps)
    lines = [
        f"- trajectories: `{runs_folder}` ({len(found)} runs recorded to ≥ {max(caps)} steps); "
        f"policy: {DENOISE_STOP} with S = {DENOISE_PATIENCE}, nominal {DENOISE_ITERS} steps, "
        f"the adaptive budget as shipped but for its cap (today {DENOISE_CAPS} × "
        f"{DENOISE_ITERS})",
        f"- recorded on: {placements(found)}; *s/step* is each recording's own clock, which "
        "costs the caps against each other (not against another machine)",
        "",
        f"| image | σ | noisy | CBM3D (σ̂) | peak (step) | {header} | s/step |",
        "|---|---|---|---|---|" + "---|" * len(caps) + "---|",
    ]
    for r in found:
        cells = " | ".join(stop_cell(r["replays"][str(cap)]) for cap in caps)
        bm3d = r["bm3d_estimated"]
        lines.append(
            f"| {r['image']} | {r['sigma']:g} | {r['noisy']:.2f} | "
            f"{'–' if bm3d is None else f'{bm3d:.2f}'} | {r['peak']:.2f} ({r['peak_step']}) | "
            f"{cells} | {r['seconds_per_step']:.3f} |"
        )
    if not found:
        return [*lines, "", "No trajectory is long enough yet: run the sweep first."]
    mean = statistics.fmean
    lines += [
        "",
        "| cap | mean PSNR | mean gap to CBM3D (σ̂) | mean gap to the peak | mean steps run | "
        "confirmed |",
        "|---|---|---|---|---|---|",
    ]
    for cap in caps:
        replays = [r["replays"][str(cap)] for r in found]
        with_bm3d = [r for r in found if r["bm3d_estimated"] is not None]
        gap = (
            mean(r["replays"][str(cap)]["psnr"] - r["bm3d_estimated"] for r in with_bm3d)
            if with_bm3d
            else None
        )
        lines.append(
            f"| {cap} | {mean(x['psnr'] for x in replays):.2f} | "
            f"{'–' if gap is None else f'{gap:+.2f}'} | "
            f"{mean(r['peak'] - r['replays'][str(cap)]['psnr'] for r in found):.2f} | "
            f"{mean(x['halt'] for x in replays):.0f} | "
            f"{sum(x['confirmed'] for x in replays)} of {len(replays)} |"
        )
    lines += ["", *rule_lines(found, caps)]
    return lines


def placements(found: list[dict[str, Any]]) -> str:
    """Where the runs ran, counted: e.g. ``cuda fp32 × 12``."""
    where = Counter(
        f"{r['placement'].get('device', '?')} {r['placement'].get('precision', '?')}" for r in found
    )
    return ", ".join(f"{name} × {count}" for name, count in sorted(where.items()))


def seconds_at(row: dict[str, Any], cap: int) -> float:
    """Seconds of the run replayed with ``cap``: its halt step at the recording's own s/step."""
    return row["replays"][str(cap)]["halt"] * row["seconds_per_step"]


def floor_misses(found: list[dict[str, Any]], cap: int) -> int:
    """The issue's floor: runs below their noisy input or more than 2 dB under CBM3D (σ̂)."""
    return sum(
        r["replays"][str(cap)]["psnr"] < r["noisy"]
        or (
            r["bm3d_estimated"] is not None
            and r["replays"][str(cap)]["psnr"] < r["bm3d_estimated"] - FLOOR_GAP
        )
        for r in found
    )


def rule_lines(found: list[dict[str, Any]], caps: list[int]) -> list[str]:
    """The project's rule with issue 14's floor over the caps: the caps that miss the floor on
    the fewest runs (:func:`floor_misses`; "unless no combination does better"), then of those
    within 0.1 dB of the best mean PSNR the most dB gained over the noisy input per second
    (:func:`ensemble.rule_pick`). Each run's seconds are its halt step at its own recorded
    s/step, so every cap is costed on the same clock."""
    misses = {cap: floor_misses(found, cap) for cap in caps}
    fewest = min(misses.values())
    groups = {
        cap: [
            {
                "psnr": r["replays"][str(cap)]["psnr"],
                "noisy": r["noisy"],
                "seconds": seconds_at(r, cap),
            }
            for r in found
        ]
        for cap in caps
        if misses[cap] == fewest
    }
    chosen, rates = rule_pick(groups)
    missed = ", ".join(f"{cap}: {misses[cap]}" for cap in caps)
    rates_text = ", ".join(f"{cap}: {rates[cap] * 1000:.2f}" for cap in rates)
    return [
        f"The floor (no run below its noisy input or more than {FLOOR_GAP:g} dB under CBM3D "
        f"(σ̂)) is missed by this many runs at each cap: {missed}. Of the caps that miss it "
        f"least, the project's rule (within 0.1 dB of the best mean PSNR, the most dB gained "
        f"over the noisy input per second; mdB/s: {rates_text}) picks **cap {chosen}**.",
    ]


def whole_rows(path: Path, found: list[dict[str, Any]], caps: list[int]) -> list[str]:
    """Every whole image of ``cbsd68_full.json`` at each cap: the runs there that halted before
    their cap are kept as they ran (a larger cap changes nothing for them); the capped ones are
    replaced by this sweep's replay of their image (so the row of the cap they ran with checks the
    replay against the runs as they ran)."""
    if not path.exists():
        return []
    ran = json.loads(path.read_text(encoding="utf-8"))["rows"]
    replayed = {r["image"]: r for r in found}
    ran_caps = Counter(r.get("cap") or FORMER_CAP for r in ran)
    mean = statistics.fmean
    lines = [
        f"## Every whole image ({path}: {len(ran)} default runs, their caps "
        + ", ".join(f"{cap} × {n}" for cap, n in sorted(ran_caps.items()))
        + ")",
        "",
        f"Each image's run as it ran, but for the {len(replayed)} above, replaced by their replay "
        "at each cap (a run that halted before the cap is the same at any larger one). "
        f"*as ran*: `{path.name}`'s own mean.",
        "",
        "| cap | mean PSNR | mean gap to CBM3D (σ̂) | more than 2 dB under | "
        "below the noisy input |",
        "|---|---|---|---|---|",
        f"| as ran | {mean(r['psnr'] for r in ran):.2f} | "
        f"{mean(r['psnr'] - r['bm3d_psnr'] for r in ran):+.2f} | "
        f"{sum(r['psnr'] - r['bm3d_psnr'] < -2 for r in ran)} | "
        f"{sum(r['psnr'] < r['noisy_psnr'] for r in ran)} |",
    ]
    short = {}
    for cap in caps:
        psnr = {}
        for r in ran:
            again = replayed.get(Path(r["image"]).stem)
            psnr[r["image"]] = r["psnr"] if again is None else again["replays"][str(cap)]["psnr"]
        gaps = [psnr[r["image"]] - r["bm3d_psnr"] for r in ran]
        short[cap] = TARGET_GAP - mean(gaps)
        lines.append(
            f"| {cap} | {mean(psnr.values()):.2f} | {mean(gaps):+.2f} | "
            f"{sum(g < -2 for g in gaps)} | "
            f"{sum(psnr[r['image']] < r['noisy_psnr'] for r in ran)} |"
        )
    return [*lines, "", _target_line(short)]


def _target_line(short: dict[int, float]) -> str:
    """Issue 14's whole-size target at each cap: met, or missed by how many dB."""
    words = [f"{cap}: " + ("met" if gap <= 0 else f"missed by {gap:.2f} dB") for cap, gap in
             short.items()]  # fmt: skip
    return f"Target: mean gap to CBM3D (σ̂) ≥ {TARGET_GAP:+.1f} dB. " + "; ".join(words) + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/results/full-cap"))
    parser.add_argument("--caps", default="4500,6000,7500,9000")
    parser.add_argument("--network", default="hourglass-w64")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/budget_cap.md"))
    parser.add_argument(
        "--whole",
        type=Path,
        default=Path("benchmarks/results/cbsd68_full.json"),
        help="the default runs on every whole image, whose capped ones these runs re-record",
    )
    args = parser.parse_args()
    caps = sorted(int(c) for c in args.caps.split(","))
    found = rows(current(load_runs(args.runs)), caps, args.network)
    body = [
        "# The adaptive budget's cap, replayed on whole-image trajectories",
        "",
        *markdown(found, caps, args.runs),
    ]
    if found:
        body += ["", *whole_rows(args.whole, found, caps)]
    path, _ = write_report(args.out, "\n".join(body), {"caps": caps, "rows": found}, provenance())
    print(f"wrote {path} ({len(found)} runs)")


if __name__ == "__main__":
    main()
