"""The default ensemble size by the project's rule, over every σ measured → ``ensemble_default.md``.

:mod:`ensemble` writes one report per σ (``ensemble-w64-s15.json``, ``ensemble-w64.json`` at
σ = 25, ``ensemble-w64-s50.json``: width-64 members, the 256² default network). A default is one
setting for every image, so this script applies the rule (:func:`ensemble.rule_pick`: of the K
within 0.1 dB of the best mean PSNR, the most dB gained over the noisy input per second) to the
rows of all of them together, per kind, over the K that every σ has for every image; and, beside
it, per σ over every K that σ has. For each K it gives the mean PSNR, the gain over K = 1 on the
same images and the time as a multiple of K = 1's, so the cost of what the rule picks is in the
same table. Nothing is run: it reads the reports.

Usage::

    python benchmarks/ensemble_default.py
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from autodip.bench.provenance import provenance, write_report
from ensemble import KINDS, rule_pick

RESULTS = Path("benchmarks/results")
#: The per-σ reports of width-64 members, in σ order.
REPORTS = ("ensemble-w64-s15.json", "ensemble-w64.json", "ensemble-w64-s50.json")

Rows = list[dict[str, Any]]


def load(paths: list[Path]) -> Rows:
    """Every row of the reports (each row names its image, σ, kind and K)."""
    return [row for path in paths for row in json.loads(path.read_text())["rows"]]


def complete_groups(rows: Rows, kind: str) -> dict[int, Rows]:
    """The kind's rows by K, keeping only the K that have every (σ, image) the kind has at K = 1,
    so that every K is averaged over the same images."""
    cells = {(r["sigma"], r["image"]) for r in rows if r["kind"] == kind and r["k"] == 1}
    groups: dict[int, Rows] = {}
    for r in rows:
        if r["kind"] == kind:
            groups.setdefault(r["k"], []).append(r)
    return {
        k: group
        for k, group in groups.items()
        if {(r["sigma"], r["image"]) for r in group} == cells and len(group) == len(cells)
    }


def table(groups: dict[int, Rows], chosen: int, rates: dict[int, float]) -> list[str]:
    """Mean PSNR, gain over K = 1, time as a multiple of K = 1's and the rule's rate, per K,
    with the rule's choice (:func:`ensemble.rule_pick`'s ``chosen`` and ``rates``) marked."""
    one = groups[1]
    seconds_one = statistics.mean(r["seconds"] for r in one)
    psnr_one = statistics.mean(r["psnr"] for r in one)
    lines = []
    for k in sorted(groups):
        group = groups[k]
        psnr = statistics.mean(r["psnr"] for r in group)
        seconds = statistics.mean(r["seconds"] for r in group)
        lines.append(
            f"{k} | {len(group)} | {psnr:.2f} | {psnr - psnr_one:+.2f} | {seconds:.0f} | "
            f"{seconds / seconds_one:.2f}× | {rates[k] * 60:.2f} | "
            f"{'**chosen**' if k == chosen else ''} |"
        )
    return lines


def analyse(rows: Rows) -> tuple[list[str], list[dict[str, Any]]]:
    """The Markdown tables and the choices as data: pooled over σ, then per σ."""
    header = [
        "| scope | kind | K | rows | mean PSNR | gain over K = 1 | mean seconds | time vs K = 1 "
        "| dB/min (rule) | rule |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines, choices = list(header), []
    sigmas = sorted({r["sigma"] for r in rows})
    scopes = [("every σ", rows)] + [
        (f"σ = {s:g}", [r for r in rows if r["sigma"] == s]) for s in sigmas
    ]
    for scope, subset in scopes:
        for kind in KINDS:
            groups = complete_groups(subset, kind)
            if len(groups) < 2:
                continue
            chosen, rates = rule_pick(groups)
            choices.append({"scope": scope, "kind": kind, "ks": sorted(groups), "chosen": chosen})
            lines += [f"| {scope} | {kind} | {line}" for line in table(groups, chosen, rates)]
    return lines, choices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, nargs="+", default=[RESULTS / r for r in REPORTS])
    parser.add_argument("--out", type=Path, default=RESULTS / "ensemble_default.md")
    args = parser.parse_args()
    rows = load(args.reports)
    lines, choices = analyse(rows)
    text = [
        "# The default ensemble size by the project's rule",
        "",
        "- reports: " + ", ".join(f"`{path.name}`" for path in args.reports),
        "- rule: of the K within 0.1 dB of the best mean PSNR, the one gaining the most dB over "
        "the noisy input per second (`ensemble.rule_pick`); *every σ* pools the rows of all "
        "the reports and keeps the K that each σ has for each image",
        "",
        *lines,
        "",
    ]
    write_report(args.out, "\n".join(text), {"choices": choices}, provenance())


if __name__ == "__main__":
    main()
