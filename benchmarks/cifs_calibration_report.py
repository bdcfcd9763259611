"""Render the shipped CIFS λ(σ) table (``src/autodip/data/cifs_lambda.json``) as Markdown.

The table itself is made by ``autodip calibrate-cifs`` (the exact command is stored in it); this
script only writes it down for people: which images, sizes and budget were used, and for each
noise level the chosen λ with the mean PSNR at the CIFS stop against the peak and the last iterate.
Usage::

    python benchmarks/cifs_calibration_report.py --out benchmarks/results/cifs_calibration.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from autodip.bench.provenance import provenance, write_report

TABLE = Path(__file__).resolve().parents[1] / "src" / "autodip" / "data" / "cifs_lambda.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=TABLE)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cifs_calibration.md"))
    args = parser.parse_args()
    table = json.loads(args.table.read_text())
    made = table["made_with"]
    lines = [
        "# CIFS calibration: λ per noise level",
        "",
        f"- the table: made {made['date']} by `{made.get('command', '?')}`",
        f"- images ({len(made['images'])}, even positions of `shared/data/cbsd68` in name order,"
        f" none of them a benchmark test image): {', '.join(made['images'])}",
        f"- {made['crop']}² centre crops, {made['iters']} iterations of the default network, "
        f"monitored every {made['monitor_every']} steps; candidate rule with patience "
        f"{table['patience']}; λ is stored for {table['pixels']} pixels and scaled by the pixel "
        "count at run time",
        "- the table is indexed by the mean *estimated* σ̂ of each group (what is known at run "
        f"time), with the `{made.get('sigma_method', 'wavelet')}` estimator"
        + (
            f" (re-indexed by `{made['reindexed_by']}` from the wavelet estimator's σ̂, λ kept: "
            "the noisy inputs rebuilt and σ̂ measured again)"
            if "reindexed_by" in made
            else ""
        ),
        "",
        "| σ (nominal) | mean σ̂ | mean σ̂ before | λ | PSNR at CIFS stop | peak | last iterate |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table["rows"]:
        before = f"{row['sigma_hat_before']:.2f}" if "sigma_hat_before" in row else "–"
        lines.append(
            f"| {row['sigma']:g} | {row['sigma_hat']:.2f} | {before} | {row['lambda']:.3g} | "
            f"{row['mean_psnr_at_stop']:.2f} | {row['mean_peak_psnr']:.2f} | "
            f"{row['mean_last_psnr']:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    path, _ = write_report(args.out, "\n".join(lines), table, provenance())
    print(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
