"""CIFS's λ at 256²: the pixel-count scaling checked on recorded runs → ``cifs_scaling.md``.

CIFS scores :math:`E_t = \\lambda\\,\\mathrm{MSE}(\\hat x_t, y) + C_t^2/(HW)` (Takagi, Ishizaki and
Maeda, ICIP 2023). Its λ table was calibrated on 128² crops and is multiplied at run time by the
ratio of the image's pixel count to the calibration's (4 at 256²), because :math:`C^2/(HW)` grows
with the pixel count while the MSE does not (:mod:`autodip.bench.calibrate`). Whether that holds
is checked here without running anything: the development sweep at 256²
(``benchmarks/sweeps/dev256.json``) recorded :math:`E_t` and the residual
:math:`\\mathrm{MSE}(\\hat x_t, y)` of the same estimate at every monitored step, so the JPEG term
is recovered exactly as :math:`C_t^2/(HW) = E_t - \\lambda_0\\,\\mathrm{MSE}_t` with the run's own
:math:`\\lambda_0` (the script checks that every recovered :math:`C_t` is a whole number of
bytes; runs recorded with another σ̂ estimator are first rescored with the shipped one,
:mod:`autodip.bench.restimate`)
and CIFS is replayed with :math:`\\lambda = m\\,\\lambda_0` for a range of multipliers ``m``:
``m = 1`` is the shipped scaling, ``m = 1/4`` no pixel scaling at all, ``m = 1/2`` a square-root
one. Each replay runs the shipped stopping policy (candidate rule with patience 300, budget 1500
extended up to 4500 by the adaptive budget; :func:`autodip.bench.adaptive.replay_adaptive`).

These are the development images (odd positions of CBSD68), not the calibration's (even
positions): this checks the scaling rule, it does not re-fit λ.

Usage::

    python benchmarks/cifs_scaling.py [--runs benchmarks/results/dev256]
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.bench.adaptive import replay_adaptive
from autodip.bench.analyse import history_peak
from autodip.bench.provenance import provenance, write_report
from autodip.bench.restimate import byte_error, jpeg_term
from autodip.defaults import ADAPTIVE_CAP, DENOISE_ITERS, DENOISE_PATIENCE
from autodip.stopping.cifs import lambda_for_image, shipped_lambda_table
from guard import current, job_size, load_runs

#: Multipliers of the shipped λ replayed: 1/4 is no pixel scaling at 256², 1/2 a square root.
MULTIPLIERS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8, 16)
NAMES = {1 / 4: "no pixel scaling", 1 / 2: "√ scaling", 1: "shipped (× pixel ratio)"}


def replays(run: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """The shipped policy's stop under each multiplier of λ, for one run."""
    height, width = job_size(run["job"])
    pixels = height * width
    lam = lambda_for_image(run["sigma_hat"], pixels, table)
    mse, term = jpeg_term(run, lam)
    cap = ADAPTIVE_CAP * DENOISE_ITERS
    peak, peak_step = history_peak([h for h in run["history"] if h["step"] <= cap])
    out = {}
    for m in MULTIPLIERS:
        variant = copy.copy(run)
        criteria = dict(run["criteria"])
        criteria["cifs"] = {**run["criteria"]["cifs"], "scores": (m * lam * mse + term).tolist()}
        variant["criteria"] = criteria
        replay = replay_adaptive(variant, "cifs", DENOISE_PATIENCE, DENOISE_ITERS, cap)
        out[f"{m:g}"] = {
            "psnr": replay.psnr,
            "stop": replay.stop,
            "halt": replay.halt,
            "confirmed": replay.confirmed,
        }
    return {
        "image": run["job"]["image"],
        "sigma": run["job"]["level"],
        "network": run["job"]["network"],
        "sigma_hat": run["sigma_hat"],
        "lam": lam,
        "byte_error": byte_error(term, pixels),
        "peak": peak,
        "peak_step": peak_step,
        "replays": out,
    }


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per network, σ and multiplier: mean PSNR, mean gap to the peak, stops confirmed."""
    groups: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["network"], r["sigma"])].append(r)
    out = []
    for (network, sigma), group in sorted(groups.items()):
        for m in MULTIPLIERS:
            key = f"{m:g}"
            got = [r["replays"][key] for r in group]
            out.append(
                {
                    "network": network,
                    "sigma": sigma,
                    "m": m,
                    "runs": len(group),
                    "psnr": float(np.mean([g["psnr"] for g in got])),
                    "gap": float(np.mean([r["peak"] - r["replays"][key]["psnr"] for r in group])),
                    "confirmed": sum(g["confirmed"] for g in got),
                    "halt": float(np.mean([g["halt"] for g in got])),
                }
            )
    return out


def best_multipliers(row: dict[str, Any], tolerance: float = 0.1) -> list[float]:
    """The multipliers whose replay is within ``tolerance`` dB of the run's best replay."""
    best = max(v["psnr"] for v in row["replays"].values())
    return [m for m in MULTIPLIERS if row["replays"][f"{m:g}"]["psnr"] >= best - tolerance]


