"""Each ``cbsd68_full.py`` row rerun with today's defaults beside the row it replaced.

The replaced rows (run with S = 300, or to a smaller cap: :func:`cbsd68_full.superseded`) are not
on the page any more: each is the newest superseded committed version of the same
``benchmarks/results/cbsd68-full/<image>-s25.json``, read back with ``git show``. Prints one line an
image (PSNR, gap to CBM3D (σ̂), stop step) and the means over the rerun rows. Usage, from the
repository root::

    python benchmarks/cbsd68_full_pairs.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cbsd68_full import CACHE, superseded


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def replaced_row(path: Path) -> dict[str, Any] | None:
    """The newest committed version of ``path`` that today's defaults supersede, if any."""
    for commit in _git("log", "--format=%H", "--", str(path)).split():
        row = json.loads(_git("show", f"{commit}:{path}"))
        if superseded(row):
            return row
    return None


def main() -> None:
    gaps, old_gaps, gains = [], [], []
    for path in sorted(CACHE.glob("*-s25.json")):
        row = json.loads(path.read_text())
        old = None if superseded(row) else replaced_row(path)
        if old is None:
            continue
        gap, old_gap = row["psnr"] - row["bm3d_psnr"], old["psnr"] - old["bm3d_psnr"]
        gaps.append(gap)
        old_gaps.append(old_gap)
        gains.append(row["psnr"] - old["psnr"])
        print(
            f"{row['image']:>11}  {row['psnr']:.2f} dB (replaced: {old['psnr']:.2f})  "
            f"gap {gap:+.2f} ({old_gap:+.2f})  stop {row['stop_step']} ({old['stop_step']})  "
            f"{row['seconds']:.0f} s  confirmed {row['confirmed']}"
        )
    if gains:
        print(
            f"{len(gains)} rows: gap {statistics.mean(gaps):+.2f} dB against "
            f"{statistics.mean(old_gaps):+.2f} in the rows they replace "
            f"({statistics.mean(gains):+.2f} dB)"
        )


if __name__ == "__main__":
    main()
