"""``sure`` against the default stop at 256² → ``sure256.md``.

Reads the ``sure`` runs of ``dev256-sure.json`` (the network fits y plus ``sure``'s pseudo-noise,
std 3/255) and, on the same crop and σ, the plain run (``dev256``'s, hard-linked into the same
folder) and BM3D with the estimated σ. Each run is replayed under the shipped policy (1500 steps,
adaptive to 4500, the confirmation gate: :func:`autodip.bench.adaptive.replay_adaptive`): ``sure``
on its own run as ``autodip denoise --stop sure --ensemble 1`` would stop it, and CIFS (with the
discrepancy principle confirming beside it) on the plain run as ``autodip denoise --ensemble 1``
would. Both use the width-64 network, the default at 256² but where σ̂ ≥ 35.

Usage (as the sweep grows; it reports the pairs that have both runs)::

    python benchmarks/sure256.py [--runs benchmarks/results/dev256-sure]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.bench.adaptive import replay_adaptive
from autodip.bench.analyse import history_peak
from autodip.bench.provenance import provenance, write_report
from autodip.defaults import TASK_DEFAULTS
from autodip.stopping.sure import DEFAULT_STD, SteinRisk
from guard import bm3d_estimated, current, load_runs

NOMINAL = TASK_DEFAULTS["denoise"].iters
CAP = 3 * NOMINAL
NETWORK = "hourglass-w64"


def pairs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (crop, σ) with both a ``sure`` run and a plain run recorded to the cap."""
    runs = current(runs)
    bm3d = bm3d_estimated(runs)

    def by_crop(kind: str) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (r["job"]["image"], r["job"]["degradation"]): r
            for r in runs
            if r["job"]["kind"] == kind
            and r["job"]["network"] == NETWORK
            and r["history"][-1]["step"] >= CAP
        }

    plain, sure = by_crop("dip"), by_crop("sure")
    rows = []
    for key in sorted(set(plain) & set(sure), key=lambda k: (sure[k]["job"]["level"], k[0])):
        own, base = sure[key], plain[key]
        stop = replay_adaptive(own, "sure", SteinRisk.default_patience, NOMINAL, CAP)
        default = replay_adaptive(base, "cifs", TASK_DEFAULTS["denoise"].patience, NOMINAL, CAP)
        rows.append({
            "image": key[0], "sigma": own["job"]["level"], "sigma_hat": own["sigma_hat"],
            "plain_peak": history_peak(base["history"], CAP)[0],
            "sure_peak": history_peak(own["history"], CAP)[0],
            "sure": stop.psnr, "sure_halt": stop.halt, "sure_confirmed": stop.confirmed,
            "default": default.psnr, "default_halt": default.halt,
            "default_confirmed": default.confirmed, "bm3d": bm3d.get(key),
        })  # fmt: skip
    return rows


def markdown(rows: list[dict[str, Any]], folder: Path) -> str:
    out = [
        "# sure against the default stop at 256²",
        "",
        f"- runs: `{folder}/` (`sure` runs with pseudo-noise std {255 * DEFAULT_STD:.0f}/255, the "
        f"plain runs and BM3D of `dev256`), `{NETWORK}`, both replayed under the shipped policy "
        f"({NOMINAL} steps, adaptive to {CAP}, the confirmation gate); *default*: CIFS with the "
        "discrepancy principle confirming beside it, on the plain run; *halt*: the step the run "
        "ends at (its cost); BM3D with the estimated σ",
        f"- {len(rows)} (crop, σ) pairs with both runs",
        "",
        "| σ | pairs | plain peak | sure's run peak (cost of p) | sure (under its peak) "
        "| default (under its peak) | sure − default | halt: sure / default "
        "| confirmed: sure / default | BM3D (σ̂) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for sigma in sorted({r["sigma"] for r in rows}):
        group = [r for r in rows if r["sigma"] == sigma]
        m = {k: float(np.mean([r[k] for r in group])) for k in (
            "plain_peak", "sure_peak", "sure", "default", "sure_halt", "default_halt")}  # fmt: skip
        bm3d = [r["bm3d"] for r in group if r["bm3d"] is not None]
        bm3d_text = f"{np.mean(bm3d):.2f}" if len(bm3d) == len(group) else "–"
        confirmed = [sum(bool(r[f"{k}_confirmed"]) for r in group) for k in ("sure", "default")]
        out.append(
            f"| {sigma:g} | {len(group)} | {m['plain_peak']:.2f} | {m['sure_peak']:.2f} "
            f"({m['plain_peak'] - m['sure_peak']:.2f}) | {m['sure']:.2f} "
            f"({m['sure_peak'] - m['sure']:.2f}) | {m['default']:.2f} "
            f"({m['plain_peak'] - m['default']:.2f}) | {m['sure'] - m['default']:+.2f} | "
            f"{m['sure_halt']:.0f} / {m['default_halt']:.0f} | "
            f"{confirmed[0]} / {confirmed[1]} | {bm3d_text} |"
        )
    out += [
        "",
        "## Rows",
        "",
        "| image | σ | σ̂ | plain peak | sure's peak | sure (halt, confirmed) "
        "| default (halt, confirmed) | BM3D (σ̂) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        bm3d = "–" if r["bm3d"] is None else f"{r['bm3d']:.2f}"
        out.append(
            f"| {r['image']} | {r['sigma']:g} | {r['sigma_hat']:.1f} | {r['plain_peak']:.2f} | "
            f"{r['sure_peak']:.2f} | {r['sure']:.2f} ({r['sure_halt']}, "
            f"{'yes' if r['sure_confirmed'] else 'no'}) | {r['default']:.2f} "
            f"({r['default_halt']}, {'yes' if r['default_confirmed'] else 'no'}) | {bm3d} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/results/dev256-sure"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sure256.md"))
    args = parser.parse_args()
    rows = pairs(load_runs(args.runs))
    write_report(args.out, markdown(rows, args.runs), rows, provenance())
    print(f"wrote {args.out} ({len(rows)} pairs)")


if __name__ == "__main__":
    main()
