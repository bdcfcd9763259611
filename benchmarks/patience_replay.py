"""CIFS's patience replayed at 256² and on whole images → ``patience_replay.md``.

Nothing is run here. The recorded trajectories of the default network (every criterion and the
residual at each monitored step) are replayed with the shipped adaptive policy
(:func:`autodip.bench.adaptive.replay_adaptive`: CIFS, the discrepancy principle confirming beside
it, budget 1500 adaptive up to the cap the defaults give each size) with the patience S of CIFS
(Takagi, Ishizaki and Maeda's "no new minimum in S steps") replaced. S = 300 ships; it was chosen
on 128² and 256² crops, where runs stop at steps 1200–2500, while whole images run 2500–7500.

Folders: ``dev256`` (the 256² development crops, 4500 steps), ``dev-full`` (4 whole images, 4500
steps) and ``full-cap`` (12 whole images, 9000 steps). A folder recorded to fewer steps than the
size's cap is replayed to what it has (said in the table). Usage::

    python benchmarks/patience_replay.py [--patiences 300 450 600 900]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from autodip.api import DEFAULT_ITERS, DEFAULT_STOP
from autodip.bench.adaptive import replay_adaptive
from autodip.bench.analyse import history_peak
from autodip.bench.provenance import provenance, write_report
from autodip.defaults import TASK_DEFAULTS
from guard import by_sigma, current, job_size, load_runs, replayable

#: The trajectories replayed, as recorded by the development sweeps.
FOLDERS = ("dev256", "dev-full", "full-cap")


def replay_group(runs: list[dict[str, Any]], patience: int) -> dict[str, Any]:
    """Mean PSNR, gap to the run's peak, halt step and confirmations of ``runs`` at ``patience``."""
    rows, capped = [], 0
    for run in runs:
        cap = TASK_DEFAULTS["denoise"].cap_for(*job_size(run["job"])) * DEFAULT_ITERS
        last = run["history"][-1]["step"]
        capped += last < cap
        done = replay_adaptive(run, DEFAULT_STOP, patience, DEFAULT_ITERS, min(cap, last))
        rows.append((done, history_peak(run["history"])[0]))
    return {
        "runs": len(rows),
        "short": capped,
        "psnr": statistics.mean(d.psnr for d, _ in rows),
        "gap": statistics.mean(peak - d.psnr for d, peak in rows),
        "halt": statistics.mean(d.halt for d, _ in rows),
        "confirmed": sum(d.confirmed for d, _ in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patiences", type=int, nargs="+", default=[300, 450, 600, 900])
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/patience_replay.md"))
    args = parser.parse_args()
    lines = [
        "# CIFS's patience replayed at 256² and on whole images",
        "",
        "Shipped policy (CIFS + discrepancy, budget 1500 adaptive up to the size's cap) on the "
        "default network's recorded runs, S replaced. *to step*: the runs recorded to fewer steps "
        "than their cap are replayed to their last step (how many). Steps are the halt step.",
        "",
        f"| folder | σ | runs | S | mean PSNR | vs S = {args.patiences[0]} | gap to peak "
        "| mean steps | confirmed "
        "| to step |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for name in FOLDERS:
        for sigma, group in by_sigma(replayable(current(load_runs(args.results / name)))).items():
            base = None
            for patience in args.patiences:
                r = {"folder": name, "sigma": sigma, "patience": patience,
                     **replay_group(group, patience)}  # fmt: skip
                base = r["psnr"] if base is None else base
                rows.append(r)
                lines.append(
                    f"| {name} | {sigma:g} | {r['runs']} | {patience} | {r['psnr']:.2f} | "
                    f"{r['psnr'] - base:+.2f} | {r['gap']:.2f} | {r['halt']:.0f} | "
                    f"{r['confirmed']} of {r['runs']} | {r['short']} short |"
                )
    write_report(args.out, "\n".join(lines) + "\n", {"rows": rows}, provenance(None))


if __name__ == "__main__":
    main()
