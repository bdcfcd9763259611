"""CIFS's λ for gray images: the colour table against one calibrated on Set12 (issue 14, item 3).

CIFS balances ``λ·MSE`` against ``C²/(H·W)``, with ``C`` the JPEG size of the estimate. A gray JPEG
holds one plane where a colour one holds a full-resolution luma plane and two subsampled chroma
planes, so the size term, and with it the best λ, need not be the colour table's. This script
replays, on recorded gray trajectories (``autodip calibrate-cifs`` caches: MSE to the input, JPEG
size and PSNR per monitored step), the candidate rule under the colour table's λ and under a gray
table's, each interpolated at the trajectory's σ̂ and scaled to its pixel count as at run time.

The gray λ is fitted per σ on Set12's even positions, as ``autodip calibrate-cifs`` fits it; the
odd positions are held out. Usage, from the repository root (the two recordings are resumable; the
table each writes is not used here)::

    autodip calibrate-cifs --images ../shared/data/set12 --select even --limit 4 \\
        --sigmas 25,15,50,5,35,75 --crop 128 --patience 500 --device cpu \\
        --cache benchmarks/results/cifs-gray/even -o /tmp/even.json
    autodip calibrate-cifs --images ../shared/data/set12 --select odd --limit 4 \\
        --sigmas 25,15,50 --crop 128 --patience 500 --device cpu \\
        --cache benchmarks/results/cifs-gray/odd -o /tmp/odd.json
    python benchmarks/cifs_gray.py
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from autodip.bench.adaptive import replay_adaptive
from autodip.bench.calibrate import choose_lambda, psnr_at_stop
from autodip.bench.provenance import provenance, write_report
from autodip.defaults import DENOISE_PATIENCE
from autodip.stopping.cifs import cifs_energy, lambda_for_image

DATA = Path(__file__).resolve().parents[1] / "src" / "autodip" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def load(folder: Path) -> list[dict[str, Any]]:
    """The recorded trajectories of a calibration cache, in file-name order."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def fit_table(trajectories: list[dict[str, Any]], patience: int) -> dict[str, Any]:
    """The λ(σ̂) table ``autodip calibrate-cifs`` makes from these trajectories (per nominal σ:
    :func:`~autodip.bench.calibrate.choose_lambda`), for whichever levels are recorded."""
    groups: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for t in trajectories:
        groups[t["sigma"]].append(t)
    fitted = [{"sigma": s, **choose_lambda(g, patience)} for s, g in sorted(groups.items())]
    return {
        "sigmas": [r["sigma_hat"] for r in fitted],
        "lambdas": [r["lambda"] for r in fitted],
        "pixels": int(trajectories[0]["pixels"]),
        "patience": patience,
        "rows": fitted,
        "images": sorted({t["image"] for t in trajectories}),
    }


def as_run(trajectory: dict[str, Any], lam: float) -> dict[str, Any]:
    """A calibration trajectory as a recorded bench run, with CIFS scored under ``lam`` and the
    discrepancy criterion from the residual (for denoising, the MSE to the input), so that
    :func:`~autodip.bench.adaptive.replay_adaptive` replays the shipped policy on it."""
    steps, mse = trajectory["steps"], np.asarray(trajectory["mse"], dtype=float)
    variance = (trajectory["sigma_hat"] / 255.0) ** 2
    cifs = cifs_energy(lam, mse, trajectory["size"], trajectory["pixels"])
    history = [
        {"step": s, "psnr": p, "ssim": float("nan"), "residual": float(m)}
        for s, p, m in zip(steps, trajectory["psnr"], mse, strict=True)
    ]
    return {
        "job": {"monitor_every": steps[1] - steps[0]},
        "sigma_hat": trajectory["sigma_hat"],
        "history": history,
        "iterations": steps[-1],
        "seconds": float(trajectory["seconds"]),
        "criteria": {
            "cifs": {"steps": steps, "scores": list(map(float, cifs)), "lower_is_better": True,
                     "seconds": 0.0},
            "discrepancy": {"steps": steps, "scores": list(255.0**2 * np.abs(mse - variance)),
                            "lower_is_better": True, "seconds": 0.0},
        },
    }  # fmt: skip


def shipped_policy(trajectory: dict[str, Any], lam: float) -> tuple[float, int]:
    """PSNR and step the shipped policy returns (S, the gate and the discrepancy principle
    beside CIFS), within the recorded steps as a hard budget."""
    run = as_run(trajectory, lam)
    end = trajectory["steps"][-1]
    replay = replay_adaptive(run, "cifs", DENOISE_PATIENCE, nominal=end, cap=end)
    return replay.psnr, replay.stop


def rows(
    trajectories: list[dict[str, Any]], tables: dict[str, dict[str, Any]], split: str
) -> list[dict[str, Any]]:
    """Per trajectory: the PSNR at the CIFS stop under each table's λ, and the peak."""
    out = []
    for t in trajectories:
        row: dict[str, Any] = {
            "split": split,
            "image": t["image"],
            "sigma": t["sigma"],
            "sigma_hat": t["sigma_hat"],
            "peak": max(t["psnr"]),
        }
        for name, table in tables.items():
            lam = lambda_for_image(t["sigma_hat"], t["pixels"], table)
            # the table's own S (the calibration's), as the λ was chosen for it
            value, stop = psnr_at_stop(t, lam, int(table["patience"]))
            policy, policy_stop = shipped_policy(t, lam)
            row[name] = {"lambda": lam, "psnr": value, "stop": stop, "policy_psnr": policy,
                         "policy_stop": policy_stop}  # fmt: skip
        out.append(row)
    return out


