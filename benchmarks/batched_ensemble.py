"""The default ensemble batched against one member after another, end to end, on one device.

``restore(noisy, Denoise(), ensemble=K)`` with every other default, twice per image: with
``batch_members=False`` (the members one after another) and ``batch_members=True`` (one grouped
computation, :func:`autodip.core.members.fit_members`), in alternating order from image to image
so that a slow moment of a shared machine does not fall on one way only. Each is timed by the wall
clock from the call to its return. The ratio of the two times is the number to read; the PSNR of
both and of each member says that batching changed only the time (each member is its solo run up
to float32 rounding, so the two means should agree to a few hundredths of a dB at most).

On a GPU batching is the default, on the CPU it is not (``benchmarks/results/batched_members.md``:
a grouped step was slower than K plain steps at 256² on the 2-core CPU); this script measures
both wherever it runs. The noisy 256² crops are the development sweep's (``--sweep``, noise seeded
as the sweep seeds it). Usage, from the repository root (on a GPU machine: see
``benchmarks/gpu_session.sh``)::

    python benchmarks/batched_ensemble.py --images 1 --sigma 50 --device cuda \\
        --conditions 'alone on the GPU' --out benchmarks/results/gpu/batched_ensemble-cuda.md
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from autodip.api import restore
from autodip.bench.provenance import provenance, write_report
from autodip.bench.run import degrade, load_clean
from autodip.core.hardware import placement
from autodip.metrics.full_reference import psnr
from autodip.physics.operators import Denoise
from time_to_stop import jobs


def measure(
    job: Any, members: int, device: str, batched_first: bool, iters: int | None = None
) -> dict[str, Any]:
    """Both ways of running the ensemble on the job's noisy crop (in the order asked); ``iters``
    other than ``None`` replaces the adaptive budget by a hard one (for a quick try only)."""
    noisy, _, reference = degrade(load_clean(job), job)
    row: dict[str, Any] = {"image": job.image, "sigma": job.degradation.level, "k": members}
    for batched in (True, False) if batched_first else (False, True):
        started = time.perf_counter()
        result = restore(
            noisy, Denoise(), ensemble=members, batch_members=batched, device=device, iters=iters
        )
        seconds = time.perf_counter() - started
        way = "batched" if batched else "sequential"
        row[way] = {
            "seconds": seconds,
            "psnr": psnr(result.image[0].numpy(), reference),
            "member_psnr": [psnr(m.image[0].numpy(), reference) for m in result.members],
            "iterations": [m.iterations for m in result.members],
            "stop_steps": [m.stop_step for m in result.members],
            "recorded_batched": result.ensemble["batched"],
        }
    row["speedup"] = row["sequential"]["seconds"] / row["batched"]["seconds"]
    return row


def markdown(rows: list[dict[str, Any]], conditions: str, where: str) -> list[str]:
    """The report's table and summary."""
    lines = [
        f"- placement: {where}; {conditions}",
        "- each row: the same noisy crop restored twice with every default but `ensemble`, "
        "batched and one member after another (alternating which goes first)",
        "",
        "| image | σ | K | sequential s | batched s | speed-up | sequential dB | batched dB | "
        "members' iterations (batched) | members' dB (batched) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        seq, bat = r["sequential"], r["batched"]
        lines.append(
            f"| {Path(r['image']).stem} | {r['sigma']:g} | {r['k']} | {seq['seconds']:.1f} | "
            f"{bat['seconds']:.1f} | {r['speedup']:.2f}× | {seq['psnr']:.2f} | {bat['psnr']:.2f} | "
            f"{', '.join(map(str, bat['iterations']))} | "
            f"{', '.join(f'{p:.2f}' for p in bat['member_psnr'])} |"
        )
    if rows:
        mean = statistics.fmean
        lines += [
            "",
            f"Mean speed-up {mean(r['speedup'] for r in rows):.2f}×; mean PSNR batched − "
            "sequential "
            f"{mean(r['batched']['psnr'] - r['sequential']['psnr'] for r in rows):+.3f} dB.",
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=Path("benchmarks/sweeps/dev256.json"))
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--images", type=int, default=1)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--device", default="auto", help="auto (a CUDA GPU if any), cpu or cuda")
    parser.add_argument("--iters", type=int, default=None, help="a hard budget (plumbing only)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/batched_ensemble.md"))
    parser.add_argument(
        "--conditions",
        default="conditions not stated",
        help="what else ran on the machine (say 'run alone' only if nothing did)",
    )
    args = parser.parse_args()
    rows = []
    for index, job in enumerate(jobs(args.sweep, args.sigma, args.images)):
        first = index % 2 == 0
        rows.append(measure(job, args.members, args.device, first, args.iters))
        print(rows[-1], flush=True)
    where = placement(args.device)
    text = f"{where.device}, {where.precision}" + (", channels-last" if where.channels_last else "")
    budget = (
        f"; a hard budget of {args.iters} steps (plumbing, not the defaults)" if args.iters else ""
    )
    body = [
        "# The default ensemble, batched against one member after another",
        "",
        f"- images: the first {len(rows)} of `{args.sweep}` at σ = {args.sigma:g}{budget}",
        *markdown(rows, args.conditions, text),
    ]
    path, _ = write_report(args.out, "\n".join(body), {"rows": rows}, provenance())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
