"""Re-index the shipped CIFS λ table by the current noise estimator (λ kept) and rewrite it.

The table (``src/autodip/data/cifs_lambda.json``) is indexed by the mean σ̂ of each calibration
group, so a new default estimator needs a new index: :func:`autodip.bench.calibrate.reindex`
rebuilds the calibration's noisy inputs exactly and measures σ̂ on them again; nothing is re-run.
Then ``python benchmarks/cifs_calibration_report.py`` writes the table down again.

Usage::

    python benchmarks/cifs_reindex.py [--images ../shared/data/cbsd68]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from autodip.analysis.noise_level import METHODS
from autodip.bench.calibrate import reindex
from common import SHARED_DATA

TABLE = Path(__file__).resolve().parents[1] / "src" / "autodip" / "data" / "cifs_lambda.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=SHARED_DATA / "cbsd68")
    parser.add_argument("--table", type=Path, default=TABLE)
    args = parser.parse_args()
    table = json.loads(args.table.read_text())
    new = reindex(table, args.images)  # idempotent: rerun it after any change to the estimator
    new["made_with"] = {
        **table["made_with"],
        "sigma_method": METHODS[0],
        "reindexed_by": "python benchmarks/cifs_reindex.py",
    }
    args.table.write_text(json.dumps(new, indent=2) + "\n")
    for row in new["rows"]:
        print(f"σ = {row['sigma']:g}: σ̂ {row['sigma_hat_before']:.2f} → {row['sigma_hat']:.2f}")


if __name__ == "__main__":
    main()