#: The columns of the table: (heading, key of a table's cell).
COLUMNS = (("candidate rule", "psnr"), ("shipped policy", "policy_psnr"))


def _cells(group: list[dict[str, Any]], names: list[str]) -> list[float]:
    """Mean PSNR of ``group`` per column, each table in turn."""
    return [float(np.mean([g[name][key] for g in group])) for _, key in COLUMNS for name in names]


def markdown(data: list[dict[str, Any]], names: list[str]) -> list[str]:
    """Mean PSNR at the stop per split and σ (and over all σ), each table beside the peak."""
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in data:
        groups[r["split"], r["sigma"]].append(r)
        groups[r["split"], "all"].append(r)
    header = " | ".join(f"{column}, {name}" for column, _ in COLUMNS for name in names)
    out = [
        f"| split | σ | images | {header} | peak |",
        "|---|---|---|" + "---|" * (len(COLUMNS) * len(names)) + "---|",
    ]
    order = sorted(groups, key=lambda k: (k[0] != "held out", k[1] == "all", str(k[1]).zfill(4)))
    for split, sigma in order:
        group = groups[split, sigma]
        cells = " | ".join(f"{m:.2f}" for m in _cells(group, names))
        peak = np.mean([g["peak"] for g in group])
        shown = sigma if sigma == "all" else f"{sigma:g}"
        out.append(f"| {split} | {shown} | {len(group)} | {cells} | {peak:.2f} |")
    return out


def shown_path(path: Path) -> str:
    """``path`` relative to the repository root where it lies inside it (reports stay portable)."""
    try:
        return str(path.resolve().relative_to(RESULTS.parents[1]))
    except ValueError:
        return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=RESULTS / "cifs-gray")
    parser.add_argument("--colour", type=Path, default=DATA / "cifs_lambda.json")
    parser.add_argument("--shipped", type=Path, default=DATA / "cifs_lambda_gray.json")
    parser.add_argument("--patience", type=int, default=500, help="the calibration's S")
    parser.add_argument("--out", type=Path, default=RESULTS / "cifs_gray.md")
    args = parser.parse_args()
    fitted_on = load(args.runs / "even")
    tables = {
        "colour λ": json.loads(args.colour.read_text()),
        "gray λ": fit_table(fitted_on, args.patience),
    }
    data = rows(load(args.runs / "odd"), tables, "held out") + rows(fitted_on, tables, "fitted")
    names = list(tables)
    gray = tables["gray λ"]
    shipped = json.loads(args.shipped.read_text()) if args.shipped.exists() else None
    same = (
        shipped is not None
        and len(shipped["lambdas"]) == len(gray["lambdas"])
        and np.allclose(shipped["lambdas"], gray["lambdas"])
        and np.allclose(shipped["sigmas"], gray["sigmas"])
    )
    if shipped is None:
        installed = "is missing: gray images take the colour table at run time"
    else:
        installed = ("is this fit" if same else "is **not** this fit") + (
            ": gray images take it at run time"
        )
    lines = [
        "# CIFS's λ on gray images: the colour table against Set12's",
        "",
        f"- trajectories: `{shown_path(args.runs)}` (`autodip calibrate-cifs` caches; the "
        "commands are in "
        "`benchmarks/cifs_gray.py`): Set12, 128² centre crops, "
        f"{fitted_on[0]['steps'][-1]} steps of the default network (width 32 at this size), "
        "noise seeded per image and σ",
        f"- gray λ per σ fitted on the even positions ({', '.join(gray['images'])}) as "
        f"`autodip calibrate-cifs` does (S = {args.patience}); *held out*: the odd positions",
        "- PSNR (dB) at the stop, λ interpolated at the trajectory's σ̂ and scaled to its "
        "pixels: *candidate rule*, CIFS's rule alone with the calibration's S (how λ is "
        f"chosen); *shipped policy*, what `autodip denoise` returns (S = {DENOISE_PATIENCE}, the "
        "confirmation gate, the discrepancy principle beside CIFS) within the recorded steps",
        f"- the gray table installed (`{shown_path(args.shipped)}`) {installed}",
        "",
        *markdown(data, names),
        "",
        "| nominal σ | mean σ̂ | colour λ | gray λ |",
        "|---|---|---|---|",
    ]
    colour = tables["colour λ"]
    for row in gray["rows"]:
        lam_colour = lambda_for_image(row["sigma_hat"], int(gray["pixels"]), colour)
        lines.append(
            f"| {row['sigma']:g} | {row['sigma_hat']:.1f} | {lam_colour:.3g} | "
            f"{row['lambda']:.3g} |"
        )
    path, _ = write_report(
        args.out, "\n".join(lines), {"gray_table": gray, "rows": data}, provenance()
    )
    print(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
