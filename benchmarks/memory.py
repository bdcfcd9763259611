"""The memory estimate of :mod:`autodip.core.memory` against the measured peak of real runs (CPU).

Each case runs in a fresh subprocess: it builds the network and the image, records the resident set
size (RSS), runs ``--steps`` steps of :func:`autodip.core.run.fit`, and reports the growth of the
peak
RSS (``ru_maxrss``) over that baseline, beside the estimate. The estimate is meant to be an upper
bound that is not wildly pessimistic. Usage::

    OMP_NUM_THREADS=1 python benchmarks/memory.py --out benchmarks/results/memory.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from autodip.bench.provenance import provenance, write_report

CASES = [("hourglass", 256), ("hourglass", 512), ("hourglass", 1024), ("dip-skip", 256),
         ("dip-skip", 512)]  # fmt: skip

CHILD = r"""
import json, resource, sys, torch
from autodip.nets import create_net
from autodip.core.run import FitConfig, fit, placement_for
from autodip.core.memory import estimate_run_memory
name, side, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)
net = create_net(name)
y = torch.rand(1, 3, side, side)
cfg = FitConfig(max_iters=steps, device="cpu", monitor_every=1)
where = placement_for(cfg)
estimate = estimate_run_memory(net, 3, side, side, where.autocast_dtype)
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
before = rss()
fit(y, net, config=cfg)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"net": name, "side": side, "estimate": estimate.total,
                  "parameters": estimate.parameters, "activations": estimate.activations,
                  "buffers": estimate.buffers, "measured": peak - before,
                  "precision": where.precision}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/memory.md"))
    args = parser.parse_args()
    rows = []
    for name, side in CASES:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, name, str(side), str(args.steps)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], file=sys.stderr)
    write_report(args.out, markdown(rows, args.steps), rows, provenance())
    return 0


def markdown(rows: list[dict], steps: int) -> str:
    """The estimate beside the measured peak, per case."""
    mib = 2**20
    lines = [
        "# Memory: estimate against the measured peak",
        "",
        f"- {steps} steps per case, one thread; raw rows in `memory.json`",
        "- measured = growth of the peak RSS over the RSS before `fit` (network and image already "
        "built), in a fresh process per case; estimate = `autodip.core.memory.estimate_run_memory` "
        "(with its 25 % margin)",
        "",
        "| network | image | precision | estimate (MiB) | measured (MiB) | estimate / measured |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['net']} | {r['side']}² | {r['precision']} | {r['estimate'] / mib:.0f} | "
            f"{r['measured'] / mib:.0f} | {r['estimate'] / max(r['measured'], 1):.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
