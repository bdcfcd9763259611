"""Window training against whole-image DIP, at equal steps and equal seconds → ``windows.md``.

Issue 16 asks for large images at sublinear cost: a mode where each step fits a random window of
the image (:mod:`autodip.core.window`, ``--window``) instead of the whole image. This script runs,
on each image, the default denoising network for the image's size once on the whole image and
once per window side, for the same number of steps, and records the PSNR trajectory and the
seconds of each run (one run at a time, ``torch`` on every core). It then reports the peak, the
PSNR at the end, and the time each mode needs to come within 0.5 dB of the whole-image run's
peak — the only comparison that decides whether windows pay.

Every run is cached (``benchmarks/results/windows-runs/``), so the script continues where it
stopped; the timings are only comparable within one uninterrupted invocation on a quiet machine,
so ``--fresh`` reruns everything.

Usage::

    python benchmarks/windows.py [--steps 1500] [--sigma 25] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.api import restore
from autodip.bench.provenance import provenance, write_report
from autodip.defaults import TASK_DEFAULTS
from autodip.io import read_image
from autodip.physics.noise import add_gaussian_noise
from autodip.physics.operators import Denoise
from common import SHARED_DATA

RESULTS = Path("benchmarks/results")
CACHE = RESULTS / "windows-runs"
#: (name, image path, crop side or None for the whole image, window sides to try)
CASES = (
    ("F16 256²", "src/autodip/data/f16_256_clean.png", None, (128,)),
    ("F16 512²", str(SHARED_DATA / "set9" / "image_F16_512rgb.png"), None, (256,)),
    ("Baboon 512²", str(SHARED_DATA / "set9" / "image_Baboon512rgb.png"), None, (256,)),
)
#: How close to the whole-image peak counts as "there".
WITHIN_DB = 0.5


def _clean(path: str, crop: int | None) -> np.ndarray:
    pixels, _ = read_image(path)
    if crop is not None:
        top, left = (pixels.shape[1] - crop) // 2, (pixels.shape[2] - crop) // 2
        pixels = pixels[:, top : top + crop, left : left + crop]
    return np.ascontiguousarray(pixels[:3])


def run_case(name: str, path: str, crop: int | None, window: int | None, args) -> dict[str, Any]:
    """One run, or its cached record."""
    steps = args.window_steps if window is not None and args.window_steps else args.steps
    key = f"{name.split()[0]}-{name.split()[1]}-s{args.sigma}-n{steps}-w{window or 'whole'}"
    cached = CACHE / f"{key}.json"
    if cached.exists() and not args.fresh:
        return json.loads(cached.read_text())
    clean = _clean(path, crop)
    noisy = add_gaussian_noise(clean, args.sigma, seed=0)
    width = TASK_DEFAULTS["denoise"].width_for(*clean.shape[1:])
    started = time.perf_counter()
    result = restore(
        noisy,
        Denoise(),
        net="hourglass",
        width=width,
        iters=steps,
        stop=None,
        reference=clean,
        device=args.device,
        fit_options={"window": window, "monitor_every": args.monitor_every},
    )
    record = {
        "case": name,
        "size": list(clean.shape[1:]),
        "width": width,
        "window": window,
        "margin": result.config.get("window_margin"),
        "seconds": time.perf_counter() - started,
        "history": [{k: h[k] for k in ("step", "psnr", "seconds")} for h in result.history],
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(record))
    return record


def time_to(record: dict[str, Any], level: float) -> float | None:
    """Seconds until the run's PSNR first reaches ``level`` (``None``: never)."""
    return next((h["seconds"] for h in record["history"] if h["psnr"] >= level), None)


def _at_seconds(record: dict[str, Any], seconds: float) -> float | None:
    """PSNR of a run at its last monitored step within ``seconds`` (``None``: past its end)."""
    if seconds > record["history"][-1]["seconds"]:
        return None
    return max((h for h in record["history"] if h["seconds"] <= seconds),
               key=lambda h: h["seconds"], default={"psnr": None})["psnr"]  # fmt: skip


def summarise(whole: dict[str, Any], windowed: dict[str, Any]) -> dict[str, Any]:
    """Peak, end and time to within :data:`WITHIN_DB` of the whole-image peak, both modes."""
    target = max(h["psnr"] for h in whole["history"]) - WITHIN_DB
    row = {"case": whole["case"], "target": target, "modes": {}}
    for mode, record in (("whole", whole), (f"window {windowed['window']}", windowed)):
        best = max(record["history"], key=lambda h: h["psnr"])
        row["modes"][mode] = {
            "peak": best["psnr"],
            "peak_step": best["step"],
            "end": record["history"][-1]["psnr"],
            "seconds": record["history"][-1]["seconds"],
            "seconds_per_step": record["history"][-1]["seconds"] / record["history"][-1]["step"],
            "to_target": time_to(record, target),
            # the whole-image run's PSNR after as many seconds as this run took
            "whole_at_same_seconds": _at_seconds(whole, record["history"][-1]["seconds"]),
            "margin": record["margin"],
        }
    return row


def markdown(rows: list[dict[str, Any]], args) -> str:
    out = [
        "# Window training against whole-image DIP",
        "",
        f"- Gaussian noise σ = {args.sigma}, {args.steps} steps each, no early stop, the default "
        "denoising network for the image's size; PSNR on the whole image at every "
        f"{args.monitor_every}th step",
        "- window runs: "
        f"{args.window_steps or args.steps} steps; *whole image at those seconds*: the whole-image "
        "run's PSNR after as many seconds as the row's run took (– past its end)",
        f"- *to −{WITHIN_DB} dB*: seconds until the run first comes within {WITHIN_DB} dB of the "
        "whole-image run's peak (– never, within the steps); one run at a time, on every core",
        "",
        "| image | mode | s/step | peak (step) | end | seconds to −0.5 dB | total s "
        "| whole image at those seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for mode, m in row["modes"].items():
            label = mode if m["margin"] is None else f"{mode} (+{m['margin']} context)"
            reach = "–" if m["to_target"] is None else f"{m['to_target']:.0f}"
            same = m["whole_at_same_seconds"]
            out.append(
                f"| {row['case']} | {label} | {m['seconds_per_step']:.3f} | {m['peak']:.2f} "
                f"({m['peak_step']}) | {m['end']:.2f} | {reach} | {m['seconds']:.0f} | "
                f"{'–' if same is None else f'{same:.2f}'} |"
            )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument(
        "--window-steps", type=int, help="steps of the window runs (default --steps)"
    )
    parser.add_argument("--monitor-every", type=int, default=25)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fresh", action="store_true", help="rerun the cached runs")
    parser.add_argument("--cases", nargs="+", help="only these cases (e.g. 'F16 512²')")
    parser.add_argument("--out", type=Path, default=RESULTS / "windows.md")
    args = parser.parse_args()
    rows = []
    for name, path, crop, windows in CASES:
        if args.cases and name not in args.cases:
            continue
        whole = run_case(name, path, crop, None, args)
        print(f"{name}: whole image {whole['seconds']:.0f} s", flush=True)
        for window in windows:
            windowed = run_case(name, path, crop, window, args)
            print(f"{name}: window {window} {windowed['seconds']:.0f} s", flush=True)
            rows.append(summarise(whole, windowed))
    extra = {"threads": torch.get_num_threads(), "steps": args.steps, "sigma": args.sigma}
    write_report(args.out, markdown(rows, args), rows, provenance(**extra))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
