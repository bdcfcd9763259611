"""Each ``cbsd68_full.py`` row rerun with S = 450 beside the S = 300 row it replaced.

The S = 300 rows are not on the page any more: each is the previous committed version of the same
``benchmarks/results/cbsd68-full/<image>-s25.json``, read back with ``git show``. Prints one line an
image (PSNR, gap to CBM3D (σ̂), stop step) and the means over the rerun rows. Usage, from the
repository root::

    python benchmarks/cbsd68_full_pairs.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path
from typing import Any

CACHE = Path("benchmarks/results/cbsd68-full")
PATIENCE = 450


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def replaced_row(path: Path) -> dict[str, Any] | None:
    """The newest committed version of ``path`` whose patience is not :data:`PATIENCE`."""
    for commit in _git("log", "--format=%H", "--", str(path)).split():
        row = json.loads(_git("show", f"{commit}:{path}"))
        if row.get("patience") != PATIENCE:
            return row
    return None


def main() -> None:
    gaps, old_gaps, gains = [], [], []
    for path in sorted(CACHE.glob("*-s25.json")):
        row = json.loads(path.read_text())
        old = replaced_row(path) if row.get("patience") == PATIENCE else None
        if old is None:
            continue
        gap, old_gap = row["psnr"] - row["bm3d_psnr"], old["psnr"] - old["bm3d_psnr"]
        gaps.append(gap)
        old_gaps.append(old_gap)
        gains.append(row["psnr"] - old["psnr"])
        print(
            f"{row['image']:>11}  {row['psnr']:.2f} dB (S = 300: {old['psnr']:.2f})  "
            f"gap {gap:+.2f} ({old_gap:+.2f})  stop {row['stop_step']} ({old['stop_step']})  "
            f"{row['seconds']:.0f} s  confirmed {row['confirmed']}"
        )
    if gains:
        print(
            f"{len(gains)} rows: gap {statistics.mean(gaps):+.2f} dB against "
            f"{statistics.mean(old_gaps):+.2f} with S = 300 ({statistics.mean(gains):+.2f} dB)"
        )


if __name__ == "__main__":
    main()
