"""Every stopping criterion on the same trajectories: PSNR at its stop, the peak, the last iterate.

For each image (256² Set9 images and CBSD68 images at odd positions in name order, centre-cropped to
``--crop``) and each σ, two runs of the default network record at every monitored step:

* run A (plain DIP, ``--no-early-stop``): PSNR/SSIM against the clean image, the MSE of the estimate
  to the noisy input and the JPEG size (for CIFS with any λ), and the scores of ``wmv``, ``emv``,
  ``brisque``, ``niqe``;
* run B (DIP fitting ``y + p``): the OSC curvature score and the PSNR, for OSC's stop and accuracy.

Stops are found offline with the shared candidate rule (the same code the online runner uses), for
each criterion's default patience and for each ``--patience`` given. CIFS's λ comes from the shipped
table at the estimated σ̂, scaled to the crop's pixel count, exactly as the online criterion does.
Each finished run is cached, so an interrupted benchmark resumes. Usage::

    python benchmarks/stopping.py --out benchmarks/results/stopping.md
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autodip.analysis.noise_level import estimate_sigma
from autodip.api import DEFAULT_NET, denoise
from autodip.bench.analyse import history_peak, replay_stop
from autodip.bench.calibrate import CifsTrace, centre_crop, select_images
from autodip.bench.provenance import provenance, with_provenance, write_report
from autodip.io import image_to_tensor, read_image
from autodip.physics.noise import add_gaussian_noise
from autodip.stopping import list_criteria
from autodip.stopping.cifs import cifs_energy, lambda_for_image, shipped_lambda_table
from common import SHARED_DATA, cached, claim

SHARED = SHARED_DATA
SET9 = ["image_House256rgb.png", "image_F16_512rgb.png", "kodim03.png"]
MONITORED = ["wmv", "emv", "brisque", "niqe"]
CRITERIA = ["cifs", "cifs-raw", *MONITORED, "osc"]


def images(count_cbsd: int) -> list[Path]:
    return [SHARED / "set9" / n for n in SET9] + select_images(SHARED / "cbsd68", "odd", count_cbsd)


def run_a(clean: np.ndarray, noisy: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    trace = CifsTrace(image_to_tensor(noisy))
    result = denoise(
        noisy,
        iters=args.iters,
        seed=args.seed,
        reference=clean,
        stop=None,
        monitor=MONITORED,
        monitors=[trace],
        fit_options={"monitor_every": args.monitor_every},
        ensemble=1,
    )
    return {
        "history": result.history,
        "criteria": result.criteria,
        "extra": trace.as_dict(),
        "seconds": result.seconds,
        "placement": result.config["placement"],
    }


def run_b(clean: np.ndarray, noisy: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    result = denoise(
        noisy,
        iters=args.iters,
        seed=args.seed,
        reference=clean,
        stop="osc",
        patience=10**9,
        fit_options={"monitor_every": args.monitor_every},
        ensemble=1,
    )
    return {"history": result.history, "criteria": result.criteria, "seconds": result.seconds}


def stop_of(steps, scores, patience, lower_is_better, psnr_by_step) -> dict[str, Any]:
    """The shared rule's stop on a score trace of the run whose PSNR per step is given."""
    stop, _, confirmed = replay_stop(
        list(steps), list(scores), patience, lower_is_better, end=max(psnr_by_step)
    )
    return {"stop": stop, "psnr": psnr_by_step[stop], "confirmed": confirmed}


