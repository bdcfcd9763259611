"""``autodip bench``: run a benchmark sweep or rebuild its report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from autodip import defaults
from autodip.cli.common import EXIT_FAILURE, EXIT_OK, UsageError


def run_bench(args: argparse.Namespace) -> int:
    """``autodip bench run|report``: run (or continue) a sweep, or rebuild its report."""
    from autodip.bench import Sweep, rebuild_report, run_sweep

    if args.bench_command == "report":
        try:
            path = rebuild_report(args.results, args.patience)
        except (FileNotFoundError, ValueError) as error:
            raise UsageError(str(error)) from None
        print(f"autodip: wrote {path}", file=sys.stderr)
        return EXIT_OK
    settings: dict[str, Any] = {}
    if args.sweep is not None:
        try:
            settings = Sweep.read_settings(args.sweep)
        except (OSError, ValueError) as error:
            raise UsageError(f"--sweep: {error}") from None
    flags = {
        "images": args.images,
        "crop": args.crop,
        "gray": args.gray or None,
        "degradations": args.degradations,
        "networks": args.nets,
        "criteria": args.criteria.split(",") if args.criteria else None,
        "iters": args.iters,
        "seeds": args.seeds,
        "patience": args.patience,
        "monitor_every": args.monitor_every,
        "precision": args.precision,
        "device": args.device,
        "baselines": args.baselines.split(",") if args.baselines else None,
    }
    settings |= {k: v for k, v in flags.items() if v is not None}
    every = args.checkpoint_every
    if every is not None and args.backend == "ray":
        raise UsageError("--checkpoint-every works with the local backend; Ray retries a lost job")
    if not settings.get("images"):
        raise UsageError("name the images: --images FOLDER|GLOB … or a --sweep file")
    try:
        sweep = Sweep(**settings)
        path, counts = run_sweep(
            sweep,
            args.out,
            workers=args.workers,
            backend=args.backend,
            address=args.address,
            checkpoint_every=defaults.BENCH_CHECKPOINT_EVERY if every is None else every,
        )
    except (ValueError, ModuleNotFoundError) as error:
        raise UsageError(str(error)) from None
    print(
        f"autodip: {counts['run']} runs done, {counts['cached']} cached, {counts['failed']} "
        f"failed; report: {path}",
        file=sys.stderr,
    )
    return EXIT_FAILURE if counts["failed"] else EXIT_OK
