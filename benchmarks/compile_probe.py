"""Does ``torch.compile`` make a DIP step faster on this CPU? (issue 16, item 3)

For the denoising networks at 256² (``hourglass`` at widths 32 and 64), one training step as
autodip runs it — perturbed code, forward under bf16 autocast in channels-last, MSE loss, backward,
fused Adam — is timed eagerly and with ``torch.compile`` (inductor), in alternating blocks within
one process so that load hits both alike; the median block is kept. Compilation time is reported
apart. Usage (keep the machine otherwise idle)::

    OMP_NUM_THREADS=1 python benchmarks/compile_probe.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from autodip.bench.provenance import provenance, write_report
from autodip.nets import create_net

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = 256


def make_step(width: int, compiled: bool) -> tuple[Any, float]:
    """A closure running one training step, and the seconds its first call took."""
    torch.manual_seed(0)
    net = create_net("hourglass", width=width).to(memory_format=torch.channels_last)
    code = torch.rand(1, net.in_channels, SIZE, SIZE).mul_(0.1)
    code = code.to(memory_format=torch.channels_last)
    target = torch.rand(1, 3, SIZE, SIZE)
    optimiser = torch.optim.Adam(net.parameters(), lr=0.01, fused=True)
    forward = torch.compile(net) if compiled else net

    def step() -> None:
        perturbed = code + torch.randn_like(code) / 30
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = forward(perturbed)
        loss = torch.mean((out.float() - target) ** 2)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    start = time.perf_counter()
    step()
    return step, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument("--out", type=Path, default=RESULTS / "compile_probe.md")
    args = parser.parse_args()
    rows = []
    for width in args.widths:
        steps, first = {}, {}
        for variant in ("eager", "compiled"):
            steps[variant], first[variant] = make_step(width, variant == "compiled")
            for _ in range(3):  # warm-up (and any recompilation) outside the timing
                steps[variant]()
        blocks: dict[str, list[float]] = {"eager": [], "compiled": []}
        for _ in range(args.rounds):
            for variant, step in steps.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                blocks[variant].append((time.perf_counter() - start) / args.steps)
        eager, compiled = (statistics.median(blocks[v]) for v in ("eager", "compiled"))
        rows.append(
            {
                "width": width, "eager_ms": 1000 * eager, "compiled_ms": 1000 * compiled,
                "speedup": eager / compiled, "compile_seconds": first["compiled"],
                "blocks": blocks,
            }
        )  # fmt: skip
        print(f"width {width}: eager {1000 * eager:.1f} ms, compiled {1000 * compiled:.1f} ms")
    lines = [
        "# `torch.compile` against eager PyTorch for one DIP step at 256²",
        "",
        "One step: perturbed code, forward in bf16 autocast and channels-last, MSE, backward,",
        f"fused Adam; median of {args.rounds} alternating blocks of {args.steps} steps after 3",
        "warm-up steps.",
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
