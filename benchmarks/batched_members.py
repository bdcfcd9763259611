"""K runs batched (grouped convolutions, ``autodip.core.members.fit_members``) against K runs one
after the other, in the same process and run, at 128² and 256².

Each case times ``--steps`` optimisation steps of the hourglass at width 32 (the denoising default
below 3·128² pixels; at 256² the default is width 64, not measured here) with the machine's
default placement, after one warm-up run of each; the two ways alternate
``--repeats`` times and the median is kept, so that a slow moment of a shared machine hits both.
The ratio (sequential time / batched time) is the number to read; absolute times depend on the
machine and its load, both recorded.

Usage::

    python benchmarks/batched_members.py --out benchmarks/results/batched_members.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from autodip import defaults
from autodip.bench.provenance import provenance, write_report
from autodip.core.config import FitConfig
from autodip.core.members import fit_members
from autodip.core.run import fit, placement_for
from autodip.nets import create_net


def _config(steps: int) -> FitConfig:
    return FitConfig(max_iters=steps, monitor_every=steps, reg_noise_std=1 / 30)


def _nets(k: int) -> list[torch.nn.Module]:
    return [create_net("hourglass", width=defaults.DENOISE_WIDTH) for _ in range(k)]


def time_batched(y: torch.Tensor, k: int, steps: int) -> float:
    """Seconds for ``steps`` steps of ``k`` members in one grouped run."""
    started = time.perf_counter()
    fit_members(y, _nets(k), config=_config(steps), seeds=list(range(k)))
    return time.perf_counter() - started


def time_sequential(y: torch.Tensor, k: int, steps: int) -> float:
    """Seconds for ``k`` solo runs of ``steps`` steps, one after the other."""
    started = time.perf_counter()
    for seed in range(k):
        net = create_net("hourglass", width=defaults.DENOISE_WIDTH)
        fit(y, net, config=replace(_config(steps), seed=seed))
    return time.perf_counter() - started


def measure(size: int, k: int, steps: int, repeats: int) -> dict[str, float]:
    """Median seconds per step, batched and sequential, alternating."""
    y = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(size))
    time_batched(y, k, 2)  # warm-up: allocators, oneDNN kernels
    time_sequential(y, min(k, 2), 2)
    batched, sequential = [], []
    for _ in range(repeats):
        batched.append(time_batched(y, k, steps) / steps)
        sequential.append(time_sequential(y, k, steps) / steps)
    b, s = statistics.median(batched), statistics.median(sequential)
    return {"size": size, "k": k, "batched_s_per_step": b, "sequential_s_per_step": s,
            "speedup": s / b, "batched_vs_one_run": b / (s / k)}  # fmt: skip


def render(rows: list[dict[str, float]], notes: list[str]) -> str:
    """The Markdown table."""
    lines = [
        "# Batched members against sequential runs",
        "",
        *[f"- {note}" for note in notes],
        "",
        "| size | K | batched ms/step (all K) | sequential ms/step (all K) | speed-up | batched K "
        "vs one run |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']}² | {r['k']} | {1e3 * r['batched_s_per_step']:.1f} | "
            f"{1e3 * r['sequential_s_per_step']:.1f} | {r['speedup']:.2f}× | "
            f"{r['batched_vs_one_run']:.2f}× |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure every size and K, and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--ks", default="1,2,4,8")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--conditions", default="", help="what else ran on the machine")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/batched_members.md"))
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows = []
    for size in map(int, args.sizes.split(",")):
        for k in map(int, args.ks.split(",")):
            rows.append(measure(size, k, args.steps, args.repeats))
            print(rows[-1], flush=True)
    load_after = os.getloadavg()[0]
    placement = placement_for(FitConfig())
    notes = [
        f"network: hourglass width {defaults.DENOISE_WIDTH} (the denoising default below "
        f"{defaults.DENOISE_WIDE_PIXELS} pixels: 128²; at 256² the default is width "
        f"{defaults.DENOISE_WIDE_WIDTH}); placement "
        f"{placement.device}, {placement.precision}"
        + (", channels-last" if placement.channels_last else ""),
        f"{args.steps} steps per timing, median of {args.repeats} alternating repeats",
        "speed-up = sequential / batched; 'batched K vs one run' = the batched time over the time "
        "of one solo run (the issue's target: ≤ 2 for K = 4)",
        f"load average (1 min) before {load_before:.2f}, after {load_after:.2f}"
        + (f"; {args.conditions}" if args.conditions else ""),
    ]
    record = provenance(placement=f"{placement.device} {placement.precision}")
    write_report(args.out, render(rows, notes), {"rows": rows, "notes": notes}, record)
    print(render(rows, notes))


if __name__ == "__main__":
    main()
