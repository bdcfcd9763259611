"""Share cached runs between sweep caches whose jobs overlap.

A job's cache key leaves out the sweep it came from (and the device it ran on), so a run cached
for one sweep serves any other sweep with the same job. This puts into the cache ``TARGET`` each
run of the cache ``SOURCE`` that is a job of ``SWEEP`` and missing in ``TARGET``: a hard link
where the two caches share a file system, a copy elsewhere.

Usage (from the repository root)::

    python benchmarks/share_runs.py SOURCE_RUNS TARGET_RUNS SWEEP.json

e.g. ``benchmarks/dev256_queue.sh`` starts ``dev256-own`` from ``dev256``'s runs and gives pass 1's
``dip-skip`` runs to ``dev256`` (through ``dev256-dipskip.json``, whose jobs are those alone);
``benchmarks/gpu_session.sh`` does the same on and after a GPU lease.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # on a bare GPU machine too

from autodip.bench.sweep import Sweep, expand


def share(source: Path, target: Path, sweep: Path) -> int:
    """Put the runs of ``sweep`` cached in ``source`` and missing in ``target`` there: how many."""
    target.mkdir(parents=True, exist_ok=True)
    shared = 0
    for job in expand(Sweep.from_file(sweep)):
        name = f"{job.key}.json.gz"
        if (source / name).exists() and not (target / name).exists():
            try:
                os.link(source / name, target / name)
            except OSError:  # another file system
                shutil.copy(source / name, target / name)
            shared += 1
    return shared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the runs/ folder to take runs from")
    parser.add_argument("target", type=Path, help="the runs/ folder to put them in")
    parser.add_argument("sweep", type=Path, help="the sweep file whose jobs are shared")
    args = parser.parse_args()
    shared = share(args.source, args.target, args.sweep)
    print(f"{shared} runs shared from {args.source} into {args.target}")


if __name__ == "__main__":
    main()
