"""Inpainting, ×4 super-resolution and two-stage TV denoising, at sizes that fit a 2-core CPU.

Three parts (``--part``), every run cached under ``benchmarks/cache/tasks/`` (several instances
share a sweep through lock files; ``--analyse-only`` writes the report from the cache):

``inpaint``
    The DIP paper's ``kate``, ``vase`` and ``library`` with their masks (255 = known), both
    downscaled by ``--inpaint-scale`` (area for the image, nearest for the mask). The input is
    ``image × mask``; PSNR is against the whole unmasked image. Runs: plain DIP with the default
    2-level hourglass for the full budget (the fixed-iteration result; WMV and EMV recorded on it),
    and the same network with OSC (its own run: OSC changes the objective); the classical
    inpainters of `autodip.bench.baselines` (Telea, Navier–Stokes, biharmonic) on the same input.
``sr``
    Set5 ``HR`` centre crops of ``--sr-crop`` pixels; the low-resolution input is
    ``SuperResolve(4).A(HR)`` (the operator the fit assumes, so the model matches the data; the
    shipped MATLAB-bicubic ``LR_bicubic`` files are not used). PSNR on the luma (BT.601) with a
    border of 4 removed. Runs: plain DIP (the fixed budget, DIP's 2000 steps), OSC, and the
    upscalers of `autodip.bench.baselines` as baselines: bicubic (Keys, a = −0.5, MATLAB's kernel)
    and Lanczos-3.
``tv``
    F16 and six CBSD68 images (odd positions: not the CIFS calibration images), centre
    ``--tv-crop`` crops, Gaussian σ = 25 and 50. Runs: plain DIP and two-stage TV in both
    readings (``continue``, ``retarget``) for each ``--tv-weights``, all for ``--tv-iters`` steps.
    CIFS, the default criterion, watches every run (offline, from the recorded MSE and JPEG size,
    with the shipped λ(σ̂) scaled to the crop and patience 500): peak PSNR, its step, the PSNR at
    CIFS's stop and at the end.

Usage (two cores: two single-threaded instances, then the report)::

    OMP_NUM_THREADS=1 python benchmarks/tasks.py --threads 1 &
    OMP_NUM_THREADS=1 python benchmarks/tasks.py --threads 1 &
    wait; python benchmarks/tasks.py --analyse-only --out benchmarks/results/tasks.md

The classical baselines take seconds: ``--baselines-only`` computes them alone, with the settings
saved in ``--out``'s JSON, and rewrites the report from that JSON's DIP rows (nothing rerun)::

    python benchmarks/tasks.py --baselines-only --out benchmarks/results/tasks.md
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from autodip.analysis.noise_level import estimate_sigma
from autodip.api import restore
from autodip.bench.analyse import peak, replay_stop
from autodip.bench.baselines import (
    INPAINT_BASELINES,
    SR_BASELINES,
    inpaint_baseline,
    upscale_baseline,
)
from autodip.bench.calibrate import CifsTrace, centre_crop, select_images
from autodip.bench.provenance import STANDARD, machine_summary, provenance, write_report
from autodip.core.run import FitConfig, placement_for
from autodip.io import image_to_tensor, read_image
from autodip.metrics.full_reference import psnr, psnr_y
from autodip.physics.noise import add_gaussian_noise
from autodip.physics.operators import Denoise, Inpaint, SuperResolve
from autodip.stopping.cifs import cifs_energy, lambda_for_image, shipped_lambda_table
from common import SHARED_DATA, cached, claim

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache" / "tasks"
INPAINT_IMAGES = ("kate", "vase", "library")
SET5 = ("baby", "bird", "butterfly", "head", "woman")
TV_SIGMAS = (25, 50)
CIFS_PATIENCE = 500


class LumaPsnr:
    """Run monitor: the luma PSNR (border shaved) of each monitored estimate."""

    def __init__(self, reference: np.ndarray, border: int) -> None:
        self.reference, self.border = reference, border
        self.values: list[float] = []

    def __call__(self, report: Any) -> None:
        self.values.append(psnr_y(report.estimate, self.reference, self.border))


def fit_record(image: np.ndarray, operator: Any, reference: np.ndarray, **options: Any) -> dict:
    """One run of :func:`autodip.api.restore`; its PSNR curve, stop and criteria."""
    result = restore(image, operator, reference=reference, ensemble=1, **options)
    if result.interrupted:
        raise KeyboardInterrupt
    return {
        "steps": [h["step"] for h in result.history],
        "psnr": [h["psnr"] for h in result.history],
        "stop_step": result.stop_step,
        "confirmed": result.confirmed,
        "criteria": {
            name: {k: c[k] for k in ("candidate_step", "confirmed", "patience")}
            for name, c in result.criteria.items()
        },
        "seconds": result.seconds,
        "iterations": result.iterations,
        "config": {k: result.config[k] for k in ("reg_noise_std", "tv_weight", "two_stage")},
        "stage_boundary": result.config["stage_boundary"],
    }


def at_step(run: dict, step: int | None, key: str = "psnr") -> float:
    """The recorded value of ``key`` at ``step`` (the last one when ``step`` is ``None``)."""
    if step is None:
        return run[key][-1]
    return run[key][run["steps"].index(step)]


# ---------------------------------------------------------------------------------------------
# inpainting


def inpaint_data(name: str, scale: int) -> tuple[np.ndarray, np.ndarray]:
    folder = SHARED_DATA / "dip_original" / "inpainting"
    image = Image.open(folder / f"{name}.png").convert("RGB")
    mask = Image.open(folder / f"{name}_mask.png").convert("L")
    size = (image.width // scale, image.height // scale)
    image = image.resize(size, Image.Resampling.BOX)
    mask = mask.resize(size, Image.Resampling.NEAREST)
    pixels = np.asarray(image, np.float32).transpose(2, 0, 1) / 255.0
    return pixels, (np.asarray(mask) > 127).astype(np.float32)


def inpaint_runs(args: argparse.Namespace) -> list[tuple[str, Any]]:
    jobs = []
    for name in INPAINT_IMAGES:
        clean, mask = inpaint_data(name, args.inpaint_scale)
        damaged = clean * mask
        common = {"iters": args.inpaint_iters, "seed": 0, "device": "cpu"}
        variants = {
            "plain": {"stop": None, "monitor": ["wmv", "emv"]},
            "osc": {"stop": "osc"},
        }
        for variant, options in variants.items():
            tag = f"inpaint-{name}-x{args.inpaint_scale}-{variant}-i{args.inpaint_iters}"
            make = partial(fit_record, damaged, Inpaint(mask), clean, **common, **options)
            jobs.append((tag, make))
    return jobs


def inpaint_baselines(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Image -> PSNR of each classical inpainter on the same damaged image (seconds each)."""
    out = {}
    for name in INPAINT_IMAGES:
        clean, mask = inpaint_data(name, args.inpaint_scale)
        out[name] = {b: psnr(inpaint_baseline(b, clean * mask, mask)[0], clean)
                     for b in INPAINT_BASELINES}  # fmt: skip
    return out


