"""Where a DIP step's time goes → ``benchmarks/results/profile.md``.

For the default denoising networks (2-level hourglass, width 32 below 3·128² pixels and 64 from
there) and the published ``dip-skip``, at 128², 256² and 512² (centre crops of the DIP paper's F16
with Gaussian noise σ = 25, the default CIFS criterion monitoring every 10 steps, the default
placement), one :func:`autodip.api`
run is timed under ``torch.profiler``. The library is not changed for it: the parts of a step are
labelled from outside, by wrapping the functions that do them —

* ``forward``: the network's ``forward``;
* ``backward``: ``Tensor.backward``;
* ``optimiser``: Adam's ``step`` and ``zero_grad`` (labelled by PyTorch itself);
* ``reg-noise``: the input perturbation, drawn and added
  (:meth:`autodip.core.perturbation.Perturbation.perturb`; ``--draws`` profiles each way of
  drawing it, :data:`autodip.core.perturbation.DRAWS`);
* ``snapshot``: the copy of the network and Adam state kept for divergence recovery
  (``Snapshot.take`` and ``Snapshot.refresh`` in :mod:`autodip.core.recovery`);
* ``criteria``: the stopping criteria (``Stopper.observe``: CIFS's JPEG encode, …);
* ``history``: the residual, PSNR and SSIM recorded at each monitored step;
* ``rest``: the wall time not in any of these (the output EMA, the loss, Python overhead).

Each part is the summed CPU time of its labelled events (children included) per step, beside the
wall time per step. (The file is not called ``profile.py``: beside the benchmark scripts that name
would shadow the standard library's ``profile``, which PyTorch imports.) Usage::

    python benchmarks/step_profile.py [--steps 60] [--sizes 256] [--nets hourglass-w64]
        [--draws fresh,shifted] [--out benchmarks/results/profile.md]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile, record_function

import autodip.api as restore_module
import autodip.core.run as runner_module
from autodip.bench.provenance import provenance, write_report
from autodip.core.perturbation import DRAWS, Perturbation
from autodip.core.recovery import Snapshot
from autodip.io import read_image
from autodip.physics.noise import add_gaussian_noise
from autodip.physics.operators import Denoise
from autodip.stopping.stopper import Stopper
from common import SHARED_DATA

NETS = {
    "hourglass-w32 (the default below 3·128² pixels)": ("hourglass", {"width": 32}),
    "hourglass-w64 (the default from 3·128² pixels)": ("hourglass", {"width": 64}),
    "dip-skip": ("dip-skip", {}),
}
SIZES = (128, 256, 512)
PARTS = ("forward", "backward", "optimiser", "reg-noise", "snapshot", "criteria", "history")


def _labelled(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with record_function(f"autodip::{label}"):
            return function(*args, **kwargs)

    return wrapper


_BUILD_NET = restore_module.build_net


def _build_labelled_net(*args: Any, **kwargs: Any) -> torch.nn.Module:
    network = _BUILD_NET(*args, **kwargs)
    network.forward = _labelled("forward", network.forward)  # an instance attribute
    return network


def _patches() -> list[Any]:
    """Wrap the functions that do each part of a step in a profiler label."""
    backward = torch.Tensor.backward
    return [
        mock.patch.object(restore_module, "build_net", _build_labelled_net),
        mock.patch.object(torch.Tensor, "backward", _labelled("backward", backward)),
        mock.patch.object(
            Snapshot, "take", classmethod(_labelled("snapshot", Snapshot.take.__func__))
        ),
        mock.patch.object(Snapshot, "refresh", _labelled("snapshot", Snapshot.refresh)),
        mock.patch.object(Perturbation, "perturb", _labelled("reg-noise", Perturbation.perturb)),
        mock.patch.object(Stopper, "observe", _labelled("criteria", Stopper.observe)),
        mock.patch.object(
            runner_module,
            "measurement_residual",
            _labelled("history", runner_module.measurement_residual),
        ),
        mock.patch.object(runner_module, "psnr", _labelled("history", runner_module.psnr)),
        mock.patch.object(runner_module, "ssim", _labelled("history", runner_module.ssim)),
    ]


def _image(size: int) -> tuple[np.ndarray, np.ndarray]:
    clean, _ = read_image(SHARED_DATA / "dip_original" / "denoising" / "F16_GT.png")
    top, left = (clean.shape[1] - size) // 2, (clean.shape[2] - size) // 2
    clean = np.ascontiguousarray(clean[:, top : top + size, left : left + size])
    return add_gaussian_noise(clean, 25, seed=0), clean


def profile_one(
    net: str, options: dict[str, Any], size: int, steps: int, draw: str
) -> dict[str, Any]:
    """Wall and per-part CPU milliseconds per step of one profiled run, the perturbation drawn
    as ``draw`` says."""
    noisy, clean = _image(size)
    common = {
        "net": net,
        "seed": 0,
        "device": "cpu",
        "reference": clean,
        "fit_options": {"reg_noise_draw": draw},
        "ensemble": 1,
        **options,
    }
    restore_module.restore(
        noisy, Denoise(), iters=10, **common
    )  # warm-up: allocator, oneDNN primitives
    with ExitStack() as stack:
        for patch in _patches():
            stack.enter_context(patch)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            started = time.perf_counter()
            result = restore_module.restore(
                noisy, Denoise(), iters=steps, stop=None, monitor=("cifs",), **common
            )
            wall = time.perf_counter() - started
    totals = {part: 0.0 for part in PARTS}
    for event in prof.key_averages():
        name = event.key
        if name.startswith("autodip::"):
            totals[name.split("::", 1)[1]] += event.cpu_time_total / 1e3
        elif name.startswith("Optimizer.step#") or name.startswith("Optimizer.zero_grad#"):
            totals["optimiser"] += event.cpu_time_total / 1e3
    per_step = {part: value / result.iterations for part, value in totals.items()}
    wall_ms = 1e3 * wall / result.iterations
    per_step["rest"] = max(wall_ms - sum(per_step.values()), 0.0)
    return {"net": net, "options": options, "size": size, "steps": result.iterations, "draw": draw,
            "wall_ms": wall_ms, "parts_ms": per_step,
            "placement": result.config["placement"]}  # fmt: skip


def markdown(rows: list[dict[str, Any]], conditions: str) -> str:
    out = [
        "# Where a step's time goes",
        "",
        f"- {conditions}",
        "- per step, in milliseconds of CPU time summed over each part's profiler events "
        "(children included), and as a share of the wall time per step; `rest` is the wall "
        "time in no labelled part (output EMA, loss, Python)",
        "",
        "| network | size | placement | perturbation | wall ms/step | "
        + " | ".join(f"{p} ms (%)" for p in (*PARTS, "rest"))
        + " | overhead (all but forward, backward, optimiser) |",
        "|---|---|---|---|---|" + "---|" * (len(PARTS) + 2),
    ]
    for row in rows:
        parts = row["parts_ms"]
        wall = row["wall_ms"]
        cells = [f"{parts[p]:.2f} ({100 * parts[p] / wall:.0f} %)" for p in (*PARTS, "rest")]
        overhead = wall - parts["forward"] - parts["backward"] - parts["optimiser"]
        place = row["placement"]
        out.append(
            f"| {row['label']} | {row['size']}² | {place['precision']}"
            f"{', channels-last' if place['channels_last'] else ''} | "
            f"{row.get('draw', 'fresh')} | {wall:.1f} | "
            + " | ".join(cells)
            + f" | {100 * overhead / wall:.0f} % |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="profiled steps per run")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/profile.md"))
    parser.add_argument(
        "--conditions",
        default="run alone",
        help="what else the machine was doing (said in the report: only ratios within one run "
        "are comparable on a shared machine)",
    )
    parser.add_argument(
        "--nets",
        default=",".join(label.split()[0] for label in NETS),
        help="which networks (the first word of each label: hourglass-w32,hourglass-w64,dip-skip)",
    )
    parser.add_argument(
        "--draws",
        default=DRAWS[0],
        help=f"how the perturbation is drawn, each profiled in turn (of {','.join(DRAWS)})",
    )
    args = parser.parse_args()
    wanted = args.nets.split(",")
    rows = []
    for label, (net, options) in NETS.items():
        if label.split()[0] not in wanted:
            continue
        for size in map(int, args.sizes.split(",")):
            for draw in args.draws.split(","):
                row = profile_one(net, options, size, args.steps, draw)
                rows.append({**row, "label": label})
                print(f"{label} {size}² {draw}: {row['wall_ms']:.1f} ms/step", flush=True)
    data = {"conditions": args.conditions, "rows": rows}
    write_report(args.out, markdown(rows, args.conditions), data, provenance())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
