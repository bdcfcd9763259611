"""Seconds from a noisy 256² image to autodip's answer, beside CBM3D on the same file (issue 16).

The issue's first target: a 256² development image at σ = 25, restored with the defaults of the
day (``autodip denoise noisy.png -o out.png``: network, budget, criteria, placement all as the CLI
chooses them) in at most 30 s on this 2-core CPU. For each of the first ``--images`` images of
``--sweep`` (the 256² development crops, noise seeded as the sweep seeds it) this runs, one after
the other in this process:

* ``restore(noisy, Denoise(), ensemble=1)`` with every other default (one run: the default
  ensemble's members each take this long), timed by the wall clock from the call to its
  return (network construction, the run, the adaptive budget, the final estimate);
* CBM3D with σ̂ (``bm3d`` with the wavelet estimate, as every committed baseline ran), timed the
  same way — the baseline in the same run, so the ratio survives a machine that is slower today.

Nothing else may share the CPU while it runs (pause a sweep first); the report says so only if
``--conditions`` does. Each image's record is cached in ``--cache`` so a rerun with more images
only adds the missing ones — but a cached time is only comparable with times measured under the
same conditions: delete the cache to measure afresh. Usage, from the repository root::

    python benchmarks/time_to_stop.py --images 2 \\
        --conditions 'run alone (the development sweep paused)'
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from autodip.bench.provenance import provenance, write_report
from autodip.bench.sweep import Sweep, expand
from autodip.core.hardware import placement
from autodip.metrics.full_reference import psnr
from common import cached, defaults_beside_cbm3d

TARGET_SECONDS = 30.0


def jobs(sweep_file: Path, sigma: float, count: int) -> list[Any]:
    """The sweep's BM3D jobs at ``sigma``, one per image, in the sweep's image order."""
    found = {}
    for job in expand(Sweep.from_file(sweep_file)):
        if job.kind == "baseline" and job.baseline == "bm3d" and job.degradation.level == sigma:
            found.setdefault(job.image, job)
    return list(found.values())[:count]


def measure(job: Any) -> dict[str, Any]:
    """Time autodip's defaults and CBM3D (σ̂) on the job's noisy crop."""
    done = defaults_beside_cbm3d(job, record_psnr=False)
    reference, bm3d = done["reference"], done["bm3d"]
    return {
        "image": job.image,
        "sigma": job.degradation.level,
        "noisy_psnr": psnr(done["noisy"], reference),
        **done["run"],
        "nominal_steps": (done["result"].config.get("budget") or {}).get("nominal"),
        "dip_psnr": psnr(done["estimate"], reference),
        "dip_seconds": done["seconds"],
        "bm3d_sigma": bm3d["sigma"],
        "bm3d_psnr": bm3d["psnr"],
        "bm3d_seconds": bm3d["seconds"],
    }


def placement_text(where: dict[str, Any]) -> str:
    """``bf16, channels-last on cpu``."""
    layout = ", channels-last" if where["channels_last"] else ""
    return f"{where['precision']}{layout} on {where['device']}"


def markdown(rows: list[dict[str, Any]], conditions: str) -> list[str]:
    """The report's table and summary lines."""
    lines = [
        f"- {conditions}",
        f"- placement: {placement_text(rows[0]['placement'])}; the issue's target: "
        f"≤ {TARGET_SECONDS:g} s",
        "",
        "| image | σ | noisy dB | network | stop / steps run | confirmed by | autodip dB | "
        "autodip s | CBM3D (σ̂) dB | CBM3D s | autodip s / CBM3D s | s per step |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {Path(r['image']).name} | {r['sigma']:g} | {r['noisy_psnr']:.2f} | "
            f"{r['net']}-w{r['width']} | {r['stop_step']} / {r['iterations']} | "
            f"{(r['confirmed_by'] or 'cifs') if r['confirmed'] else 'not confirmed'} | "
            f"{r['dip_psnr']:.2f} | "
            f"{r['dip_seconds']:.1f} | {r['bm3d_psnr']:.2f} | {r['bm3d_seconds']:.1f} | "
            f"{r['dip_seconds'] / r['bm3d_seconds']:.1f}× | "
            f"{r['dip_seconds'] / r['iterations'] * 1000:.0f} ms |"
        )
    seconds = [r["dip_seconds"] for r in rows]
    lines += [
        "",
        f"Mean {statistics.fmean(seconds):.1f} s to the answer over {len(rows)} image(s) "
        f"({statistics.fmean(r['iterations'] for r in rows):.0f} steps on average), "
        f"{statistics.fmean(r['dip_seconds'] / r['bm3d_seconds'] for r in rows):.1f}× CBM3D's "
        f"time; target ≤ {TARGET_SECONDS:g} s: "
        + ("met." if max(seconds) <= TARGET_SECONDS else "**not met**."),
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=Path("benchmarks/sweeps/dev256.json"))
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/cache/time_to_stop"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/time_to_stop.md"))
    parser.add_argument(
        "--conditions",
        default="conditions not stated",
        help="what else ran on the machine (say 'run alone' only if nothing did)",
    )
    args = parser.parse_args()
    where = placement()
    rows = []
    for job in jobs(args.sweep, args.sigma, args.images):
        key = f"{Path(job.image).stem}-s{job.degradation.level:g}-{where.precision}.json"
        rows.append(cached(args.cache / key, lambda job=job: measure(job)))
        print(f"{job.image}: {rows[-1]['dip_seconds']:.1f} s", flush=True)
    body = [
        "# Time from a noisy 256² image to autodip's answer, beside CBM3D",
        "",
        *markdown(rows, args.conditions),
    ]
    path, _ = write_report(args.out, "\n".join(body), {"rows": rows}, provenance())
    print(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
