"""Seconds per DIP iteration, float32 against autodip's default precision,
and what it costs in PSNR.

For each network (``dip-skip`` default, ``hourglass`` 2 levels width 64) on the bundled 256×256 RGB
sample (F16 crop, σ = 25):

1. speed — seconds per iteration of float32 and of the default placement (bf16 autocast +
   channels_last where the CPU supports it), measured in alternating blocks within one process so
   that load on this shared machine hits both alike; the ratio is the figure of merit;
2. throughput — FLOPs of one forward + backward pass (``torch.utils.flop_counter``) divided by the
   measured time;
3. quality — PSNR against the clean crop after ``--iters`` iterations from the same seed in both
   precisions, for each of ``--seeds``; the per-seed difference and its mean.

Every finished quality run is cached in ``--cache`` so an interrupted benchmark resumes.
``--device`` (default ``auto``: a CUDA GPU when one is visible) says where; the report names it,
and the caches are kept per device. Usage::

    python benchmarks/speed.py --out benchmarks/results/speed.md
"""

from __future__ import annotations

import argparse
import json
import statistics
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from autodip.bench.provenance import provenance, with_provenance, write_report
from autodip.core.run import FitConfig, fit, placement_for
from autodip.io import image_to_tensor, read_image
from autodip.metrics.full_reference import psnr
from autodip.nets import count_parameters, create_net
from common import cached

NETS = {"dip-skip": {}, "hourglass": {"depth": 2, "width": 64}}
PRECISIONS = {"fp32": {"precision": "fp32", "channels_last": False}, "default": {}}
#: The noise floor: float32 again, in the channels-last layout. The arithmetic is the same up to
#: the order of floating-point sums, so its PSNR difference to "fp32" is how far two equivalent
#: runs drift apart — what a precision's difference should be compared with.
NOISE_FLOOR = {"fp32-cl": {"precision": "fp32", "channels_last": True}}


def sample() -> tuple[torch.Tensor, torch.Tensor]:
    data = resources.files("autodip") / "data"
    noisy, _ = read_image(str(data / "f16_256_noisy_sigma25.png"))
    clean, _ = read_image(str(data / "f16_256_clean.png"))
    return image_to_tensor(noisy), image_to_tensor(clean)


def flops_per_iteration(net_name: str, y: torch.Tensor) -> int:
    net = create_net(net_name, **NETS[net_name])
    z = torch.rand(1, net.in_channels, *y.shape[-2:])
    with FlopCounterMode(display=False) as counter:
        torch.mean((net(z) - y) ** 2).backward()
    return counter.get_total_flops()


def seconds_per_iteration(
    net_name: str, y: torch.Tensor, steps: int, blocks: int, device: str = "cpu"
) -> dict:
    """Alternate timing blocks of each precision; return the median s/iter of each.

    Every step is monitored, and a monitored step reads its loss back to the host, so on a GPU
    each recorded time is taken after the step's kernels have finished.
    """
    times: dict[str, list[float]] = {name: [] for name in PRECISIONS}
    warmup = 3
    for _ in range(blocks):
        for name, options in PRECISIONS.items():
            cfg = FitConfig(max_iters=warmup + steps, monitor_every=1, device=device, **options)
            result = fit(y, create_net(net_name, **NETS[net_name]), config=cfg)
            t = {h["step"]: h["seconds"] for h in result.history}
            times[name].append((t[warmup + steps] - t[warmup]) / steps)
    return {name: statistics.median(values) for name, values in times.items()}


def quality_run(
    net_name: str, precision: str, seed: int, iters: int, y, clean, cache: Path, device: str = "cpu"
):
    def run() -> dict:
        cfg = FitConfig(
            max_iters=iters,
            seed=seed,
            device=device,
            monitor_every=iters,
            **{**PRECISIONS, **NOISE_FLOOR}[precision],
        )
        result = fit(y, create_net(net_name, **NETS[net_name]), config=cfg)
        return {"psnr": psnr(result.image, clean), "seconds": result.seconds}

    where = "" if device == "cpu" else f"{device.replace(':', '')}-"  # the CPU keeps its old names
    return cached(cache / f"{where}{net_name}-{precision}-seed{seed}-iters{iters}.json", run)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/speed.md"))
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/cache/speed"))
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--device", default="auto", help="auto (a CUDA GPU if any), cpu or cuda")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=5, help="timed iterations per block")
    parser.add_argument("--blocks", type=int, default=3, help="alternating blocks per precision")
    parser.add_argument("--nets", default=",".join(NETS))
    parser.add_argument(
        "--quality-seeds",
        default="dip-skip:0",
        help="per-network seed override, e.g. 'dip-skip:0' (the 2.2M-parameter "
        "network costs ~9 CPU-minutes per seed)",
    )
    parser.add_argument(
        "--quality-threads",
        type=int,
        default=0,
        help="torch threads for the quality runs (0 = default); timing always uses the default",
    )
    parser.add_argument(
        "--noise-floor",
        default="",
        metavar="NETS",
        help="networks (comma-separated) for which float32 also runs in the channels-last layout: "
        "the PSNR drift between two equivalent float32 runs, to compare the precision's "
        "difference with",
    )
    parser.add_argument(
        "--retime",
        action="store_true",
        help="measure speed again instead of reusing the cached timing",
    )
    return parser


