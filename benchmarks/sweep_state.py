"""What a multi-session sweep has in flight, and staging it for the session's last commit.

Lists every unfinished run's checkpoint under ``benchmarks/results/*/runs/`` (``bench run``
saves one every ``--checkpoint-every`` steps) and ``benchmarks/results/ensemble-runs*/`` (the
members of ``benchmarks/ensemble.py``): its folder, step, size and age. With
``--stage`` it stages what the next session needs to continue: every finished run
(``*.json.gz``), the deletion of every checkpoint that has served, and the checkpoints of runs
at least ``--min-step`` steps along (git-ignored, so added with ``-f``: a run that has barely
started is cheaper to redo than to keep in the repository's history).

Usage, from the repository root::

    python benchmarks/sweep_state.py                 # what is in flight
    python benchmarks/sweep_state.py --stage         # then: git commit -m "sweep: ..."
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import torch

#: Where runs keep their checkpoints and finished records, under ``--results``: the sweeps'
#: ``runs/`` folders and the ensemble benchmark's member caches.
RUN_FOLDERS = ("*/runs", "ensemble-runs*")


def run_folders(results: Path) -> list[Path]:
    """The folders under ``results`` that hold runs (:data:`RUN_FOLDERS`)."""
    return sorted(p for pattern in RUN_FOLDERS for p in results.glob(pattern) if p.is_dir())


def folder_name(checkpoint: Path) -> str:
    """The sweep or cache a checkpoint belongs to: ``dev256`` for ``dev256/runs/x.ckpt``,
    ``ensemble-runs`` for ``ensemble-runs/x.ckpt``.

    Examples
    --------
    >>> folder_name(Path("r/dev256/runs/a.ckpt")), folder_name(Path("r/ensemble-runs/b.ckpt"))
    ('dev256', 'ensemble-runs')
    """
    folder = checkpoint.parent
    return folder.parent.name if folder.name == "runs" else folder.name


def checkpoints(results: Path) -> list[tuple[Path, int]]:
    """Each run checkpoint under ``results`` with the step it was saved at."""
    found = []
    for path in sorted(p for folder in run_folders(results) for p in folder.glob("*.ckpt")):
        try:
            step = int(torch.load(path, map_location="cpu", weights_only=False)["step"])
        except Exception:  # damaged or of another version: the next run starts that job afresh
            step = -1
        found.append((path, step))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--stage", action="store_true", help="git add what the next session needs")
    parser.add_argument("--min-step", type=int, default=1000, help="checkpoints worth keeping")
    args = parser.parse_args()
    found = checkpoints(args.results)
    for path, step in found:
        age = (time.time() - path.stat().st_mtime) / 60
        size = path.stat().st_size / 1e6
        print(f"{folder_name(path):16s} {path.stem}  step {step:5d}  {size:5.1f} MB  "
              f"saved {age:4.0f} min ago")  # fmt: skip
    if not found:
        print("no run in flight")
    if not args.stage:
        return
    runs = [str(p) for p in run_folders(args.results)]
    subprocess.run(["git", "add", "-A", "--", *runs], check=True)  # finished runs, served ckpts
    kept = [str(path) for path, step in found if step >= args.min_step]
    if kept:
        subprocess.run(["git", "add", "-f", "--", *kept], check=True)
    print(f"staged the finished runs and {len(kept)} of {len(found)} checkpoints")


if __name__ == "__main__":
    main()
