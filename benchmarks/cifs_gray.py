"""CIFS's λ for gray images: the colour table against one calibrated on Set12 (issue 14, item 3).

CIFS balances ``λ·MSE`` against ``C²/(H·W)``, with ``C`` the JPEG size of the estimate. A gray JPEG
holds one plane where a colour one holds a full-resolution luma plane and two subsampled chroma
planes, so the size term, and with it the best λ, need not be the colour table's. This script
replays, on recorded gray trajectories (``autodip calibrate-cifs`` caches: MSE to the input, JPEG
size and PSNR per monitored step), the candidate rule under the colour table's λ and under a gray
table's, each interpolated at the trajectory's σ̂ and scaled to its pixel count as at run time.

The gray table is fitted on Set12's even positions; its odd positions are held out. Usage, from the
repository root (the two calibrations are resumable; the second only records the trajectories)::

    autodip calibrate-cifs --images ../shared/data/set12 --select even --sigmas 5,15,25,35,50,75 \\
        --crop 128 --patience 500 --cache benchmarks/results/cifs-gray/even \\
        -o src/autodip/data/cifs_lambda_gray.json
    autodip calibrate-cifs --images ../shared/data/set12 --select odd --sigmas 5,15,25,35,50,75 \\
        --crop 128 --patience 500 --cache benchmarks/results/cifs-gray/odd -o /tmp/odd.json
    python benchmarks/cifs_gray.py
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from autodip.bench.calibrate import psnr_at_stop
from autodip.bench.provenance import provenance, write_report
from autodip.stopping.cifs import lambda_for_image

DATA = Path(__file__).resolve().parents[1] / "src" / "autodip" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def load(folder: Path) -> list[dict[str, Any]]:
    """The recorded trajectories of a calibration cache, in file-name order."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


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
            row[name] = {"lambda": lam, "psnr": value, "stop": stop}
        out.append(row)
    return out


def markdown(data: list[dict[str, Any]], names: list[str]) -> list[str]:
    """Mean PSNR at the stop per split and σ, each table beside the peak."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = defaultdict(list)
    for r in data:
        groups[r["split"], r["sigma"]].append(r)
    header = " | ".join(f"{n}: PSNR at stop" for n in names)
    out = [
        f"| split | σ | images | mean σ̂ | {header} | gray − colour | peak |",
        "|---|---|---|---|" + "---|" * len(names) + "---|---|",
    ]
    order = sorted(groups.items(), key=lambda kv: (kv[0][0] != "held out", kv[0][1]))
    for (split, sigma), group in order:
        means = [float(np.mean([g[n]["psnr"] for g in group])) for n in names]
        out.append(
            f"| {split} | {sigma:g} | {len(group)} | "
            f"{np.mean([g['sigma_hat'] for g in group]):.1f} | "
            + " | ".join(f"{m:.2f}" for m in means)
            + f" | {means[-1] - means[0]:+.2f} | {np.mean([g['peak'] for g in group]):.2f} |"
        )
    for split in ("held out", "fitted"):
        group = [r for r in data if r["split"] == split]
        if group:
            means = [float(np.mean([g[n]["psnr"] for g in group])) for n in names]
            peak = np.mean([g["peak"] for g in group])
            out.append(
                f"| {split} | all | {len(group)} | – | "
                + " | ".join(f"**{m:.2f}**" for m in means)
                + f" | **{means[-1] - means[0]:+.2f}** | {peak:.2f} |"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=RESULTS / "cifs-gray")
    parser.add_argument("--colour", type=Path, default=DATA / "cifs_lambda.json")
    parser.add_argument("--gray", type=Path, default=DATA / "cifs_lambda_gray.json")
    parser.add_argument("--out", type=Path, default=RESULTS / "cifs_gray.md")
    args = parser.parse_args()
    tables = {
        "colour λ": json.loads(args.colour.read_text()),
        "gray λ": json.loads(args.gray.read_text()),
    }
    data = rows(load(args.runs / "odd"), tables, "held out") + rows(
        load(args.runs / "even"), tables, "fitted"
    )
    names = list(tables)
    gray = tables["gray λ"]
    lines = [
        "# CIFS's λ on gray images: the colour table against Set12's",
        "",
        f"- trajectories: `{args.runs}` (`autodip calibrate-cifs` caches; the commands are in "
        "`benchmarks/cifs_gray.py`): Set12, 128² centre crops, "
        f"{gray['made_with']['iters']} steps of the default network (width 32 at this size), "
        "noise seeded per image and σ",
        f"- gray table fitted on the even positions ({', '.join(gray['made_with']['images'])}); "
        "*held out*: the odd positions",
        "- PSNR (dB) at the stop of CIFS's candidate rule (each table's own S, no gate, no "
        "adaptive budget), λ interpolated at the trajectory's σ̂ and scaled to its pixels",
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
    path, _ = write_report(args.out, "\n".join(lines), {"rows": data}, provenance())
    print(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