def analyse(run: dict, osc_run: dict, sigma_hat: float, patience: int | None) -> dict[str, Any]:
    psnr_a = {h["step"]: h["psnr"] for h in run["history"]}
    psnr_b = {h["step"]: h["psnr"] for h in osc_run["history"]}
    known = list_criteria()
    out: dict[str, Any] = {}
    extra = run["extra"]
    pixels = None
    table = shipped_lambda_table()
    for name in CRITERIA:
        cls = known[name]
        s = patience if patience is not None else cls.default_patience
        if name == "osc":
            record = osc_run["criteria"]["osc"]
            s = patience if patience is not None else record["window"] + record["half_length"]
            got = stop_of(record["steps"], record["scores"], s, False, psnr_b)
            peak_b, _ = history_peak(osc_run["history"])
            got.update(
                peak=peak_b,
                accuracy=got["psnr"] / peak_b,
                overhead=record["seconds"] / osc_run["seconds"],
            )
        elif name in ("cifs", "cifs-raw"):
            size = np.asarray(extra["size"], float)
            if name == "cifs":
                if table is None:
                    continue
                pixels = pixels or run["pixels"]
                lam = lambda_for_image(sigma_hat, pixels, table)
                scores = cifs_energy(lam, extra["mse"], size, pixels)
            else:
                scores = size
            got = stop_of(extra["steps"], scores, s, True, psnr_a)
            got["overhead"] = extra["seconds"] / run["seconds"]
        else:
            record = run["criteria"][name]
            got = stop_of(record["steps"], record["scores"], s, True, psnr_a)
            got["overhead"] = record["seconds"] / run["seconds"]
        got["patience"] = s
        out[name] = got
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/stopping.md"))
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/cache/stopping"))
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--iters", type=int, default=1500)
    parser.add_argument("--sigmas", default="15,25,50")
    parser.add_argument("--cbsd", type=int, default=3, help="CBSD68 images (odd positions)")
    parser.add_argument("--monitor-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patience", default="", help="extra S values to tabulate, e.g. 300,1000")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--analyse-only", action="store_true", help="use cached runs only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sigmas = [float(s) for s in args.sigmas.split(",")]
    rows = []
    for path in images(args.cbsd):
        clean = centre_crop(read_image(path)[0], args.crop)
        for sigma in sigmas:
            tag = f"{path.stem}-c{args.crop}-s{sigma:g}-i{args.iters}-m{args.monitor_every}"
            noisy = add_gaussian_noise(clean, sigma, seed=args.seed + int(sigma))
            key_a, key_b = args.cache / f"{tag}-A.json", args.cache / f"{tag}-B.json"
            finished = key_a.exists() and key_b.exists()
            if not finished and (args.analyse_only or not claim(args.cache / f"{tag}.lock")):
                continue  # not run yet, or another instance is running it
            run = cached(key_a, partial(run_a, clean, noisy, args))
            osc_run = cached(key_b, partial(run_b, clean, noisy, args))
            run["pixels"] = args.crop * args.crop
            sigma_hat = estimate_sigma(noisy)
            peak, peak_step = history_peak(run["history"])
            base = {
                "image": path.name,
                "sigma": sigma,
                "sigma_hat": sigma_hat,
                "peak": peak,
                "peak_step": peak_step,
                "last": run["history"][-1]["psnr"],
                "seconds": run["seconds"],
                "osc_seconds": osc_run["seconds"],
            }
            for s in [None] + [int(p) for p in args.patience.split(",") if p]:
                rows.append(
                    {
                        **base,
                        "S": s if s is not None else "default",
                        "criteria": analyse(run, osc_run, sigma_hat, s),
                    }
                )
            print(
                f"{path.name} σ={sigma:g}: peak {base['peak']:.2f} dB at {base['peak_step']}, "
                f"last {base['last']:.2f}",
                flush=True,
            )
    record = provenance()
    text = markdown(rows, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_report(args.out, text, rows, record)
    print(with_provenance(text, record))


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    """The report: PSNR at each criterion's stop, gaps, stop steps, overheads, OSC's accuracy."""
    names = [n for n in CRITERIA if any(n in r["criteria"] for r in rows)]
    lines = [
        "# Stopping criteria on the same trajectories",
        "",
        f"- network: `{DEFAULT_NET}` defaults",
        f"- {len({r['image'] for r in rows})} images "
        f"({', '.join(sorted({r['image'] for r in rows}))}),"
        f" {args.crop}² centre crops, {args.iters} iterations, monitored every "
        f"{args.monitor_every} steps, σ ∈ {{{args.sigmas}}}",
        "- PSNR in dB, mean ± std over images. *Peak*: best PSNR of plain DIP's run; *No-ES*: its "
        "last iterate. OSC runs on its own trajectory (fitting y + p); its *accuracy* is PSNR at "
        "its stop / the best PSNR of that run.",
        "",
    ]
    for s_label in dict.fromkeys(r["S"] for r in rows):
        subset = [r for r in rows if r["S"] == s_label]
        lines += [
            f"## Patience S = {s_label}"
            + (" (each criterion's own)" if s_label == "default" else " steps"),
            "",
        ]
        lines.append("| σ | " + " | ".join(names) + " | Peak | No-ES |")
        lines.append("|---|" + "---|" * (len(names) + 2))
        for sigma in dict.fromkeys(r["sigma"] for r in subset):
            group = [r for r in subset if r["sigma"] == sigma]
            cells = []
            for n in names:
                vals = [r["criteria"][n]["psnr"] for r in group if n in r["criteria"]]
                cells.append(f"{np.mean(vals):.2f} ± {np.std(vals):.2f}")
            peak = [r["peak"] for r in group]
            last = [r["last"] for r in group]
            lines.append(
                f"| {sigma:g} | "
                + " | ".join(cells)
                + f" | {np.mean(peak):.2f} ± {np.std(peak):.2f} | "
                f"{np.mean(last):.2f} ± {np.std(last):.2f} |"
            )
        lines += [
            "",
            "Mean gap to the peak (dB) @ mean stop step (runs where the rule confirmed the stop "
            "within the budget / runs; an unconfirmed stop is the best step so far, as online):",
            "",
            "| σ | " + " | ".join(names) + " | peak step |",
            "|---|" + "---|" * (len(names) + 1),
        ]
        for sigma in dict.fromkeys(r["sigma"] for r in subset):
            group = [r for r in subset if r["sigma"] == sigma]
            cells = []
            for n in names:
                gaps = [
                    (r["criteria"][n].get("peak", r["peak"]) - r["criteria"][n]["psnr"])
                    for r in group
                    if n in r["criteria"]
                ]
                stops = [r["criteria"][n]["stop"] for r in group if n in r["criteria"]]
                sure = sum(r["criteria"][n]["confirmed"] for r in group if n in r["criteria"])
                cells.append(f"{np.mean(gaps):.2f} @ {np.mean(stops):.0f} ({sure}/{len(stops)})")
            lines.append(
                f"| {sigma:g} | "
                + " | ".join(cells)
                + f" | {np.mean([r['peak_step'] for r in group]):.0f} |"
            )
        cells = []
        for n in names:
            got = [r["criteria"][n] for r in subset if n in r["criteria"]]
            gaps = [
                r["criteria"][n].get("peak", r["peak"]) - r["criteria"][n]["psnr"]
                for r in subset
                if n in r["criteria"]
            ]
            sure = sum(g["confirmed"] for g in got)
            cells.append(f"**{np.mean(gaps):.2f}** ({sure}/{len(got)})")
        lines.append("| all σ | " + " | ".join(cells) + " | |")
        lines.append("")
    default = [r for r in rows if r["S"] == "default"]
    if default:
        lines += [
            "## Monitoring overhead (% of run time) and OSC accuracy",
            "",
            "| criterion | overhead % |",
            "|---|---|",
        ]
        for n in names:
            vals = [
                100 * r["criteria"][n].get("overhead", float("nan"))
                for r in default
                if n in r["criteria"]
            ]
            lines.append(f"| {n} | {np.nanmean(vals):.2f} |")
        acc = [r["criteria"]["osc"]["accuracy"] for r in default if "osc" in r["criteria"]]
        if acc:
            lines += [
                "",
                f"OSC accuracy: mean {100 * np.mean(acc):.1f} %, "
                f"{sum(a > 0.95 for a in acc)} of {len(acc)} runs above 95 % "
                "(seed 001 reports 38 of 40).",
                "",
            ]
    lines += ["The σ estimator's error table: [sigma_estimator.md](sigma_estimator.md).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
