"""Write a sweep's results: rows (JSONL, CSV), the Markdown report and its plots.

``RESULTS/`` holds ``sweep.json`` (the sweep), ``runs/`` (one compressed history per job: the
cache), ``rows.jsonl`` and ``rows.csv`` (one row per run, criterion and patience), ``report.md``
(tables in the layout of Takagi et al.'s Table 1, OSC's accuracy as the OSC paper counts it, speed),
``gap_vs_level.png`` (Takagi et al.'s Fig. 3: gap to the peak against the noise level) and
``curves/`` (PSNR per step with each criterion's stop marked) and ``choices.csv`` (every
(network, criterion, patience, budget) with its mean PSNR at the stop and seconds, from which
:mod:`autodip.bench.choose` picks the defaults). Everything is rebuilt from
``runs/`` by ``autodip bench report``, for other patiences too, without running anything.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import platform
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from autodip.bench.analyse import COLUMNS, mean_std, run_rows, table

MAX_CURVE_PLOTS = 12


def write_results(
    folder: Path, sweep: dict[str, Any], runs: list[dict[str, Any]], patiences: list[int]
) -> Path:
    """Write rows, report and plots for ``runs``; return the report's path."""
    from autodip.reporting.files import _atomic_write_bytes

    folder = Path(folder)
    rows = [row for run in runs for row in run_rows(run, patiences)]
    jsonl = "".join(json.dumps(_plain(r)) + "\n" for r in rows)
    _atomic_write_bytes(folder / "rows.jsonl", jsonl.encode())
    buffer = io.StringIO()
    extra = sorted({k for r in rows for k in r} - set(COLUMNS))
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS + extra, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(_plain(r) for r in rows)
    _atomic_write_bytes(folder / "rows.csv", buffer.getvalue().encode())
    _plot_gaps(folder / "gap_vs_level.png", rows, patiences[0])
    _plot_curves(folder / "curves", runs, patiences[0])
    report = folder / "report.md"
    _atomic_write_bytes(report, _markdown(folder, sweep, runs, rows, patiences).encode())
    return report


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()
    }


def _markdown(
    folder: Path,
    sweep: dict[str, Any],
    runs: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    patiences: list[int],
) -> str:
    dip = [r for r in runs if r["job"]["kind"] != "baseline"]
    machine = dip[0]["placement"] if dip else {}
    images = sorted({r["job"]["image"] for r in runs})
    lines = [
        "# Benchmark report",
        "",
        f"- written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or '?'} "
        f"({platform.machine()}, Python {platform.python_version()}); runs on "
        f"{machine.get('device', '?')} in {machine.get('precision', '?')}",
        f"- {len(images)} images, degradations {', '.join(sweep['degradations'])}, networks "
        f"{', '.join(sweep['networks'])}, {sweep['iters']} iterations, seeds {sweep['seeds']}, "
        f"crop {sweep['crop'] or 'none'}{', gray' if sweep['gray'] else ''}",
        "- rebuild: `autodip bench report RESULTS --patience S …` (no run repeated)",
        "",
    ]
    for s in patiences:
        lines += [
            f"## PSNR (dB) at each criterion's stop, patience S = {s}",
            "",
            "Mean ± std over images and seeds; `no-es` is the last iterate, `peak` the oracle; "
            "the classical baselines follow on the same inputs: denoisers with the true and the "
            "estimated σ (`(σ true)`, `(σ estimated)`), inpainters (`telea`, `navier-stokes`, "
            "`biharmonic`) and upscalers (`bicubic`, `lanczos`).",
            "",
            table(rows, s, "psnr"),
            "",
            f"### Gap to the peak (dB), S = {s}",
            "",
            table([r for r in rows if r.get("gap") is not None], s, "gap"),
            "",
        ]
    osc = [
        r
        for r in rows
        if r["criterion"] == "osc"
        and r.get("patience") == patiences[0]
        and not r.get("default_patience")
    ]
    if osc:
        share = sum(r["accuracy"] > 0.95 for r in osc)
        total = len(osc)
        lines += [
            "## OSC accuracy (PSNR at the stop / best PSNR of the run)",
            "",
            f"At S = {patiences[0]}: {share} of {total} runs above 95 % (*Towards the Automation "
            "of Deep Image Prior*, which defines this accuracy: 38 of 40).",
            "",
        ]
    speed: dict[str, list[float]] = defaultdict(list)
    for run in dip:
        if run["seconds"]:
            speed[run["job"]["network"]].append(run["seconds"] / run["iterations"])
    if speed:
        lines += ["## Speed", "", "| network | runs | s/iteration (mean ± std) |", "|---|---|---|"]
        for network, values in sorted(speed.items()):
            m, s = mean_std(values)
            lines.append(f"| {network} | {len(values)} | {m:.4f} ± {s:.4f} |")
        lines.append("")
    lines += ["![gap against level](gap_vs_level.png)", ""]
    lines += ["## Choosing the defaults", "", _choice(folder, sweep, runs, patiences), ""]
    return "\n".join(lines)


