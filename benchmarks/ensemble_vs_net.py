"""The default ensemble against one run of a costlier network → ``ensemble_vs_net.md``.

At 256² ``autodip denoise`` averages :data:`~autodip.defaults.DENOISE_ENSEMBLE` runs of the
hourglass (seeds 0–3, width 64, or 32 where σ̂ ≥ 35, each stopped by the shipped policy): four
runs' time. One run of the published ``dip-skip`` costs about as much CPU as those four width-64
runs together (``net_costs.json``), so what decides whether it should be the default is not
whether one ``dip-skip`` run beats one width-64 run (``pass1.md``, ``choose256.md``) but whether
it beats the ensemble the tool ships, at the CPU time each takes. This script sets them side by
side on every (crop, σ) both have:

- the ensemble's members from ``benchmarks/ensemble.py``'s cache (``--ensemble-runs``; kind
  ``seeds``, the width ``autodip denoise`` picks on the crop): PSNR of the mean of the first
  K = 1, 2, 4 members, each member stopped online by the shipped policy;
- the network's runs from the development sweep (``--runs``, default ``dev256``): the shipped
  policy replayed on each trajectory (:func:`pass1.trajectory`: CIFS, S = 300, the discrepancy
  principle beside it, the adaptive budget 1500 → 4500);
- CPU seconds for both alike: the steps run × the network's clean cost per step at 256² on one
  thread (``net_costs.json``), since the runs' own seconds were measured beside other work;
- the project's rule over the four (:func:`ensemble.rule_pick`: of those within 0.1 dB of the
  best mean PSNR, the most dB gained over the noisy input per second), per σ and over every σ.

The two caches must hold the same noisy file for a crop: the script checks that the noisy PSNR
agrees. Nothing is run here.

Usage, from the repository root::

    python benchmarks/ensemble_vs_net.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.bench.provenance import provenance, write_report
from autodip.defaults import DENOISE_ENSEMBLE, REG_NOISE_DRAW, REG_NOISE_DRAWS
from autodip.metrics.full_reference import psnr
from ensemble import load_member, measurement, member_name, plan_for, rule_pick
from guard import _key, bm3d_estimated, current, default_network, load_runs
from pass1 import trajectory

RESULTS = Path("benchmarks/results")
SHARED_DATA = Path("../shared/data")
SIZES = (1, 2, 4)


def ensemble_row(
    cache: Path, image: Path, sigma: float, width: int, cost: float
) -> dict[str, Any] | None:
    """PSNR and CPU seconds of the seed ensembles of K = 1, 2, 4 hourglass members of ``width``
    on one crop, or ``None`` when the cache lacks a member; CPU seconds = the members' steps ×
    ``cost``. The members' perturbation draw is the tool's default (``shifted``) where the cache
    has all of them so, else ``fresh`` (the draw of every member cached before it was a
    setting; the two differ by 0.03 dB at the stop, ``perturbation.md``)."""
    for draw in (REG_NOISE_DRAW, *(d for d in REG_NOISE_DRAWS if d != REG_NOISE_DRAW)):
        names = [member_name(image, sigma, m, width, draw) for m in plan_for("seeds", max(SIZES))]
        members = [load_member(cache, name) for name in names]
        if all(found is not None for found in members):
            break
    else:
        return None
    noisy, clean = measurement(image, sigma)
    row: dict[str, Any] = {"noisy": psnr(noisy, clean), "width": width, "draw": draw}
    for k in SIZES:
        mean = np.stack([estimate for _, estimate in members[:k]]).mean(axis=0)
        steps = sum(int(record["iterations"]) for record, _ in members[:k])
        row[f"ensemble{k}"] = {"psnr": psnr(mean, clean), "cpu_seconds": steps * cost}
    return row


def rows(
    runs: list[dict[str, Any]], network: str, cache: Path, costs: dict[str, float]
) -> list[dict[str, Any]]:
    """One row per (crop, σ) that ``network`` has a sweep run of and the ensemble cache has every
    member of."""
    bm3d = bm3d_estimated(runs)
    found = []
    for run in runs:
        job = run["job"]
        if job["kind"] != "dip" or job["network"] != network or job.get("crop") != 256:
            continue
        image = SHARED_DATA / "cbsd68" / Path(job["image"]).name
        default = default_network(job, run["sigma_hat"])  # the width `autodip denoise` picks
        width = int(default.rsplit("-w", 1)[1])
        ensemble = ensemble_row(cache, image, float(job["level"]), width, costs[default])
        if ensemble is None:
            continue
        if abs(ensemble["noisy"] - run["measured_psnr"]) > 1e-3:
            raise SystemExit(
                f"ensemble_vs_net: {image.stem} σ = {job['level']} has another noisy file"
            )
        single = trajectory(run, costs[network])
        found.append(
            {
                "image": image.stem,
                "sigma": float(job["level"]),
                "cbm3d": bm3d.get(_key(run)),
                **ensemble,
                network: {"psnr": single["psnr"], "cpu_seconds": single["cpu_seconds"]},
            }
        )
    return sorted(found, key=lambda r: (r["sigma"], r["image"]))


def label(candidate: str) -> str:
    """A candidate's name in the tables.

    Examples
    --------
    >>> label("ensemble4"), label("dip-skip")
    ('hourglass ×4 (the default)', 'dip-skip ×1')
    """
    if candidate.startswith("ensemble"):
        k = int(candidate.removeprefix("ensemble"))
        return f"hourglass ×{k}" + (" (the default)" if k == DENOISE_ENSEMBLE else "")
    return f"{candidate} ×1"


def summary(found: list[dict[str, Any]], network: str) -> tuple[list[str], dict[str, Any]]:
    """Per σ and over every σ: each candidate's mean PSNR, gap to CBM3D (σ̂) and CPU seconds,
    with the rule's pick."""
    candidates = [f"ensemble{k}" for k in SIZES] + [network]
    lines = [
        "| σ | crops | candidate | mean PSNR | mean CBM3D (σ̂) | mean gap | worst gap "
        "| mean CPU s | time vs one run | dB/min (rule) | rule |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    picks = {}
    scopes = [
        (f"{s:g}", [r for r in found if r["sigma"] == s])
        for s in sorted({r["sigma"] for r in found})
    ]
    if len(scopes) > 1:
        scopes.append(("all", found))
    for scope, group in scopes:
        groups = {
            c: [
                {"psnr": r[c]["psnr"], "noisy": r["noisy"], "seconds": r[c]["cpu_seconds"]}
                for r in group
            ]
            for c in candidates
        }
        chosen, rates = rule_pick(groups)
        picks[scope] = chosen
        one = statistics.mean(r["ensemble1"]["cpu_seconds"] for r in group)
        for c in candidates:
            gaps = [r[c]["psnr"] - r["cbm3d"] for r in group if r["cbm3d"] is not None]
            seconds = statistics.mean(r[c]["cpu_seconds"] for r in group)
            psnr_mean = statistics.mean(r[c]["psnr"] for r in group)
            bm3d = statistics.mean(r["cbm3d"] for r in group if r["cbm3d"] is not None)
            mark = "**chosen**" if c == chosen else ""
            lines.append(
                f"| {scope} | {len(group)} | {label(c)} | {psnr_mean:.2f} | {bm3d:.2f} "
                f"| {statistics.mean(gaps):+.2f} | {min(gaps):+.2f} | {seconds:.0f} "
                f"| {seconds / one:.2f}× | {60 * rates[c]:.2f} | {mark} |"
            )
    return lines, picks


def per_crop(found: list[dict[str, Any]], network: str) -> list[str]:
    """Each crop's PSNR (CPU seconds) per candidate, and the network's lead over the ensemble."""
    lines = [
        f"| image | σ | noisy | CBM3D (σ̂) | width | hourglass ×1 | ×2 | ×4 (the default) "
        f"| {network} ×1 | {network} − ×4 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in found:
        cells = " | ".join(
            f"{r[c]['psnr']:.2f} ({r[c]['cpu_seconds']:.0f} s)"
            for c in ("ensemble1", "ensemble2", "ensemble4", network)
        )
        bm3d = "–" if r["cbm3d"] is None else f"{r['cbm3d']:.2f}"
        lines.append(
            f"| {r['image']} | {r['sigma']:g} | {r['noisy']:.2f} | {bm3d} | {r['width']} | {cells} "
            f"| {r[network]['psnr'] - r['ensemble4']['psnr']:+.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="dip-skip")
    parser.add_argument("--runs", type=Path, default=RESULTS / "dev256")
    parser.add_argument("--ensemble-runs", type=Path, default=RESULTS / "ensemble-runs")
    parser.add_argument("--out", type=Path, default=RESULTS / "ensemble_vs_net.md")
    args = parser.parse_args()
    costs = json.loads((RESULTS / "net_costs.json").read_text())["seconds_per_step"]
    # σ̂ and CIFS measured again (guard.current) only where they are read: the network's runs
    wanted = [
        r
        for r in load_runs(args.runs)
        if r["job"]["kind"] == "baseline" or r["job"].get("network") == args.network
    ]
    found = rows(current(wanted), args.network, args.ensemble_runs, costs)
    if not found:
        raise SystemExit("ensemble_vs_net: no crop has both the network's run and every member")
    table, picks = summary(found, args.network)
    body = [
        f"# The default ensemble (4 hourglass runs) against one `{args.network}` run at 256²",
        "",
        f"- runs: `{args.network}` from `{args.runs}` (the shipped policy replayed: CIFS, S = 300, "
        "the discrepancy principle beside it, adaptive budget 1500 → 4500); the ensemble's "
        f"members from `{args.ensemble_runs}` (`python benchmarks/ensemble.py --kinds seeds "
        "--width W --sigma S`, W the width `autodip denoise` picks there; each member stopped "
        "online by the same policy); the same noisy files",
        "- CPU seconds: steps run × each network's clean cost per step at 256², one thread "
        "([`net_costs.json`](net_costs.json)), for both",
        "- rule: of the candidates within 0.1 dB of the best mean PSNR, the most dB gained over "
        "the noisy input per second (`ensemble.rule_pick`)",
        "",
        "## Summary",
        "",
        *table,
        "",
        "## Per crop: PSNR at the stop (CPU seconds)",
        "",
        *per_crop(found, args.network),
        "",
    ]
    path, _ = write_report(args.out, "\n".join(body), {"rows": found, "picks": picks}, provenance())
    print(f"wrote {path} ({len(found)} crops)")


if __name__ == "__main__":
    main()
