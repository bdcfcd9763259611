"""The fit guard and the adaptive budget on the real-size development sweep → ``guard.md``.

Nothing is run here: the development sweep (``benchmarks/sweeps/dev256.json``, 256² crops,
4500-step trajectories with every criterion and the residual recorded) is replayed
(:mod:`autodip.bench.adaptive`) with the default network, criterion and patience, once with a hard
budget of 1500 steps and once with the adaptive budget (cap 3 × 1500 = 4500), beside the noisy
input and BM3D with the estimated σ on the same noisy file. It also calibrates the guard's ratio
(residual / σ̂² at each run's own PSNR peak, every network), compares every criterion's stop with
its run's peak (the ``discrepancy`` criterion on the plain runs, ``holdout`` and ``osc`` on their
own), and reads σ̂ on CC15's real camera noise, where the guard must not judge.

Usage::

    python benchmarks/guard.py [--runs RESULTS_FOLDER] [--out benchmarks/results/guard.md]
    python benchmarks/guard.py --network hourglass-w32 --out benchmarks/results/guard-w32.md

Rerun it as the sweep grows: it reports what is cached, and says how much.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autodip.api import ADAPTIVE_CAP, DEFAULT_ITERS, DEFAULT_PATIENCE, DEFAULT_STOP
from autodip.bench.adaptive import replay_adaptive, residual_ratio
from autodip.bench.analyse import criterion_stop, history_peak
from autodip.bench.provenance import provenance, write_report
from autodip.bench.restimate import restimated
from autodip.defaults import CONFIRM_BELOW_RATIO, DEFAULT_NET, EXTEND_ABOVE_RATIO, TASK_DEFAULTS
from autodip.stopping.fit_guard import GUARD_MIN_SIGMA, GUARD_RATIO
from common import SHARED_DATA

CRITERIA = ("cifs", "wmv", "emv", "discrepancy", "holdout", "osc")


#: Why an unconfirmed run is extended whatever its residual (256² reports; the demo's evidence).
WHY_UNCONFIRMED = (
    "Why, with CIFS alone (`--also-confirm none`), an unconfirmed criterion extends the run "
    "only while the residual is above σ̂²: "
    "on the demo image (the bundled F16 crop, 192², σ = 25; `python -m autodip.demo`, report "
    "kept in [`guard-demo-unconfirmed-policy.json`](guard-demo-unconfirmed-policy.json)) "
    "extending while CIFS was unconfirmed, whatever the residual, ran 3770 steps instead of "
    "1500 and returned step 3470 at 29.66 dB, where the 1500-step run returns 30.62 dB (the "
    "peak, 30.65 dB, is at step 1660; residual / σ̂² 0.94 at step 1500, 0.83 at step 3470): "
    "CIFS kept finding new minima while the network fitted the noise. At 256² with width 32 "
    "([`guard-w32.md`](guard-w32.md)) the same "
    "extension holds most of the gain (the *+unconfirmed* columns), and there the residual "
    "at step 1500 was above σ̂² in every run but the one CIFS had confirmed. The shipped "
    "policy extends an unconfirmed run whatever the residual because the discrepancy "
    "criterion then ends it at most S steps after the residual passes σ̂²: on the demo it "
    "confirmed at step 1880 and the run returned CIFS's step 1860 at 30.62 dB "
    "([`demo.md`](demo.md))."
)


def load_runs(folder: Path) -> list[dict[str, Any]]:
    """Every cached run of a sweep folder."""
    runs = []
    for path in sorted((folder / "runs").glob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            runs.append(json.load(handle))
    return runs


def _key(run: dict[str, Any]) -> tuple[str, str]:
    return run["job"]["image"], run["job"]["degradation"]


def default_network(job: dict[str, Any], sigma: float | None = None) -> str:
    """The network ``autodip denoise`` runs by default on this job's crop whose noisy input has
    noise level ``sigma`` (σ̂, 0–255; the defaults of the day).

    Examples
    --------
    >>> default_network({"crop": 256}), default_network({"crop": 256}, sigma=45.7)
    ('hourglass-w64', 'hourglass-w32')
    """
    height, width = job_size(job)
    return f"{DEFAULT_NET}-w{TASK_DEFAULTS['denoise'].width_for(height, width, sigma=sigma)}"


def job_size(job: dict[str, Any]) -> tuple[int, int]:
    """Height and width of the image a job ran on: its crop, or the whole file's size (read from
    the path it names, relative to the working folder: run from the repository root)."""
    if job.get("crop"):
        return int(job["crop"]), int(job["crop"])
    from PIL import Image

    with Image.open(job.get("path", job["image"])) as image:
        width, height = image.size
    return height, width


def bm3d_estimated(runs: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """BM3D's PSNR with the estimated σ, per (image, degradation)."""
    return {
        _key(r): r["estimated"]["psnr"]
        for r in runs
        if r["job"]["kind"] == "baseline" and r["job"]["baseline"] == "bm3d"
    }