def _choice(
    folder: Path, sweep: dict[str, Any], runs: list[dict[str, Any]], patiences: list[int]
) -> str:
    """The defaults the sweep's runs support (:mod:`autodip.bench.choose`), or why none yet.

    Every combination, over all runs and per degradation, goes to ``choices.csv``.
    """
    from autodip.bench.choose import budgets_for, markdown, replay, summarise, write_csv

    samples = replay(runs, patiences, budgets_for(int(sweep["iters"])))
    overall, split = summarise(samples), summarise(samples, by_degradation=True)
    write_csv(folder / "choices.csv", overall + split)
    try:
        return markdown(overall, per_degradation=split)
    except ValueError as error:
        return f"No choice: {error}."


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> None:
    from autodip.reporting.files import _atomic_write_bytes

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    _atomic_write_bytes(path, buffer.getvalue())


def _plot_gaps(path: Path, rows: list[dict[str, Any]], patience: int) -> None:
    """Mean gap to the peak against the degradation level, one line per criterion."""
    gaps: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get("gap") is None or r["criterion"] == "peak":
            continue
        if r.get("patience") not in (None, patience) or r.get("default_patience"):
            continue
        gaps[r["criterion"]][r["level"]].append(r["gap"])
    fig = _figure(5.5, 3.8)
    ax = fig.subplots()
    for name, by_level in sorted(gaps.items()):
        levels = sorted(by_level)
        ax.plot(levels, [np.mean(by_level[v]) for v in levels], marker="o", label=name)
    ax.set_xlabel("degradation level (σ for Gaussian noise)")
    ax.set_ylabel("mean gap to the peak PSNR (dB)")
    ax.set_title(f"gap against level (S = {patience})")
    ax.grid(alpha=0.3)
    if gaps:
        ax.legend(fontsize=8)
    _save(fig, path)


def _plot_curves(folder: Path, runs: list[dict[str, Any]], patience: int) -> None:
    """PSNR per step of the first runs, each criterion's stop as a dashed line."""
    shown = [r for r in runs if r["job"]["kind"] == "dip"][:MAX_CURVE_PLOTS]
    for run in shown:
        job = run["job"]
        fig = _figure(5.5, 3.6)
        ax = fig.subplots()
        steps = [h["step"] for h in run["history"]]
        ax.plot(steps, [h["psnr"] for h in run["history"]], color="black", label="PSNR")
        for row in run_rows(run, [patience]):
            if row["criterion"] in ("no-es",) or row.get("default_patience"):
                continue
            ax.axvline(row["stop"], linestyle="--", linewidth=1, label=row["criterion"],
                       color=None)  # fmt: skip
        ax.set_xlabel("step")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(f"{job['image']} {job['degradation']} {job['network']} (S = {patience})",
                     fontsize=9)  # fmt: skip
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        name = f"{Path(job['image']).stem}-{job['degradation'].replace(':', '')}-{job['key'][:8]}"
        _save(fig, folder / f"{name}.png")