def inpaint_rows(args: argparse.Namespace, runs: dict[str, dict]) -> list[dict]:
    rows = []
    baselines = inpaint_baselines(args)
    for name in INPAINT_IMAGES:
        key = f"inpaint-{name}-x{args.inpaint_scale}-{{}}-i{args.inpaint_iters}"
        plain, osc = (runs.get(key.format(v)) for v in ("plain", "osc"))
        if not (plain and osc):
            continue
        clean, mask = inpaint_data(name, args.inpaint_scale)
        top, top_step = peak(plain["steps"], plain["psnr"])
        osc_top, _ = peak(osc["steps"], osc["psnr"])
        osc_psnr = at_step(osc, osc["stop_step"])
        rows.append(
            {
                "image": name,
                "size": f"{clean.shape[2]}×{clean.shape[1]}",
                "known": float(mask.mean()),
                "input": psnr(clean * mask, clean),
                **baselines[name],
                "fixed": plain["psnr"][-1],
                "peak": top,
                "peak_step": top_step,
                "osc_stop": osc["stop_step"],
                "osc_confirmed": osc["confirmed"],
                "osc_psnr": osc_psnr,
                "osc_accuracy": osc_psnr / osc_top,
                "osc_fixed": osc["psnr"][-1],
                **{
                    f"{c}_psnr": at_step(plain, plain["criteria"][c]["candidate_step"])
                    for c in ("wmv", "emv")
                },
                "seconds": plain["seconds"],
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# super-resolution


def sr_data(name: str, crop: int) -> tuple[np.ndarray, np.ndarray]:
    hr = centre_crop(read_image(SHARED_DATA / "set5" / "HR" / f"{name}.png")[0], crop)
    hr = hr[:, : hr.shape[1] // 4 * 4, : hr.shape[2] // 4 * 4]
    low = SuperResolve(4).A(torch.from_numpy(hr)[None])[0].clamp(0, 1).numpy()
    return hr, low


def sr_run(hr: np.ndarray, low: np.ndarray, stop: str | None, args: argparse.Namespace) -> dict:
    luma = LumaPsnr(hr, border=4)
    record = fit_record(
        low,
        SuperResolve(4),
        hr,
        iters=args.sr_iters,
        seed=0,
        device="cpu",
        stop=stop,
        monitors=[luma],
    )
    return {**record, "psnr_y": luma.values}


def sr_baselines(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Image -> luma PSNR (border 4) of each classical upscaler on the same LR input."""
    out = {}
    for name in SET5:
        hr, low = sr_data(name, args.sr_crop)
        out[name] = {b: psnr_y(upscale_baseline(b, low, 4)[0], hr, 4) for b in SR_BASELINES}
    return out


def sr_runs(args: argparse.Namespace) -> list[tuple[str, Any]]:
    jobs = []
    for name in SET5:
        hr, low = sr_data(name, args.sr_crop)
        for stop in (None, "osc"):
            tag = f"sr-{name}-c{args.sr_crop}-{stop or 'plain'}-i{args.sr_iters}"
            jobs.append((tag, partial(sr_run, hr, low, stop, args)))
    return jobs


def sr_rows(args: argparse.Namespace, runs: dict[str, dict]) -> list[dict]:
    rows = []
    baselines = sr_baselines(args)
    for name in SET5:
        key = f"sr-{name}-c{args.sr_crop}-{{}}-i{args.sr_iters}"
        plain, osc = runs.get(key.format("plain")), runs.get(key.format("osc"))
        if not (plain and osc):
            continue
        hr, _ = sr_data(name, args.sr_crop)
        top, top_step = peak(plain["steps"], plain["psnr_y"])
        osc_psnr = at_step(osc, osc["stop_step"], "psnr_y")
        rows.append(
            {
                "image": name,
                "size": f"{hr.shape[2]}×{hr.shape[1]}",
                **baselines[name],
                "fixed": plain["psnr_y"][-1],
                "peak": top,
                "peak_step": top_step,
                "osc_stop": osc["stop_step"],
                "osc_confirmed": osc["confirmed"],
                "osc_psnr": osc_psnr,
                "osc_accuracy": osc_psnr / peak(osc["steps"], osc["psnr_y"])[0],
                "seconds": plain["seconds"],
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# two-stage TV


def tv_images() -> list[Path]:
    f16 = SHARED_DATA / "set9" / "image_F16_512rgb.png"
    return [f16, *select_images(SHARED_DATA / "cbsd68", "odd", 6)]


def tv_variants(weights: list[float]) -> dict[str, dict[str, Any]]:
    variants: dict[str, dict[str, Any]] = {"plain": {}}
    for mode in ("continue", "retarget"):
        for w in weights:
            variants[f"{mode}-{w:g}"] = {"tv_weight": w, "two_stage": mode}
    return variants


def tv_run(clean: np.ndarray, noisy: np.ndarray, fit: dict, args: argparse.Namespace) -> dict:
    trace = CifsTrace(image_to_tensor(noisy))
    record = fit_record(
        noisy,
        Denoise(),
        clean,
        iters=args.tv_iters,
        seed=0,
        device="cpu",
        stop=None,
        monitors=[trace],
        fit_options=fit,
    )
    return {**record, "cifs": trace.as_dict(), "sigma_hat": estimate_sigma(noisy)}


def tv_runs(args: argparse.Namespace) -> list[tuple[str, Any]]:
    jobs = []
    for path in tv_images():
        clean = centre_crop(read_image(path)[0], args.tv_crop)
        for sigma in TV_SIGMAS:
            noisy = add_gaussian_noise(clean, sigma, seed=sigma)
            for variant, fit in tv_variants(args.tv_weights).items():
                tag = f"tv-{path.stem}-c{args.tv_crop}-s{sigma}-{variant}-i{args.tv_iters}"
                jobs.append((tag, partial(tv_run, clean, noisy, fit, args)))
    return jobs


def cifs_stop(run: dict, pixels: int) -> int:
    """CIFS's stop on a recorded run: λ(σ̂) from the shipped table, scaled to the pixel count."""
    table = shipped_lambda_table()
    lam = lambda_for_image(run["sigma_hat"], pixels, table)
    trace = run["cifs"]
    scores = cifs_energy(lam, trace["mse"], trace["size"], pixels)
    stop, _, _ = replay_stop(trace["steps"], list(scores), CIFS_PATIENCE)
    return stop


def tv_rows(args: argparse.Namespace, runs: dict[str, dict]) -> list[dict]:
    rows = []
    for path in tv_images():
        for sigma in TV_SIGMAS:
            for variant in tv_variants(args.tv_weights):
                run = runs.get(
                    f"tv-{path.stem}-c{args.tv_crop}-s{sigma}-{variant}-i{args.tv_iters}"
                )
                if not run:
                    continue
                top, top_step = peak(run["steps"], run["psnr"])
                stop = cifs_stop(run, args.tv_crop * args.tv_crop)
                rows.append(
                    {
                        "image": path.stem,
                        "sigma": sigma,
                        "variant": variant,
                        "peak": top,
                        "peak_step": top_step,
                        "cifs_step": stop,
                        "cifs_psnr": at_step(run, stop),
                        "final": run["psnr"][-1],
                        "boundary": run["stage_boundary"],
                    }
                )
    return rows


# ---------------------------------------------------------------------------------------------
# report


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def described(record: dict[str, Any]) -> str:
    """Command, date and machine of a provenance record, on one line."""
    if "cpu" not in record:  # a tasks.json written before autodip.bench.provenance
        command = f"python benchmarks/tasks.py {record['command']}"
        return f"`{command}`, {record['date']}, {record['machine']}"
    extras = "".join(f"; {k} {v}" for k, v in record.items() if k not in STANDARD)
    return f"`{record['command']}`, {record['date']}, {machine_summary(record)}{extras}"


def report(
    parts: dict[str, list[dict]], args: argparse.Namespace, dip: dict[str, Any] | None
) -> str:
    """The Markdown report; ``dip`` is the provenance of the DIP runs when another command than
    this one analysed them (``--baselines-only``), else ``None``.
    """
    lines = [
        "# Tasks: inpainting, super-resolution ×4, two-stage TV",
        "",
        "- DIP runs: two instances of `OMP_NUM_THREADS=1 python benchmarks/tasks.py --threads 1`, "
        f"then {'the command above' if dip is None else described(dip)}; raw rows in "
        "`tasks.json`; the protocol of each part is in the script's docstring",
        "- classical baselines (`autodip.bench.baselines`: Telea, Navier–Stokes and biharmonic "
        "inpainting; bicubic and Lanczos-3 upscaling), on the same inputs: computed by the "
        "command above, with the library versions listed there",
        "- defaults otherwise: 2-level width-64 hourglass, Adam lr 0.01, EMA 0.99, bf16 autocast, "
        "seed 0; reg-noise 0.03 (inpainting, SR), 1/30 (denoising)",
        "- seconds: wall time of each run while two or three single-threaded benchmark processes "
        "shared the 2-core CPU: indicative only (see `speed.md` for clean timings)",
        "",
    ]
    rows = parts.get("inpaint", [])
    if rows:
        lines += [
            f"## Inpainting (images and masks downscaled ×{args.inpaint_scale}, "
            f"{args.inpaint_iters} iterations; DIP used 3000–6000 at full size)",
            "",
            "PSNR (dB) against the unmasked image. *Telea*, *NS* (Navier–Stokes), *biharmonic* = "
            "the classical inpainters on the same input; *fixed* = DIP after the whole budget; "
            "*peak* = best step of the same run (oracle); *OSC* = OSC's stop on its own run "
            "(accuracy = PSNR at the stop / best PSNR of that run); WMV/EMV = their stops on the "
            "plain run. The classical inpainters return the known pixels unchanged; DIP's estimate "
            "is scored as it is returned, its known pixels fitted rather than pasted back.",
            "",
            "| image | size | known | input | Telea | NS | biharmonic | fixed | peak (step) | "
            "OSC stop | OSC PSNR | OSC accuracy | OSC run at end | WMV | EMV | s (plain) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['image']} | {r['size']} | {r['known']:.1%} | {r['input']:.2f} | "
                f"{r['telea']:.2f} | {r['navier-stokes']:.2f} | {r['biharmonic']:.2f} | "
                f"{r['fixed']:.2f} | {r['peak']:.2f} ({r['peak_step']}) | {r['osc_stop']}"
                f"{'' if r['osc_confirmed'] else '*'} | {r['osc_psnr']:.2f} | "
                f"{r['osc_accuracy']:.1%} | {r['osc_fixed']:.2f} | {r['wmv_psnr']:.2f} | "
                f"{r['emv_psnr']:.2f} | {r['seconds']:.0f} |"
            )
        lines += ["", "`*` = not confirmed before the budget ran out (best so far returned).", ""]
    rows = parts.get("sr", [])
    if rows:
        lines += [
            f"## Super-resolution ×4 on Set5 (HR centre crops ≤ {args.sr_crop}², "
            f"{args.sr_iters} iterations)",
            "",
            "Luma PSNR (dB), 4-pixel border removed. The LR input is our Lanczos-2 `A` applied to "
            "the HR crop. *bicubic* = Keys' kernel with a = −0.5 (MATLAB's `imresize`), "
            "*Lanczos* = Lanczos-3, both by Pillow in float32.",
            "",
            "| image | HR size | bicubic | Lanczos | DIP fixed | DIP peak (step) | OSC stop | "
            "OSC PSNR | OSC accuracy | s (plain) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['image']} | {r['size']} | {r['bicubic']:.2f} | {r['lanczos']:.2f} | "
                f"{r['fixed']:.2f} | "
                f"{r['peak']:.2f} ({r['peak_step']}) | {r['osc_stop']}"
                f"{'' if r['osc_confirmed'] else '*'} | {r['osc_psnr']:.2f} | "
                f"{r['osc_accuracy']:.1%} | {r['seconds']:.0f} |"
            )
        lines.append(
            f"| **mean** | | {_mean(rows, 'bicubic'):.2f} | {_mean(rows, 'lanczos'):.2f} | "
            f"{_mean(rows, 'fixed'):.2f} | "
            f"{_mean(rows, 'peak'):.2f} | | {_mean(rows, 'osc_psnr'):.2f} | "
            f"{_mean(rows, 'osc_accuracy'):.1%} | |"
        )
        lines.append("")
    rows = parts.get("tv", [])
    if rows:
        lines += [
            f"## Two-stage TV against plain DIP ({args.tv_crop}² crops of F16 and 6 CBSD68 "
            f"images, {args.tv_iters} iterations, stage 1 = first third)",
            "",
            "Mean over the 7 images. *CIFS* = PSNR at the default criterion's stop (patience "
            f"{CIFS_PATIENCE}), which watches the whole run.",
            "",
            "| σ | variant (TV λ) | peak PSNR | peak step | PSNR at CIFS stop | CIFS step | "
            "PSNR at end | peak − plain peak |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for sigma in TV_SIGMAS:
            mine = [r for r in rows if r["sigma"] == sigma]
            plain = [r for r in mine if r["variant"] == "plain"]
            for variant in tv_variants(args.tv_weights):
                group = [r for r in mine if r["variant"] == variant]
                if not group:
                    continue
                delta = _mean(group, "peak") - _mean(plain, "peak") if plain else float("nan")
                lines.append(
                    f"| {sigma} | {variant} | {_mean(group, 'peak'):.2f} | "
                    f"{_mean(group, 'peak_step'):.0f} | {_mean(group, 'cifs_psnr'):.2f} | "
                    f"{_mean(group, 'cifs_step'):.0f} | {_mean(group, 'final'):.2f} | "
                    f"{delta:+.2f} |"
                )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("inpaint", "sr", "tv", "all"), default="all")
    parser.add_argument("--inpaint-scale", type=int, default=2)
    parser.add_argument("--inpaint-iters", type=int, default=1200)
    parser.add_argument("--sr-crop", type=int, default=128)
    parser.add_argument("--sr-iters", type=int, default=2000)
    parser.add_argument("--tv-crop", type=int, default=96)
    parser.add_argument("--tv-iters", type=int, default=1000)
    parser.add_argument("--tv-weights", type=float, nargs="+", default=[0.01, 0.05])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument(
        "--baselines-only",
        action="store_true",
        help="compute the classical baselines alone and rewrite the report from --out's JSON",
    )
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "tasks.md")
    args = parser.parse_args(argv)
    if args.baselines_only:
        return baselines_only(args)
    if args.threads:
        torch.set_num_threads(args.threads)

    builders = {
        "inpaint": (inpaint_runs, inpaint_rows),
        "sr": (sr_runs, sr_rows),
        "tv": (tv_runs, tv_rows),
    }
    chosen = list(builders) if args.part == "all" else [args.part]
    parts, missing = {}, 0
    for part in chosen:
        runs = {}
        for tag, make in builders[part][0](args):
            path = args.cache / f"{tag}.json"
            if not path.exists() and (args.analyse_only or not claim(args.cache / f"{tag}.lock")):
                missing += 1
                continue
            print(tag, file=sys.stderr, flush=True)
            runs[tag] = cached(path, make)
        parts[part] = builders[part][1](args, runs)
    if missing:
        print(f"{missing} runs not finished (or held by another instance)", file=sys.stderr)
        if not args.analyse_only:
            return 0
    placement = placement_for(FitConfig())
    record = baselines_provenance(precision=placement.precision, threads="one per run")
    write(args, parts, record, record)
    return 0


def baselines_provenance(**extra: Any) -> dict[str, Any]:
    """This process's provenance with the versions the classical baselines' numbers depend on."""
    import cv2
    import PIL
    import skimage

    versions = {"OpenCV": cv2.__version__, "scikit-image": skimage.__version__}
    return provenance(**extra, **versions, Pillow=PIL.__version__)


def write(
    args: argparse.Namespace,
    parts: dict[str, list[dict]],
    dip: dict[str, Any],
    record: dict[str, Any],
) -> None:
    """The report at ``args.out`` and its raw rows beside it (``.json``), with this process's
    provenance ``record`` (the baselines are always computed here) and ``dip``, the DIP runs'.
    """
    args.out.parent.mkdir(parents=True, exist_ok=True)
    omit = ("cache", "out", "baselines_only")
    settings = {k: v for k, v in vars(args).items() if k not in omit}
    data = {"dip_runs": dip, "args": settings, "rows": parts}
    text = report(parts, args, None if dip is record else dip)
    write_report(args.out, text, data, record)
    print(f"wrote {args.out}", file=sys.stderr)


def baselines_only(args: argparse.Namespace) -> int:
    """Add fresh classical-baseline columns to the DIP rows saved beside ``args.out``.

    The settings (scale, crop) are the saved ones, so the baselines see the DIP runs' inputs;
    date, machine and command of the DIP runs are kept, the baselines' own are added.
    """
    saved = json.loads(args.out.with_suffix(".json").read_text())
    settings = argparse.Namespace(**{**saved["args"], "cache": args.cache, "out": args.out})
    fresh = {"inpaint": inpaint_baselines(settings), "sr": sr_baselines(settings)}
    parts = saved["rows"]
    for part, by_image in fresh.items():
        for row in parts.get(part, []):
            row.update(by_image[row["image"]])
    # a tasks.json written before autodip.bench.provenance has the DIP runs' at its top level
    dip = saved.get("dip_runs") or {k: saved[k] for k in ("date", "machine", "command")}
    write(settings, parts, dip, baselines_provenance())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