def _m(m: float) -> str:
    return f"1/{round(1 / m)}" if m < 1 else f"{m:g}"


def markdown(data: dict[str, Any]) -> str:
    rows = data["rows"]
    worst = max((r["byte_error"] for r in rows), default=math.nan)
    folder = Path(data["runs"])
    whole = data["whole_images"]
    images = len({r["image"] for r in rows})
    sigmas = "/".join(f"{s:g}" for s in sorted({r["sigma"] for r in rows}))
    out = [
        f"# CIFS's λ {'on whole images' if whole else 'at 256²'}: does the pixel-count scaling "
        "hold?",
        "",
        f"- replays the cached runs of `{folder}/` (`autodip bench run --sweep "
        f"benchmarks/sweeps/{folder.name}.json`): {len(rows)} trajectories of 4500 steps, "
        f"{images} odd-position CBSD68 {'images, whole' if whole else 'crops'} × σ {sigmas}",
        f"- λ = m · λ₀, λ₀ the shipped λ(σ̂) × (pixels / {data['table_pixels']})"
        + ("; " if whole else " ")
        + (
            "= 4 × the table's at 256²; m = 1/4 is no pixel scaling, m = 1/2 a square-root scaling"
            if not whole
            else "at 481×321 the pixel ratio is 9.4, so no pixel scaling is m ≈ 1/9.4 (between "
            "1/16 and 1/8) and a square-root scaling m ≈ 1/3.1"
        ),
        f"- policy replayed: CIFS, patience {DENOISE_PATIENCE}, budget {DENOISE_ITERS} "
        f"adaptive up to {ADAPTIVE_CAP * DENOISE_ITERS} (what `autodip denoise` does); *peak*: "
        "the run's best PSNR within 4500 steps",
        f"- JPEG term recovered as E − λ₀·MSE: the recovered sizes are whole bytes to within "
        f"{worst:.3f} byte in every run (the recovery is exact)",
        "",
        "## Mean PSNR at the stop by multiplier",
        "",
        "Each cell: mean PSNR (dB) · mean gap to the peak · stops confirmed.",
        "",
    ]
    table = data["summary"]
    networks = sorted({s["network"] for s in table})
    head = "| network | σ | runs | " + " | ".join(f"m = {_m(m)}" for m in MULTIPLIERS) + " |"
    out += [head, "|" + "---|" * (3 + len(MULTIPLIERS))]
    for network in networks:
        for sigma in sorted({s["sigma"] for s in table if s["network"] == network}):
            cells = [s for s in table if s["network"] == network and s["sigma"] == sigma]
            best = max(c["psnr"] for c in cells)
            texts = []
            for c in cells:
                text = f"{c['psnr']:.2f} · {c['gap']:.2f} · {c['confirmed']}/{c['runs']}"
                texts.append(f"**{text}**" if c["psnr"] >= best - 1e-9 else text)
            start = f"| {network} | {sigma:g} | {cells[0]['runs']} | "
            out.append(start + " | ".join(texts) + " |")
    out += [
        "",
        "## Which multipliers each run would take (within 0.1 dB of its best replay)",
        "",
        "| network | σ | image | σ̂ | peak (step) | shipped: PSNR (stop) | best m |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["network"], r["sigma"], r["image"])):
        shipped = r["replays"]["1"]
        ms = ", ".join(_m(m) for m in best_multipliers(r))
        out.append(
            f"| {r['network']} | {r['sigma']:g} | {r['image']} | {r['sigma_hat']:.1f} | "
            f"{r['peak']:.2f} ({r['peak_step']}) | {shipped['psnr']:.2f} ({shipped['stop']}) | "
            f"{ms} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/results/dev256"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cifs_scaling.md"))
    args = parser.parse_args()
    table = shipped_lambda_table()
    if table is None:
        raise SystemExit("no CIFS λ table is installed")
    cap = ADAPTIVE_CAP * DENOISE_ITERS
    runs = [
        r
        for r in load_runs(args.runs)
        if r["job"]["kind"] == "dip"
        and "cifs" in r["criteria"]
        and "residual" in r["history"][-1]
        and r["history"][-1]["step"] >= cap
    ]
    rows = [replays(r, table) for r in current(runs)]
    data = {
        "runs": str(args.runs),
        "whole_images": any(r["job"].get("crop") is None for r in runs),
        "table_pixels": table.get("pixels"),
        "rows": rows,
        "summary": summary(rows),
    }
    write_report(args.out, markdown(data), data, provenance())
    print(f"wrote {args.out} ({len(rows)} runs)")


if __name__ == "__main__":
    main()