def speed_table(nets: list[str], y: torch.Tensor, args: argparse.Namespace) -> tuple[list, dict]:
    """Table rows and raw data of the timing, network by network (cached unless ``--retime``)."""
    lines, raw = [], {}
    where = "" if args.device == "cpu" else f"{args.device.replace(':', '')}-"
    timing_cache = args.cache / f"{where}timing-steps{args.steps}-blocks{args.blocks}.json"
    stored = json.loads(timing_cache.read_text()) if timing_cache.exists() else {}
    for net_name in nets:
        gflop = flops_per_iteration(net_name, y) / 1e9
        if net_name in stored and not args.retime:
            timing = stored[net_name]
        else:
            timing = seconds_per_iteration(net_name, y, args.steps, args.blocks, args.device)
            stored[net_name] = timing
            timing_cache.parent.mkdir(parents=True, exist_ok=True)
            timing_cache.write_text(json.dumps(stored))
        params = count_parameters(create_net(net_name, **NETS[net_name]))
        ratio = timing["fp32"] / timing["default"]
        lines.append(
            f"| {net_name} | {params:,} | {gflop:.1f} | {timing['fp32']:.3f} | "
            f"{timing['default']:.3f} | {ratio:.2f}× | {gflop / timing['fp32']:.0f} | "
            f"{gflop / timing['default']:.0f} |"
        )
        raw[net_name] = {"gflop": gflop, **timing, "ratio": ratio, "params": params}
        print(lines[-1], flush=True)
    return lines, raw


def quality_table(
    nets: list[str], y: torch.Tensor, clean: torch.Tensor, args: argparse.Namespace
) -> tuple[list, dict]:
    """Table rows and raw data of the PSNR in each precision, per network and seed."""
    overrides = dict(item.split(":", 1) for item in args.quality_seeds.split(",") if item)
    seeds = [int(s) for s in args.seeds.split(",")]
    lines, raw = [], {}
    for net_name in nets:
        diffs: list[float] = []
        floors: list[float] = []
        net_seeds = (
            [int(s) for s in overrides[net_name].split("+")] if net_name in overrides else seeds
        )
        for seed in net_seeds:
            floor_nets = args.noise_floor.split(",")
            arms = [*PRECISIONS, *(NOISE_FLOOR if net_name in floor_nets else {})]
            runs = {
                p: quality_run(net_name, p, seed, args.iters, y, clean, args.cache, args.device)
                for p in arms
            }
            diff = runs["default"]["psnr"] - runs["fp32"]["psnr"]
            diffs.append(diff)
            floor = "—"
            if "fp32-cl" in runs:
                floors.append(runs["fp32-cl"]["psnr"] - runs["fp32"]["psnr"])
                floor = f"{floors[-1]:+.3f}"
            lines.append(
                f"| {net_name} | {seed} | {runs['fp32']['psnr']:.3f} | "
                f"{runs['default']['psnr']:.3f} | {diff:+.3f} | {floor} |"
            )
            raw[f"{net_name}/seed{seed}"] = runs
            print(lines[-1], flush=True)
        floor_mean = "—"
        if floors:
            floor_mean = f"{np.mean(floors):+.3f} (|max| {np.max(np.abs(floors)):.3f})"
        lines.append(
            f"| {net_name} | mean | | | **{np.mean(diffs):+.3f}** "
            f"(|max| {np.max(np.abs(diffs)):.3f}) | {floor_mean} |"
        )
    return lines, raw


def main() -> None:
    args = parser().parse_args()
    y, clean = sample()
    record = provenance()  # before --quality-threads changes torch's threads
    default = placement_for(FitConfig(device=args.device))
    args.device = default.device  # "auto" resolved: the caches and the report name the device
    nets = args.nets.split(",")
    # Timing first, for every network, so that it happens while the machine is quietest.
    speed_lines, speed_raw = speed_table(nets, y, args)
    if args.quality_threads:
        torch.set_num_threads(args.quality_threads)
    quality_lines, quality_raw = quality_table(nets, y, clean, args)
    lines = [
        "# Speed: float32 against the default precision",
        "",
        f"- device: {default.device}"
        + (f" ({torch.cuda.get_device_name(default.device)})" if default.device != "cpu" else ""),
        f"- default placement there: precision={default.precision}, "
        f"channels_last={default.channels_last}",
        "- image: bundled 256×256 RGB sample (F16 crop, σ = 25)",
        "",
        "| network | params | GFLOP/iter | fp32 s/iter | default s/iter | speed-up | "
        "fp32 GFLOP/s | default GFLOP/s |",
        "|---|---|---|---|---|---|---|---|",
        *speed_lines,
        "",
        f"## PSNR after {args.iters} iterations (same seed, both precisions)",
        "",
        "| network | seed | fp32 PSNR | default PSNR | difference (default − fp32) | "
        "noise floor (fp32 channels-last − fp32) |",
        "|---|---|---|---|---|---|",
        *quality_lines,
    ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_report(args.out, text, {"speed": speed_raw, "quality": quality_raw}, record)
    print(with_provenance(text, record))


if __name__ == "__main__":
    main()
