"""From recorded histories to rows and tables: each criterion's stop for each patience ``S``.

For a ``dip`` run and each criterion it recorded, the shared candidate rule
(:func:`autodip.stopping.first_candidate`, the code the online stopper runs) is replayed on the
score trace with patience ``S``; the row holds the stop step, PSNR/SSIM there, the run's peak PSNR
and its step, the last iterate's PSNR, the gap to the peak, the accuracy (PSNR at the stop / peak,
seed 001's measure), seconds and iterations per second. Pseudo-criteria ``no-es`` (the last
iterate) and ``peak`` (the oracle) give seed 000's "No-ES" and "Peak" columns. Baseline runs give
one row per σ source (true, estimated).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from autodip.stopping import first_candidate

COLUMNS = [
    "image", "degradation", "kind_of_degradation", "level", "network", "seed", "criterion",
    "patience", "stop", "confirmed", "psnr", "ssim", "peak", "peak_step", "last", "gap",
    "accuracy", "seconds", "iterations_per_second", "measured_psnr",
]  # fmt: skip


def run_rows(run: dict[str, Any], patiences: list[int]) -> list[dict[str, Any]]:
    """The rows of one cached run (see the module docstring)."""
    job = run["job"]
    base = {k: job[k] for k in ("image", "degradation", "kind_of_degradation", "level", "seed")}
    base["measured_psnr"] = run.get("measured_psnr")
    if job["kind"] == "baseline":
        return [
            {
                **base,
                "network": "",
                "criterion": f"{job['baseline']} (σ {which})",
                "psnr": run[which]["psnr"],
                "ssim": run[which]["ssim"],
                "seconds": run[which]["seconds"],
                "sigma": run[which]["sigma"],
            }
            for which in ("true", "estimated")
            if which in run
        ]
    history = run["history"]
    steps = [h["step"] for h in history]
    psnrs = np.asarray([h["psnr"] for h in history])
    at = {h["step"]: h for h in history}
    best = int(psnrs.argmax())
    peak, peak_step, last = float(psnrs[best]), steps[best], float(psnrs[-1])
    base |= {
        "network": job["network"],
        "peak": peak,
        "peak_step": peak_step,
        "last": last,
        "seconds": run["seconds"],
        "iterations_per_second": run["iterations"] / run["seconds"] if run["seconds"] else None,
    }
    rows = []
    if job["kind"] == "dip":
        rows.append(
            {
                **base,
                "criterion": "no-es",
                "stop": steps[-1],
                "psnr": last,
                "ssim": history[-1]["ssim"],
                "gap": peak - last,
                "accuracy": last / peak,
            }
        )
        rows.append({**base, "criterion": "peak", "stop": peak_step, "psnr": peak,
                     "ssim": history[best]["ssim"], "gap": 0.0, "accuracy": 1.0})  # fmt: skip
    for name, trace in run["criteria"].items():
        for patience in [*patiences, None]:
            s = trace["default_patience"] if patience is None else patience
            if patience is None and s in patiences:
                continue  # the default is already among the patiences asked for
            verdict = first_candidate(trace["steps"], trace["scores"], s, trace["lower_is_better"])
            stop = verdict.best_step if verdict is not None else steps[-1]
            confirmed = bool(verdict and verdict.confirmed)
            record = (
                at.get(stop) or history[int(np.searchsorted(steps, stop).clip(0, len(steps) - 1))]
            )
            rows.append({**base, "criterion": name, "patience": s, "stop": stop,
                         "confirmed": confirmed, "psnr": record["psnr"], "ssim": record["ssim"],
                         "gap": peak - record["psnr"], "accuracy": record["psnr"] / peak,
                         "default_patience": patience is None})  # fmt: skip
    return rows


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and (population) standard deviation, ignoring missing values."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return math.nan, math.nan
    return float(np.mean(clean)), float(np.std(clean))


def table(rows: list[dict[str, Any]], patience: int, value: str = "psnr") -> str:
    """Seed 000 Table 1's layout: one row per degradation, criteria (at ``patience``) as columns,
    then No-ES, Peak and the baselines; cells are mean ± std over images and seeds.
    """
    columns: list[str] = []
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in rows:
        name = row["criterion"]
        if row.get("patience") not in (None, patience) or row.get("default_patience"):
            continue
        label = name
        if row.get("network") and len({r.get("network") for r in rows} - {""}) > 1:
            label = f"{name} [{row['network']}]"
        if label not in columns:
            columns.append(label)
        cells[row["degradation"], label].append(row.get(value))
    order = sorted(columns, key=lambda c: (c.startswith(("no-es", "peak")), "(σ" in c, c))
    degradations = sorted({r["degradation"] for r in rows}, key=_degradation_order)
    lines = [
        "| degradation | " + " | ".join(order) + " |",
        "|---|" + "---|" * len(order),
    ]
    for d in degradations:
        parts = []
        for c in order:
            m, s = mean_std(cells.get((d, c), []))
            parts.append("—" if math.isnan(m) else f"{m:.2f} ± {s:.2f}")
        lines.append(f"| {d} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def _degradation_order(label: str) -> tuple[str, float]:
    kind, _, level = label.partition(":")
    return kind, float(level)
