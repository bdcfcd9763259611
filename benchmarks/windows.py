"""Window training against whole-image DIP, at equal steps and equal seconds → ``windows.md``.

Issue 16 asks for large images at sublinear cost: a mode where each step fits a random window of
the image (:mod:`autodip.core.window`, ``--window``) instead of the whole image. This script runs,
on each image, the default denoising network for the image's size once on the whole image and
once per window side, for the same number of steps, and records the PSNR trajectory and the
seconds of each run (one run at a time, ``torch`` on every core). It then reports the peak, the
PSNR at the end, and the time each mode needs to come within 0.2 dB (issue 16's bound) and 0.5 dB
of the whole-image run's peak — the only comparison that decides whether windows pay.

Every run is cached (``benchmarks/results/windows-runs/``, or ``--cache``), so the script
continues where it stopped; the timings are only comparable within one uninterrupted invocation on
a quiet machine, so ``--fresh`` reruns everything, and a run on another machine gets a cache of its
own. No development image is 1024² or larger, so the 1024² case is a 2 × 2 mosaic of four 512²
Set9 photographs (F16, Baboon, Lena, Peppers): a megapixel with the detail of four photographs,
harder for DIP than one photograph up-sampled to that size would be.

``--tile-steps N`` adds, for each case larger than 256², a ``--tile 256`` run
(:mod:`autodip.core.tiling`: overlapping 256² tiles, each a whole DIP run of ``N`` steps with
the 256² default network, no early stop, blended). A tiled run has no whole-image trajectory, so
its row gives the PSNR of the blended result at the end only. Choose ``N`` so that the tiles take
about the whole-image run's seconds (tiles × ``N`` × the 256² seconds per step) to compare the
modes at equal time.

Usage::

    python benchmarks/windows.py [--steps 1500] [--sigma 25] [--fresh] [--cache DIR]
        [--equal-seconds] [--tile-steps N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.api import restore
from autodip.bench.provenance import provenance, write_report
from autodip.core.tiling import default_overlap, plan_tiles
from autodip.defaults import TASK_DEFAULTS
from autodip.io import read_image
from autodip.metrics.full_reference import psnr
from autodip.physics.noise import add_gaussian_noise
from autodip.physics.operators import Denoise
from common import SHARED_DATA, cached

RESULTS = Path("benchmarks/results")
CACHE = RESULTS / "windows-runs"
#: (name, image path, crop side or None for the whole image, window sides to try)
CASES = (
    ("F16 256²", "src/autodip/data/f16_256_clean.png", None, (128,)),
    ("F16 512²", str(SHARED_DATA / "set9" / "image_F16_512rgb.png"), None, (256,)),
    ("Baboon 512²", str(SHARED_DATA / "set9" / "image_Baboon512rgb.png"), None, (256,)),
    ("Mosaic 1024²", "mosaic:F16,Baboon,Lena,Peppers", None, (256,)),
)
#: How close to the whole-image peak counts as "there" (issue 16's loss bound, and a looser one).
WITHIN_DB = (0.2, 0.5)
#: The tile side of ``--tile-steps`` runs: the size the defaults were measured at.
TILE = 256


def _set9(name: str) -> str:
    """A 512² Set9 photograph by name (F16's file name has an underscore more)."""
    separator = "_" if name == "F16" else ""
    return str(SHARED_DATA / "set9" / f"image_{name}{separator}512rgb.png")


def _clean(path: str, crop: int | None) -> np.ndarray:
    if path.startswith("mosaic:"):  # "mosaic:A,B,C,D": four equal images, A B over C D
        a, b, c, d = (_clean(_set9(name), crop) for name in path.removeprefix("mosaic:").split(","))
        return np.concatenate([np.concatenate([a, b], axis=2), np.concatenate([c, d], axis=2)], 1)
    pixels, _ = read_image(path)
    if crop is not None:
        top, left = (pixels.shape[1] - crop) // 2, (pixels.shape[2] - crop) // 2
        pixels = pixels[:, top : top + crop, left : left + crop]
    return np.ascontiguousarray(pixels[:3])


def _cached(args, key: str, make) -> dict[str, Any]:
    """The record cached under ``key``, or ``make()``'s, stored (``--fresh``: always made)."""
    path = args.cache / f"{key}.json"
    if args.fresh:
        path.unlink(missing_ok=True)
    return cached(path, make)


def _key(name: str, sigma: float) -> str:
    """A case's cache-name prefix: ``F16-256²-s25.0``."""
    return f"{name.split()[0]}-{name.split()[1]}-s{sigma}"


def run_case(
    name: str,
    path: str,
    crop: int | None,
    window: int | None,
    args,
    max_time: float | None = None,
) -> dict[str, Any]:
    """One run, or its cached record; ``max_time``: a window run's seconds (``--equal-seconds``:
    those of the case's whole-image run, whose steps the cache key then names)."""
    whole_steps = args.case_steps.get(name, args.steps)
    steps = args.window_steps if window is not None and args.window_steps else whole_steps
    key = f"{_key(name, args.sigma)}-n{steps}-w{window or 'whole'}"
    if max_time is not None:
        key += f"-seconds-of-n{whole_steps}"

    def make() -> dict[str, Any]:
        clean = _clean(path, crop)
        width = TASK_DEFAULTS["denoise"].width_for(*clean.shape[1:])
        result, seconds = _fixed_run(
            clean, args, width, steps, reference=clean, max_time=max_time, window=window
        )
        return {
            "case": name,
            "size": list(clean.shape[1:]),
            "width": width,
            "window": window,
            "margin": result.config.get("window_margin"),
            "seconds": seconds,
            "history": [{k: h[k] for k in ("step", "psnr", "seconds")} for h in result.history],
        }

    return _cached(args, key, make)


def _fixed_run(
    clean: np.ndarray, args, width: int, steps: int, *, window: int | None = None, **options: Any
) -> tuple[Any, float]:
    """The hourglass at ``width`` on the case's noisy image for ``steps`` steps, no early stop;
    ``window`` goes to the fit, ``options`` (a tile, a reference, a time limit) to
    :func:`autodip.api.restore`. Returns the result and its seconds."""
    started = time.perf_counter()
    result = restore(
        add_gaussian_noise(clean, args.sigma, seed=0),
        Denoise(),
        net="hourglass",
        width=width,
        iters=steps,
        stop=None,
        device=args.device,
        fit_options={"window": window, "monitor_every": args.monitor_every},
        ensemble=1,
        **options,
    )
    return result, time.perf_counter() - started


def run_tiled(name: str, path: str, crop: int | None, args) -> dict[str, Any]:
    """``--tile 256`` on the whole case, ``args.tile_steps`` steps a tile, or its cached record.

    The record's one history entry is the blended result at the end: PSNR on the whole image,
    the tiles' steps summed, and the seconds of the whole tiled run.
    """
    tile, steps = TILE, args.tile_steps

    def make() -> dict[str, Any]:
        clean = _clean(path, crop)
        width = TASK_DEFAULTS["denoise"].width_for(tile, tile)
        result, seconds = _fixed_run(clean, args, width, steps, tile=tile)
        return {
            "case": name,
            "size": list(clean.shape[1:]),
            "width": width,
            "window": None,
            "tile": tile,
            "tiles": len(plan_tiles(*clean.shape[1:], tile, default_overlap(tile))),
            "steps_per_tile": steps,
            "margin": None,
            "seconds": seconds,
            "history": [
                {"step": result.iterations, "psnr": psnr(result.pixels, clean), "seconds": seconds}
            ],
        }

    return _cached(args, f"{_key(name, args.sigma)}-tile{tile}x{steps}", make)


def time_to(record: dict[str, Any], level: float) -> float | None:
    """Seconds until the run's PSNR first reaches ``level`` (``None``: never)."""
    return next((h["seconds"] for h in record["history"] if h["psnr"] >= level), None)


def _at_seconds(record: dict[str, Any], seconds: float) -> float | None:
    """PSNR of a run at its last monitored step within ``seconds`` (``None``: past its end)."""
    if seconds > record["history"][-1]["seconds"]:
        return None
    return max((h for h in record["history"] if h["seconds"] <= seconds),
               key=lambda h: h["seconds"], default={"psnr": None})["psnr"]  # fmt: skip


def _mode(record: dict[str, Any]) -> str:
    if record.get("tile"):
        return f"{record['tiles']} tiles {record['tile']}² × {record['steps_per_tile']} steps"
    return "whole" if record["window"] is None else f"window {record['window']}"


def summarise(whole: dict[str, Any], *others: dict[str, Any]) -> dict[str, Any]:
    """Peak, end and times to within each of :data:`WITHIN_DB` of the whole-image peak, for the
    whole-image run and each other mode of the case (a tiled run: its end only)."""
    peak = max(h["psnr"] for h in whole["history"])
    row = {"case": whole["case"], "whole_peak": peak, "modes": {}}
    for record in (whole, *others):
        mode = _mode(record)
        best = max(record["history"], key=lambda h: h["psnr"])
        row["modes"][mode] = {
            "peak": best["psnr"],
            "peak_step": best["step"],
            "last_step": record["history"][-1]["step"],
            "end": record["history"][-1]["psnr"],
            "seconds": record["history"][-1]["seconds"],
            "seconds_per_step": record["history"][-1]["seconds"] / record["history"][-1]["step"],
            "to_within": {f"{db}": time_to(record, peak - db) for db in WITHIN_DB},
            # the whole-image run's PSNR after as many seconds as this run took
            "whole_at_same_seconds": _at_seconds(whole, record["history"][-1]["seconds"]),
            "margin": record["margin"],
            "end_only": bool(record.get("tile")),
        }
    return row


def markdown(rows: list[dict[str, Any]], args) -> str:
    out = [
        "# Window training against whole-image DIP",
        "",
        f"- Gaussian noise σ = {args.sigma}, {args.steps} steps each"
        + "".join(f" ({case}: {steps})" for case, steps in args.case_steps.items())
        + ", no early stop, the default denoising network for the image's size; PSNR on the "
        f"whole image at every {args.monitor_every}th step",
        f"- window runs: {args.window_steps or args.steps} steps"
        + (
            " at most, each stopped after as many seconds as its case's whole-image run took"
            if args.equal_seconds
            else ""
        )
        + "; *whole image at those seconds*: the whole-image run's PSNR after as many seconds as "
        "the row's run took (– past its end)",
        "- *to −d dB*: seconds until the run first comes within d dB of the whole-image run's "
        "peak (– never, within the steps); one run at a time, on every core",
        *(
            [
                f"- tiled rows: `--tile {TILE}` (overlap {default_overlap(TILE)}), each tile "
                f"{args.tile_steps} steps with the {TILE}² default network, no early stop; PSNR "
                "of the blended result at the end only (no peak: no whole-image trajectory); "
                "s/step counts the tiles' steps"
            ]
            if args.tile_steps
            else []
        ),
        "",
        "| image | mode | s/step | peak (step) | end | "
        + " | ".join(f"seconds to −{db} dB" for db in WITHIN_DB)
        + " | total s | whole image at those seconds |",
        "|---|---|---|---|---|" + "---|" * len(WITHIN_DB) + "---|---|",
    ]
    for row in rows:
        for mode, m in row["modes"].items():
            label = mode if m["margin"] is None else f"{mode} (+{m['margin']} context)"
            reach = " | ".join("–" if t is None else f"{t:.0f}" for t in m["to_within"].values())
            same = m["whole_at_same_seconds"]
            peak = "–" if m.get("end_only") else f"{m['peak']:.2f} ({m['peak_step']})"
            out.append(
                f"| {row['case']} | {label} | {m['seconds_per_step']:.3f} | {peak} "
                f"| {m['end']:.2f} | {reach} | {m['seconds']:.0f} | "
                f"{'–' if same is None else f'{same:.2f}'} |"
            )
    out += _against_256(rows)
    return "\n".join(out) + "\n"


def _against_256(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 16's yardstick: each larger case's seconds to within 0.2 dB of its whole-image peak,
    as a multiple of the 256² whole-image run's own seconds to within 0.2 dB of its peak (target:
    1024² in ≤ 6×). Empty unless a 256² case ran in the same invocation."""
    base = next((r for r in rows if r["case"].endswith(" 256²")), None)
    if base is None or base["modes"]["whole"]["to_within"]["0.2"] is None:
        return []
    reference = base["modes"]["whole"]["to_within"]["0.2"]
    out = [
        "",
        f"Against {base['case']} (whole image, {reference:.0f} s to within 0.2 dB of its peak; "
        "issue 16's target: 1024² in ≤ 6× that at ≤ 0.2 dB loss):",
        "",
    ]
    for row in rows:
        if row is base:
            continue
        whole = row["modes"]["whole"]
        if whole["peak_step"] == whole["last_step"]:
            out.append(
                f"- {row['case']}: the whole-image run was still rising at its last step "
                f"({whole['last_step']}, after {whole['seconds'] / reference:.1f}× that time), "
                "so its peak, and the loss against it, are not known; at their ends:"
            )
            out += [
                f"  - {mode}: {m['end']:.2f} dB after {m['seconds'] / reference:.1f}× that time"
                for mode, m in row["modes"].items()
            ]
            continue
        for mode, m in row["modes"].items():
            seconds = m["to_within"]["0.2"]
            times = "never within 0.2 dB" if seconds is None else f"{seconds / reference:.1f}×"
            out.append(f"- {row['case']}, {mode}: {times}")
    return out


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
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"cached runs (default {CACHE})")
    parser.add_argument(
        "--case-steps",
        nargs="+",
        default=[],
        metavar="CASE=STEPS",
        help="another --steps for a case's whole-image run (e.g. 'Mosaic 1024²=500')",
    )
    parser.add_argument(
        "--conditions",
        default="run alone",
        help="what else the machine was doing while the runs were timed (said in the report)",
    )
    parser.add_argument(
        "--equal-seconds",
        action="store_true",
        help="window runs stop after as many seconds as the case's whole-image run took "
        "(--window-steps, default 100 × --steps, only caps them)",
    )
    parser.add_argument(
        "--tile-steps",
        type=int,
        help=f"also run --tile {TILE} on each case larger than {TILE}², this many steps a tile",
    )
    args = parser.parse_args()
    args.case_steps = {
        case: int(steps) for case, steps in (item.rsplit("=", 1) for item in args.case_steps)
    }
    if args.equal_seconds and not args.window_steps:
        args.window_steps = 100 * args.steps
    rows = []
    for name, path, crop, windows in CASES:
        if args.cases and name not in args.cases:
            continue
        whole = run_case(name, path, crop, None, args)
        print(f"{name}: whole image {whole['seconds']:.0f} s", flush=True)
        others = []
        for window in windows:
            budget = whole["seconds"] if args.equal_seconds else None
            others.append(run_case(name, path, crop, window, args, max_time=budget))
            print(f"{name}: window {window} {others[-1]['seconds']:.0f} s", flush=True)
        if args.tile_steps and max(whole["size"]) > TILE:
            others.append(run_tiled(name, path, crop, args))
            print(f"{name}: {_mode(others[-1])} {others[-1]['seconds']:.0f} s", flush=True)
        rows.append(summarise(whole, *others))
    extra = {
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "sigma": args.sigma,
        "conditions": args.conditions,
    }
    write_report(args.out, markdown(rows, args), rows, provenance(**extra))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
