"""Does ``torch.compile`` make a DIP step faster on this CPU? (issue 16, item 3)

For the denoising networks at 256² (``hourglass`` at widths 32 and 64), autodip's own training
step (:func:`autodip.core.run.fit`) is timed with the network eager and with the network wrapped
in ``torch.compile`` (inductor), in alternating rounds within one process so that load hits both
alike; the median round is kept. Compilation time is reported apart. Usage (keep the machine
otherwise idle)::

    OMP_NUM_THREADS=1 python benchmarks/compile_probe.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from autodip.bench.provenance import provenance, write_report
from autodip.core.run import FitConfig, fit
from autodip.nets import create_net

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = 256


def seconds_per_step(width: int, compiled: bool, steps: int) -> tuple[float, float]:
    """Seconds per step of :func:`autodip.core.run.fit` with the hourglass at ``width``, and the
    seconds of the first (compiling) call.

    ``fit`` runs autodip's own step (perturbed code, bf16 autocast in channels-last where the CPU
    has it, fused Adam, output average, monitoring every 10 steps); the per-step time is the
    difference between a run of ``steps + steps // 4`` and one of ``steps // 4`` steps, so that
    set-up cancels out.
    """
    torch.manual_seed(0)
    net = create_net("hourglass", width=width)
    module = torch.compile(net) if compiled else net
    target = torch.rand(1, 3, SIZE, SIZE)
    start = time.perf_counter()
    fit(target, module, config=FitConfig(max_iters=2, device="cpu"))
    first = time.perf_counter() - start
    spans = []
    for iters in (steps // 4, steps + steps // 4):
        start = time.perf_counter()
        fit(target, module, config=FitConfig(max_iters=iters, device="cpu"))
        spans.append(time.perf_counter() - start)
    return (spans[1] - spans[0]) / steps, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40, help="steps per timed round")
    parser.add_argument("--out", type=Path, default=RESULTS / "compile_probe.md")
    args = parser.parse_args()
    rows = []
    for width in args.widths:
        blocks: dict[str, list[float]] = {"eager": [], "compiled": []}
        first = 0.0
        for _ in range(args.rounds):  # alternating, so that load hits both alike
            for variant in blocks:
                per_step, took = seconds_per_step(width, variant == "compiled", args.steps)
                blocks[variant].append(per_step)
                first = max(first, took) if variant == "compiled" else first
        eager, compiled = (statistics.median(blocks[v]) for v in ("eager", "compiled"))
        rows.append(
            {
                "width": width, "eager_ms": 1000 * eager, "compiled_ms": 1000 * compiled,
                "speedup": eager / compiled, "compile_seconds": first, "blocks": blocks,
            }
        )  # fmt: skip
        print(f"width {width}: eager {1000 * eager:.1f} ms, compiled {1000 * compiled:.1f} ms")
    lines = [
        "# `torch.compile` against eager PyTorch for one DIP step at 256²",
        "",
        "autodip's own step (`autodip.core.run.fit`: perturbed code, bf16 autocast in",
        f"channels-last, fused Adam, output average, monitoring); median of {args.rounds} rounds",
        "of",
        f"{args.steps} steps, eager and compiled alternating (difference of two run lengths, so",
        "that set-up cancels out).",
        "",
        "| network | eager (ms/step) | compiled (ms/step) | speed-up "
        "| first call with compilation (s) |",
        "|---|---|---|---|---|",
        *(
            f"| hourglass width {r['width']} | {r['eager_ms']:.1f} | {r['compiled_ms']:.1f} | "
            f"{r['speedup']:.2f}× | {r['compile_seconds']:.0f} |"
            for r in rows
        ),
    ]
    threads = torch.get_num_threads()
    write_report(args.out, "\n".join(lines), rows, provenance(threads=threads))
    print(args.out)


if __name__ == "__main__":
    main()