def current(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs as today's noise estimator would have run them (:mod:`autodip.bench.restimate`):
    σ̂ measured again on each denoising run's noisy input and CIFS rescored with λ(σ̂)."""
    return [
        restimated(r) if r["job"]["kind"] != "baseline" and r.get("sigma_method") is None else r
        for r in runs
    ]


def replayable(runs: list[dict[str, Any]], network: str | None = None) -> list[dict[str, Any]]:
    """The plain runs of ``network`` (default: :func:`default_network` of each crop) recorded to
    the adaptive cap with their residuals: the runs the default policy can be replayed on."""
    cap = ADAPTIVE_CAP * DEFAULT_ITERS
    return [
        run
        for run in runs
        if run["job"]["kind"] == "dip"
        and run["job"]["network"] == (network or default_network(run["job"], run.get("sigma_hat")))
        and run["history"][-1]["step"] >= cap
        and "residual" in run["history"][-1]
    ]


def by_sigma(runs: list[dict[str, Any]]) -> dict[float, list[dict[str, Any]]]:
    """``runs`` grouped by noise level, in increasing order."""
    groups: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[run["job"]["level"]].append(run)
    return dict(sorted(groups.items()))


def default_rows(
    runs: list[dict[str, Any]],
    bm3d: dict[tuple[str, str], float],
    network: str | None = None,
    recorded: dict[str, dict[str, Any]] | None = None,
) -> list[dict]:
    """Hard budget vs adaptive budget for the default settings, one row per image and σ.

    ``network`` replays another network's runs under the same policy (default: the network
    ``autodip denoise`` runs on each crop, :func:`default_network`). ``recorded``: the runs as
    recorded (by job key), whose own σ̂ (the wavelet rule's, before the PCA estimate) is replayed
    beside.
    """
    cap = ADAPTIVE_CAP * DEFAULT_ITERS
    rows = []
    for run in replayable(runs, network):
        job = run["job"]
        hard = replay_adaptive(run, DEFAULT_STOP, DEFAULT_PATIENCE, DEFAULT_ITERS, DEFAULT_ITERS)
        adaptive = replay_adaptive(run, DEFAULT_STOP, DEFAULT_PATIENCE, DEFAULT_ITERS, cap)
        unconfirmed = replay_adaptive(
            run, DEFAULT_STOP, DEFAULT_PATIENCE, DEFAULT_ITERS, cap, policy="unconfirmed"
        )
        guard_only = replay_adaptive(
            run, DEFAULT_STOP, DEFAULT_PATIENCE, DEFAULT_ITERS, cap, policy="guard"
        )
        peak, peak_step = history_peak(run["history"])
        before = (recorded or {}).get(job["key"])
        wavelet = (
            replay_adaptive(before, DEFAULT_STOP, DEFAULT_PATIENCE, DEFAULT_ITERS, cap)
            if before is not None
            else None
        )
        rows.append(
            {
                "image": job["image"],
                "sigma": job["level"],
                "network": job["network"],
                "sigma_hat": run["sigma_hat"],
                "noisy": run["measured_psnr"],
                "bm3d_estimated": bm3d.get(_key(run)),
                "peak": peak,
                "peak_step": peak_step,
                "hard": hard.to_dict(),
                "adaptive": adaptive.to_dict(),
                "unconfirmed_policy": unconfirmed.to_dict(),
                "guard_policy": guard_only.to_dict(),
                "wavelet_sigma_hat": before["sigma_hat"] if before is not None else None,
                "wavelet_policy": wavelet.to_dict() if wavelet is not None else None,
                "seconds_per_step": run["seconds"] / run["iterations"],
            }
        )
    return rows


#: The residual thresholds (× σ̂²) above which an unconfirmed run is extended, replayed beside the
#: shipped one (:data:`autodip.defaults.EXTEND_ABOVE_RATIO`).
THRESHOLDS = (0.8, 0.9, 0.95, 1.0, 1.1)


#: The confirmation gates (× σ̂²; ``None``: no gate) replayed beside the shipped one
#: (:data:`autodip.defaults.CONFIRM_BELOW_RATIO`).
GATES = (None, 1.3, 1.2, 1.15, 1.1, 1.05, 1.0)


def _default_policy(group: list[dict[str, Any]], **options: Any) -> list[Any]:
    """The default policy (CIFS, S, budget adaptive to its cap) replayed on each run of ``group``,
    with ``options`` of :func:`replay_adaptive` changed."""
    cap = ADAPTIVE_CAP * DEFAULT_ITERS
    return [
        replay_adaptive(r, DEFAULT_STOP, DEFAULT_PATIENCE, DEFAULT_ITERS, cap, **options)
        for r in group
    ]


def gate_rows(
    runs: list[dict[str, Any]], bm3d: dict[tuple[str, str], float], network: str | None = None
) -> list[dict[str, Any]]:
    """The default policy with each confirmation gate, per σ: mean PSNR, gap to the peak, mean
    halt, stops confirmed, and crops more than 2 dB under BM3D (σ̂). Same runs as
    :func:`default_rows`.
    """
    rows = []
    for sigma, group in by_sigma(replayable(runs, network)).items():
        for gate in GATES:
            got = list(zip(group, _default_policy(group, confirm_below=gate), strict=True))
            rows.append(
                {
                    "sigma": sigma,
                    "gate": gate,
                    "runs": len(got),
                    "psnr": _mean([g.psnr for _, g in got]),
                    "gap": _mean([history_peak(r["history"])[0] - g.psnr for r, g in got]),
                    "halt": _mean([float(g.halt) for _, g in got]),
                    "confirmed": sum(g.confirmed for _, g in got),
                    "under_bm3d_2db": sum(
                        bm3d.get(_key(r), -np.inf) - g.psnr > 2.0 for r, g in got
                    ),
                }
            )
    return rows


def threshold_rows(runs: list[dict[str, Any]], network: str | None = None) -> list[dict[str, Any]]:
    """The default policy with other extension thresholds, per σ: mean PSNR and mean halt.

    σ̂ reads high on textured images (``sigma_estimator.md``), so their residual reaches σ̂²
    early and the shipped threshold stops extending while they still improve; a lower threshold
    extends longer, at the risk the demo image shows (fitting noise once the residual is below
    σ̂²). Same runs as :func:`default_rows`.
    """
    rows = []
    for sigma, group in by_sigma(replayable(runs, network)).items():
        for threshold in THRESHOLDS:
            got = _default_policy(group, extend_above=threshold)
            rows.append(
                {
                    "sigma": sigma,
                    "threshold": threshold,
                    "runs": len(got),
                    "psnr": _mean([g.psnr for g in got]),
                    "halt": _mean([float(g.halt) for g in got]),
                }
            )
    return rows


#: The recorded criteria the adaptive policy is replayed with, besides the shipped one.
POLICY_CRITERIA = ("cifs", "discrepancy", "emv", "wmv")


def criterion_policy_rows(
    runs: list[dict[str, Any]], network: str | None = None
) -> list[dict[str, Any]]:
    """The shipped adaptive policy with each recorded criterion as the primary one, per σ: mean
    PSNR, mean halt step and stops confirmed. Same runs as :func:`default_rows`."""
    cap = ADAPTIVE_CAP * DEFAULT_ITERS
    rows = []
    for sigma, group in by_sigma(replayable(runs, network)).items():
        for name in POLICY_CRITERIA:
            got = [
                replay_adaptive(r, name, DEFAULT_PATIENCE, DEFAULT_ITERS, cap)
                for r in group
                if name in r["criteria"]
            ]
            rows.append(
                {
                    "sigma": sigma,
                    "criterion": name,
                    "runs": len(got),
                    "psnr": _mean([g.psnr for g in got]),
                    "halt": _mean([float(g.halt) for g in got]),
                    "confirmed": sum(g.confirmed for g in got),
                }
            )
    return rows


def either_rows(
    runs: list[dict[str, Any]], bm3d: dict[tuple[str, str], float], network: str | None = None
) -> list[dict[str, Any]]:
    """The shipped policy (CIFS, or the discrepancy principle where the guard judges) beside CIFS
    alone (the policy before it), per σ: mean PSNR, gap to the peak, mean halt, stops confirmed
    (and by the discrepancy criterion), crops more than 2 dB under BM3D (σ̂). Same runs as
    :func:`default_rows`; runs that did not record the discrepancy criterion are left out.
    """
    rows = []
    for sigma, group in by_sigma(replayable(runs, network)).items():
        group = [r for r in group if "discrepancy" in r["criteria"]]
        if not group:
            continue
        alone = _default_policy(group, also=None)
        shipped = _default_policy(group)
        psnrs = [g.psnr for g in shipped]
        rows.append(
            {
                "sigma": sigma,
                "runs": len(group),
                "alone_psnr": _mean([g.psnr for g in alone]),
                "alone_halt": _mean([float(g.halt) for g in alone]),
                "alone_confirmed": sum(g.confirmed for g in alone),
                "psnr": _mean(psnrs),
                "gap": _mean(
                    [history_peak(r["history"])[0] - p for r, p in zip(group, psnrs, strict=True)]
                ),
                "halt": _mean([float(g.halt) for g in shipped]),
                "confirmed": sum(g.confirmed for g in shipped),
                "by_discrepancy": sum(g.confirmed_by == "discrepancy" for g in shipped),
                "under_bm3d_2db": sum(
                    bm3d.get(_key(r), -np.inf) - p > 2.0 for r, p in zip(group, psnrs, strict=True)
                ),
            }
        )
    return rows


def either_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The section of :func:`either_rows`."""
    out = [
        "",
        "## Confirmed by CIFS or by the discrepancy principle (shipped)",
        "",
        "The shipped policy stops at the first confirmation of CIFS or of the `discrepancy` "
        f"criterion (both gated at {CONFIRM_BELOW_RATIO:g} σ̂², S = {DEFAULT_PATIENCE}; the "
        "discrepancy criterion only where the guard judges, σ̂ ≥ "
        f"{GUARD_MIN_SIGMA:g}), returning CIFS's best estimate up to that step, and extends an "
        "unconfirmed run whatever its residual (the discrepancy principle confirms at most S "
        "steps after the residual passes σ̂²). *CIFS alone*: the policy before it, which extended "
        f"an unconfirmed run only while the residual was above {EXTEND_ABOVE_RATIO:g} σ̂². Without "
        "the gate the discrepancy criterion confirms local minima of |residual − σ̂²| while the "
        "residual is still far above σ̂².",
        "",
        "| σ | runs | CIFS alone: PSNR | CIFS alone: halt | CIFS alone: confirmed | shipped: PSNR "
        "| shipped: gap to peak | shipped: halt | shipped: confirmed | of which by discrepancy "
        "| shipped: > 2 dB under BM3D |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['sigma']:g} | {r['runs']} | {r['alone_psnr']:.2f} | {r['alone_halt']:.0f} "
            f"| {r['alone_confirmed']} | {r['psnr']:.2f} | {r['gap']:.2f} | {r['halt']:.0f} | "
            f"{r['confirmed']} | {r['by_discrepancy']} | {r['under_bm3d_2db']} |"
        )
    return out


def calibration(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Residual / σ̂² at each plain run's own PSNR peak, by σ (every network).

    Only runs whose peak comes before the last tenth of the trajectory count: a run still rising
    at its end has no peak to calibrate on.
    """
    ratios: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        if run["job"]["kind"] != "dip" or "residual" not in run["history"][-1]:
            continue
        _, step = history_peak(run["history"])
        if step > 0.9 * run["history"][-1]["step"]:
            continue
        ratio = residual_ratio(run, step)
        if ratio is not None:
            ratios[run["job"]["degradation"]].append(ratio)
    return {
        label: {
            "runs": len(values),
            "min": min(values),
            "median": statistics.median(values),
            "max": max(values),
        }
        for label, values in sorted(ratios.items(), key=lambda kv: float(kv[0].split(":")[1]))
    }


def criteria_rows(runs: list[dict[str, Any]], patience: int) -> list[dict[str, Any]]:
    """Each criterion's PSNR at its stop and gap to its own run's peak (full trajectories)."""
    plain_peaks = {
        (*_key(r), r["job"]["network"]): history_peak(r["history"])[0]
        for r in runs
        if r["job"]["kind"] == "dip"
    }
    rows = []
    for run in runs:
        job = run["job"]
        if job["kind"] == "baseline":
            continue
        peak, _ = history_peak(run["history"])
        for name in run["criteria"]:
            # a run with its own objective (holdout, osc) is compared on its own criterion only
            if name not in CRITERIA or (job["kind"] != "dip" and name != job["kind"]):
                continue
            stop = criterion_stop(run, name, run["criteria"][name]["default_patience"]
                                  if name == "osc" else patience)  # fmt: skip
            plain = plain_peaks.get((*_key(run), job["network"]))
            rows.append(
                {
                    "image": job["image"],
                    "degradation": job["degradation"],
                    "network": job["network"],
                    "criterion": name,
                    "stop": stop["stop"],
                    "confirmed": stop["confirmed"],
                    "psnr": stop["psnr"],
                    "gap": peak - stop["psnr"],
                    # what the criterion's own objective costs: its run's peak vs the plain run's
                    "objective_cost": (plain - peak) if job["kind"] != "dip" and plain else None,
                }
            )
    return rows


def cc15_sigmas() -> list[dict[str, Any]]:
    """σ̂ of each CC15 real-noise image against the std of (noisy − mean-of-shots)."""
    from autodip.analysis.noise_level import estimate_sigma
    from autodip.io import read_image

    rows = []
    for noisy_path in sorted((SHARED_DATA / "cc15").glob("*_real.png")):
        clean_path = noisy_path.with_name(noisy_path.name.replace("_real", "_mean"))
        noisy, _ = read_image(noisy_path)
        clean, _ = read_image(clean_path)
        rows.append(
            {
                "image": noisy_path.name,
                "sigma_hat": estimate_sigma(noisy),
                "noise_std": float(np.std(noisy.astype(np.float64) - clean) * 255),
            }
        )
    return rows


def stop_cell(replay: dict[str, Any]) -> str:
    """A replayed stop as a table cell: ``dB (stop / halt)``, marked when unconfirmed.

    Examples
    --------
    >>> stop_cell({"psnr": 28.084, "stop": 3240, "halt": 3540, "confirmed": False})
    '28.08 (3240 / 3540, unconfirmed)'
    """
    mark = "" if replay["confirmed"] else ", unconfirmed"
    return f"{replay['psnr']:.2f} ({replay['stop']} / {replay['halt']}{mark})"


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _wavelet_cells(row: dict[str, Any]) -> str:
    """σ̂, PSNR and step of the adaptive policy with the wavelet σ̂ the run recorded."""
    if not row.get("wavelet_policy"):
        return "– | – | –"
    w = row["wavelet_policy"]
    return f"{row['wavelet_sigma_hat']:.1f} | {w['psnr']:.2f} | {w['stop']}"


def ending_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """How the default policy's runs ended, per σ: confirmed, fitted or at the cap."""
    cap = ADAPTIVE_CAP * DEFAULT_ITERS

    def how(replay: dict[str, Any]) -> str:
        if replay["confirmed"]:
            return "confirmed"
        return "cap" if replay["limit"] >= cap else "fitted"

    out = [
        "",
        "How the adaptive runs ended: *confirmed* (CIFS confirmed its stop), *fitted* "
        "(unconfirmed, at a budget where the residual of the returned estimate was at most "
        f"{EXTEND_ABOVE_RATIO:g} σ̂², so the budget was not extended further), *cap* "
        f"(unconfirmed at the cap of {cap} steps).",
        "",
        "| σ | runs | confirmed | fitted | cap |",
        "|---|---|---|---|---|",
    ]
    for sigma in sorted({r["sigma"] for r in rows}):
        ended = [how(r["adaptive"]) for r in rows if r["sigma"] == sigma]
        counts = " | ".join(str(ended.count(kind)) for kind in ("confirmed", "fitted", "cap"))
        out.append(f"| {sigma:g} | {len(ended)} | {counts} |")
    return out


def estimator_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The adaptive policy with the PCA σ̂ (shipped) against the wavelet σ̂ the runs recorded."""
    rows = [r for r in rows if r.get("wavelet_policy")]
    if not rows:
        return []
    out = [
        "",
        "## The noise estimate: PCA (shipped) against the wavelet rule",
        "",
        "The runs recorded σ̂ from Donoho's wavelet rule, which reads high on textured images; "
        "the shipped estimate is the patch-PCA one (`autodip.analysis.noise_level`). Every "
        "table above replays the shipped one: σ̂ measured again on each run's noisy input, CIFS "
        "rescored with λ(σ̂) (`autodip.bench.restimate`, exact). Here the adaptive policy under "
        "each, mean PSNR (dB) and mean halt step, and the mean |σ̂/σ − 1|.",
        "",
        "| σ | runs | wavelet: PSNR | wavelet: halt | wavelet: mean error of σ̂ | PCA: PSNR | "
        "PCA: halt | PCA: mean error of σ̂ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sigma in sorted({r["sigma"] for r in rows}):
        group = [r for r in rows if r["sigma"] == sigma]
        out.append(
            f"| {sigma:g} | {len(group)} | "
            f"{_mean([r['wavelet_policy']['psnr'] for r in group]):.2f} | "
            f"{_mean([r['wavelet_policy']['halt'] for r in group]):.0f} | "
            f"{_mean([abs(r['wavelet_sigma_hat'] / sigma - 1) for r in group]):.1%} | "
            f"{_mean([r['adaptive']['psnr'] for r in group]):.2f} | "
            f"{_mean([r['adaptive']['halt'] for r in group]):.0f} | "
            f"{_mean([abs(r['sigma_hat'] / sigma - 1) for r in group]):.1%} |"
        )
    return out


def markdown(data: dict[str, Any]) -> str:
    rows, total = data["defaults"], data["jobs_cached"]
    networks = ", ".join(sorted({r["network"] for r in rows})) or "none yet"
    which = (
        " (named by `--network`)"
        if data["network"]
        else " (the default width for the crop size and its σ̂)"
    )
    folder = Path(data["runs"])
    whole = data.get("whole_images", False)
    size = "on whole images" if whole else "at 256²"
    out = [
        f"# The fit guard and the adaptive budget {size}",
        "",
        f"- replays the cached runs of `{folder}/`, written by `autodip bench run --sweep "
        f"benchmarks/sweeps/{folder.name}.json -o {folder}`",
        f"- cached so far: {total} of the sweep's jobs; {len(rows)} default-network runs "
        "(the sweep is multi-session: rerun this script as it grows)",
        f"- defaults replayed: `{networks}`{which}, "
        f"`{DEFAULT_STOP}` with S = {DEFAULT_PATIENCE}, "
        f"budget {DEFAULT_ITERS} (hard) vs adaptive (cap {ADAPTIVE_CAP * DEFAULT_ITERS}); guard "
        f"ratio {GUARD_RATIO}, σ̂ ≥ {GUARD_MIN_SIGMA:g}/255",
        (
            "- whole images: the policy's reasons and its 256² evidence are in "
            "[`guard.md`](guard.md)"
            if whole
            else "- the hourglass of width 32 was denoising's default at every size when this "
            "sweep began; from 3·128² pixels (≈ 222²) the default is width 64 unless σ̂ ≥ "
            f"{TASK_DEFAULTS['denoise'].narrow_from_sigma:g} (then 32): [`guard.md`](guard.md) "
            "replays the default's runs as they arrive, [`guard-w32.md`](guard-w32.md) "
            "(`--network hourglass-w32`) the width-32 ones"
        ),
        "",
        "## Per image: hard budget vs adaptive budget",
        "",
        "PSNR in dB. *adaptive* is the default policy: extend while the returned estimate is "
        "under-fitted (residual above the guard's ratio · σ̂²) or while CIFS has not confirmed a "
        "stop and the residual is above σ̂²; *fired*: it extended the budget. *ratio*: residual "
        "/ σ̂² of the returned estimate. Two other policies beside it: *guard only* (extend only "
        "when under-fitted) and *+unconfirmed* (also while CIFS is unconfirmed, whatever the "
        "residual).",
        "",
        "| image | σ | noisy | BM3D (σ̂) | peak | hard: PSNR | hard: step | hard: ratio | "
        "fired | steps added | adaptive: PSNR | adaptive: step | adaptive: ratio | "
        "under-fitted at the end | guard only: PSNR | +unconfirmed: PSNR | +unconfirmed: step | "
        "σ̂ | wavelet σ̂ | adaptive, wavelet σ̂: PSNR | adaptive, wavelet σ̂: step |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["sigma"], r["image"])):
        h, a = r["hard"], r["adaptive"]
        bm3d = f"{r['bm3d_estimated']:.2f}" if r["bm3d_estimated"] is not None else "–"
        out.append(
            f"| {r['image']} | {r['sigma']:g} | {r['noisy']:.2f} | {bm3d} | {r['peak']:.2f} | "
            f"{h['psnr']:.2f} | {h['stop']} | {h['ratio']:.2f} | "
            f"{'yes' if a['extensions'] else 'no'} | {a['halt'] - h['halt']} | {a['psnr']:.2f} | "
            f"{a['stop']} | {a['ratio']:.2f} | {a['underfitted']} | "
            f"{r['guard_policy']['psnr']:.2f} | "
            f"{r['unconfirmed_policy']['psnr']:.2f} | {r['unconfirmed_policy']['stop']} | "
            f"{r['sigma_hat']:.1f} | {_wavelet_cells(r)} |"
        )
    out += ["", "## Summary by σ", ""]
    out += [
        "| σ | runs | adaptive fired | mean steps added | hard: mean PSNR | adaptive: mean "
        "PSNR | BM3D (σ̂) | below the noisy input (hard → adaptive) | under-fitted at the end "
        "| guard only: mean PSNR | +unconfirmed: mean PSNR | +unconfirmed: mean steps added |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for sigma in sorted({r["sigma"] for r in rows}):
        group = [r for r in rows if r["sigma"] == sigma]
        fired = sum(1 for r in group if r["adaptive"]["extensions"])
        added = _mean([r["adaptive"]["halt"] - r["hard"]["halt"] for r in group])
        below_hard = sum(1 for r in group if r["hard"]["psnr"] < r["noisy"])
        below_adaptive = sum(1 for r in group if r["adaptive"]["psnr"] < r["noisy"])
        bm3d = [r["bm3d_estimated"] for r in group if r["bm3d_estimated"] is not None]
        out.append(
            f"| {sigma:g} | {len(group)} | {fired} | {added:.0f} | "
            f"{_mean([r['hard']['psnr'] for r in group]):.2f} | "
            f"{_mean([r['adaptive']['psnr'] for r in group]):.2f} | {_mean(bm3d):.2f} | "
            f"{below_hard} → {below_adaptive} | "
            f"{sum(1 for r in group if r['adaptive']['underfitted'])} | "
            f"{_mean([r['guard_policy']['psnr'] for r in group]):.2f} | "
            f"{_mean([r['unconfirmed_policy']['psnr'] for r in group]):.2f} | "
            f"{_mean([r['unconfirmed_policy']['halt'] - r['hard']['halt'] for r in group]):.0f} |"
        )
    out += ending_markdown(rows)
    out += estimator_markdown(rows)
    out += [] if whole else ["", WHY_UNCONFIRMED]
    out += [
        "",
        "## The extension threshold replayed",
        "",
        "The default policy with the residual threshold for extending an unconfirmed run "
        f"(shipped: {EXTEND_ABOVE_RATIO:g} σ̂²) replaced; mean PSNR (dB) and mean halt step, "
        "per σ. σ̂ reads high on textured images, where the shipped threshold can stop "
        "extending a run that still improves. With the discrepancy criterion confirming beside "
        "CIFS (shipped) the threshold is not used where the guard judges, so the rows are level; "
        "it applies with `--also-confirm none`.",
        "",
        "| σ | runs | " + " | ".join(f"× {t:g}: PSNR | × {t:g}: halt" for t in THRESHOLDS) + " |",
        "|---|---|" + "---|---|" * len(THRESHOLDS),
    ]
    for sigma in sorted({r["sigma"] for r in data["thresholds"]}):
        cells = [r for r in data["thresholds"] if r["sigma"] == sigma]
        values = " | ".join(f"{c['psnr']:.2f} | {c['halt']:.0f}" for c in cells)
        out.append(f"| {sigma:g} | {cells[0]['runs']} | {values} |")
    out += [
        "",
        "## The confirmation gate replayed",
        "",
        "The default policy with the confirmation gate (a stop may be confirmed only once the "
        f"residual is at most the gate × σ̂²; shipped: {CONFIRM_BELOW_RATIO:g}) replaced; "
        "*none*: no gate. Per σ: mean PSNR (dB), mean gap to the run's own peak (dB), mean halt "
        "step, stops confirmed, and crops more than 2 dB under BM3D (σ̂).",
        "",
        "| σ | gate | runs | PSNR | gap to peak | halt | confirmed | > 2 dB under BM3D |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in data["gates"]:
        gate = "none" if row["gate"] is None else f"{row['gate']:g}"
        out.append(
            f"| {row['sigma']:g} | {gate} | {row['runs']} | {row['psnr']:.2f} | "
            f"{row['gap']:.2f} | {row['halt']:.0f} | {row['confirmed']} | "
            f"{row['under_bm3d_2db']} |"
        )
    out += [
        "",
        "## The adaptive policy with each criterion",
        "",
        f"The shipped policy (S = {DEFAULT_PATIENCE}, budget {DEFAULT_ITERS} adaptive up to "
        f"{ADAPTIVE_CAP * DEFAULT_ITERS}) with another recorded criterion as the primary one: "
        "mean PSNR (dB), mean halt step, stops confirmed.",
        "",
        "| σ | runs | "
        + " | ".join(f"{c}: PSNR | {c}: halt | {c}: confirmed" for c in POLICY_CRITERIA)
        + " |",
        "|---|---|" + "---|---|---|" * len(POLICY_CRITERIA),
    ]
    for sigma in sorted({r["sigma"] for r in data["policies"]}):
        cells = [r for r in data["policies"] if r["sigma"] == sigma]
        values = " | ".join(
            f"{c['psnr']:.2f} | {c['halt']:.0f} | {c['confirmed']}/{c['runs']}" for c in cells
        )
        out.append(f"| {sigma:g} | {cells[0]['runs']} | {values} |")
    out += either_markdown(data["either"])
    out += [
        "",
        "## Calibration: residual / σ̂² at each run's own PSNR peak (every network)",
        "",
        "Runs still rising in their last tenth are left out (no peak to calibrate on).",
        "",
        "| degradation | runs | min | median | max |",
        "|---|---|---|---|---|",
    ]
    for label, c in data["calibration"].items():
        out.append(
            f"| {label} | {c['runs']} | {c['min']:.2f} | {c['median']:.2f} | {c['max']:.2f} |"
        )
    out += [
        "",
        f"## Stopping criteria at S = {data['patience']}: PSNR at the stop and gap to the run's "
        "peak",
        "",
        "`holdout` and `osc` run on their own objective (pixels hidden / pseudo-noise added); "
        "*objective cost* is the plain run's peak minus that run's peak (what the changed "
        "objective costs before any stopping). OSC uses its own default patience. Each criterion "
        "alone, as recorded: the whole trajectory, no adaptive budget and no confirmation gate "
        "(the policy tables above have both).",
        "",
        "| degradation | network | criterion | runs | mean PSNR | mean gap | max gap | confirmed "
        "| objective cost |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in data["criteria"]:
        groups[(r["degradation"], r["network"], r["criterion"])].append(r)
    for (label, network, name), group in sorted(
        groups.items(), key=lambda kv: (float(kv[0][0].split(":")[1]), kv[0][1], kv[0][2])
    ):
        costs = [r["objective_cost"] for r in group if r["objective_cost"] is not None]
        out.append(
            f"| {label} | {network} | {name} | {len(group)} | "
            f"{_mean([r['psnr'] for r in group]):.2f} | {_mean([r['gap'] for r in group]):.2f} | "
            f"{max(r['gap'] for r in group):.2f} | "
            f"{sum(r['confirmed'] for r in group)}/{len(group)} | "
            f"{f'{_mean(costs):.2f}' if costs else '–'} |"
        )
    out += [
        "",
        "## Real camera noise (CC15): what σ̂ reads",
        "",
        f"The guard judges only where σ̂ ≥ {GUARD_MIN_SIGMA:g}/255. *noise std* is the std of "
        "(noisy − the mean of many shots), which also holds the mean's own small error.",
        "",
        "| image | σ̂ (0–255) | noise std (0–255) | guard judges |",
        "|---|---|---|---|",
    ]
    for r in data["cc15"]:
        out.append(
            f"| {r['image']} | {r['sigma_hat']:.2f} | {r['noise_std']:.2f} | "
            f"{'yes' if r['sigma_hat'] >= GUARD_MIN_SIGMA else 'no'} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/results/dev256"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/guard.md"))
    parser.add_argument("--patience", type=int, default=DEFAULT_PATIENCE)
    parser.add_argument(
        "--own",
        type=Path,
        help="results folder whose holdout and osc runs (their own objective) join the criteria "
        "comparison, if it exists (default: the --runs folder's name with -own, e.g. "
        "dev256-own: runs of the same crops)",
    )
    parser.add_argument(
        "--network",
        help="replay this network's runs (e.g. hourglass-w32) instead of the default for the size",
    )
    args = parser.parse_args()
    recorded = load_runs(args.runs)
    runs = current(recorded)
    own_folder = args.own or args.runs.parent / f"{args.runs.name}-own"
    own = [r for r in load_runs(own_folder) if r["job"]["kind"] in ("holdout", "osc")]
    data = {
        "runs": str(args.runs),
        "whole_images": any(
            r["job"].get("crop") is None for r in runs if r["job"]["kind"] == "dip"
        ),
        "network": args.network,
        "jobs_cached": len(runs),
        "patience": args.patience,
        "defaults": default_rows(
            runs, bm3d_estimated(runs), args.network, {r["job"]["key"]: r for r in recorded}
        ),
        "thresholds": threshold_rows(runs, args.network),
        "gates": gate_rows(runs, bm3d_estimated(runs), args.network),
        "policies": criterion_policy_rows(runs, args.network),
        "either": either_rows(runs, bm3d_estimated(runs), args.network),
        "calibration": calibration(runs),
        "criteria": criteria_rows(runs + own, args.patience),
        "cc15": cc15_sigmas(),
    }
    write_report(args.out, markdown(data), data, provenance())
    print(f"wrote {args.out} ({len(data['defaults'])} default runs, {len(runs)} cached jobs)")


if __name__ == "__main__":
    main()
