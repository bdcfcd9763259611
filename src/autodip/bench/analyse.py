"""From recorded histories to rows and tables: each criterion's stop for each patience ``S``.

For a ``dip`` run and each criterion it recorded, the shared candidate rule
(:func:`autodip.stopping.first_candidate`, the code the online stopper runs) is replayed on the
score trace with patience ``S``; the row holds the stop step, PSNR/SSIM there, the run's peak PSNR
and its step, the last iterate's PSNR, the gap to the peak, the accuracy (PSNR at the stop / peak,
the OSC paper's measure), seconds and iterations per second, and what an online run with that
criterion would have cost: the step at which it halts (``halt``: the first monitored step ``S``
steps after the candidate, or the budget's end when none is confirmed) and ``stop_seconds``, the
time to that step (:func:`step_costs`). The stops are the runner's, confirmation gate included
(a stop is confirmed only once the residual is down to the noise level; ``replay_stop``'s
``opens_at``). Pseudo-criteria ``no-es`` (the last
iterate) and ``peak`` (the oracle) give Takagi et al.'s "No-ES" and "Peak" columns. A denoising
baseline gives one row per σ source (criterion ``"<name> (σ true)"``, ``"<name> (σ estimated)"``),
an inpainting or super-resolution baseline one row under its own name; each has ``baseline`` set.

The two pieces every offline analysis needs are here once, for the sweeps, the calibration and
the scripts under ``benchmarks/``: :func:`replay_stop` (the stop, halt and confirmation of the
shared rule on any recorded score trace) and :func:`peak` / :func:`history_peak` (the oracle).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from autodip import defaults
from autodip.stopping import CandidateRule, first_candidate, list_criteria
from autodip.stopping.fit_guard import GUARD_MIN_SIGMA

COLUMNS = [
    "image", "degradation", "kind_of_degradation", "level", "network", "seed", "criterion",
    "patience", "stop", "confirmed", "psnr", "ssim", "peak", "peak_step", "last", "gap",
    "accuracy", "halt", "stop_seconds", "seconds", "iterations_per_second", "measured_psnr",
]  # fmt: skip


def step_costs(run: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """Seconds per step of the fit alone, and of each recorded criterion.

    A recorded trajectory computes every criterion at once, so an online run with one criterion
    ``c`` costs ``base + own[c]`` per step, where ``own[c]`` is ``c``'s measured time over the
    run's steps and ``base`` the run's time less every criterion's. ``base`` still holds the
    oracle PSNR/SSIM of the benchmark (the same for every row).
    """
    iterations = max(int(run["iterations"]), 1)
    own = {name: float(c.get("seconds") or 0.0) / iterations for name, c in run["criteria"].items()}
    base = max(float(run["seconds"]) / iterations - sum(own.values()), 0.0)
    return base, own


def replay_stop(
    steps: Sequence[int],
    scores: Sequence[float],
    patience: int,
    lower_is_better: bool = True,
    end: int | None = None,
    opens_at: float = 0,
) -> tuple[int, int, bool]:
    """Where the shared rule stops a recorded score trace cut at step ``end``.

    The offline twin of the online stopper: :func:`~autodip.stopping.first_candidate` is replayed
    on the scores up to ``end`` (default: the trace's last step). An online run halts at the first
    monitored step at least ``patience`` steps after the candidate (that is when
    :class:`~autodip.stopping.CandidateRule` confirms it) or, unconfirmed, at ``end``, and returns
    the candidate's estimate; with no score at all it returns its last estimate, at ``end``.

    ``opens_at`` replays the stopper's confirmation gate
    (:attr:`autodip.stopping.Stopper.gate_opens_at`): before that step no candidate is confirmed,
    and the rule starts afresh at the first score from there on. Where no score up to ``end``
    is at or after ``opens_at`` (``math.inf``: the gate never opened), the online rule has taken
    every score without confirming: its running best, the best score up to ``end``, is returned,
    unconfirmed. (A lagging criterion's scores of steps just before the gate, which the online
    stopper leaves out of its rule, cannot be told apart here; the offline gate is exact for
    criteria without lag.)

    Returns
    -------
    tuple
        ``(stop, halt, confirmed)``: the returned step, the step the run ends at, and whether the
        rule confirmed the stop.

    Examples
    --------
    >>> replay_stop([10, 20, 30, 40, 50], [5.0, 3.0, 4.0, 4.5, 6.0], patience=20)
    (20, 40, True)
    >>> replay_stop([10, 20, 30], [5.0, 3.0, 4.0], patience=20)
    (20, 30, False)
    >>> replay_stop([10, 20, 30, 40, 50], [5.0, 3.0, 4.0, 4.5, 6.0], patience=20, opens_at=30)
    (30, 50, True)
    >>> replay_stop([10, 20, 30, 40, 50, 60], [5, 3, 4, 4.5, 2, 6], patience=20, opens_at=math.inf)
    (50, 60, False)
    """
    if end is None:
        if not steps:
            raise ValueError("an empty score trace needs its run's last step as end")
        end = steps[-1]
    kept = [(s, v) for s, v in zip(steps, scores, strict=True) if s <= end]
    if not kept:
        return end, end, False
    gated = [(s, v) for s, v in kept if s >= opens_at]
    if not gated:  # the gate stayed shut: the running best, never confirmed
        rule = CandidateRule(patience, lower_is_better)
        for step, score in kept:
            rule.observe(step, score)
        return rule.decision(kept[-1][0]).best_step, end, False
    kept_steps = [s for s, _ in gated]
    verdict = first_candidate(kept_steps, [v for _, v in gated], patience, lower_is_better)
    stop, confirmed = verdict.best_step, verdict.confirmed
    halt = next(s for s in kept_steps if s - stop >= patience) if confirmed else end
    return stop, halt, confirmed


def gate_opens_at(
    run: dict[str, Any],
    ratio: float | None = defaults.CONFIRM_BELOW_RATIO,
    min_sigma: float = GUARD_MIN_SIGMA,
) -> float:
    """The first monitored step whose residual is at most ``ratio``·σ̂², where the stopper's
    confirmation gate opens (:attr:`autodip.stopping.Stopper.gate_opens_at`).

    0 (open from the start) where the guard cannot judge (σ̂ below ``min_sigma``, by default
    :data:`~autodip.stopping.fit_guard.GUARD_MIN_SIGMA`; no residual recorded) or ``ratio`` is
    ``None``; ``math.inf`` where the residual never comes down that far.

    Examples
    --------
    >>> run = {"sigma_hat": 25.5, "history": [{"step": 10, "residual": 0.02},
    ...                                       {"step": 20, "residual": 0.0105}]}
    >>> gate_opens_at(run, 1.1), gate_opens_at(run, 1.0), gate_opens_at(run, None)
    (20, inf, 0)
    """
    sigma = float(run.get("sigma_hat") or 0.0)
    if ratio is None or sigma < min_sigma:
        return 0
    variance = (sigma / 255.0) ** 2
    for record in run["history"]:
        residual = record.get("residual")
        if residual is None:
            return 0
        if residual <= ratio * variance:
            return int(record["step"])
    return math.inf


def criterion_gate(
    run: dict[str, Any], criterion: str, confirm_below: float | None = defaults.CONFIRM_BELOW_RATIO
) -> float:
    """Where the confirmation gate opens for ``criterion`` as the primary of a run like ``run``:
    :func:`gate_opens_at`, or 0 for a criterion that is not gated (``fixed``, ``oracle``).

    A run with a two-stage retarget opens its gate at the stage boundary online; the sweeps do not
    record such runs, and this replay does not model it.
    """
    registered = list_criteria().get(criterion)
    if registered is not None and not registered.gated:
        return 0
    return gate_opens_at(run, confirm_below)


def criterion_stop(
    run: dict[str, Any],
    name: str,
    patience: int,
    budget: int | None = None,
    opens_at: float = 0,
) -> dict[str, Any]:
    """Where criterion ``name`` with patience ``S`` stops a recorded run cut at ``budget`` steps.

    Its recorded scores are replayed by :func:`replay_stop` up to ``budget`` (default: the run's
    last step), with the confirmation gate opening at step ``opens_at``.

    Returns
    -------
    dict
        ``stop`` (the returned step), ``halt``, ``confirmed``, ``psnr``/``ssim`` at ``stop`` and
        ``stop_seconds`` (``halt`` steps at :func:`step_costs`' rate for this criterion).
    """
    history = run["history"]
    end = history[-1]["step"] if budget is None else min(budget, history[-1]["step"])
    trace = run["criteria"][name]
    stop, halt, confirmed = replay_stop(
        trace["steps"], trace["scores"], patience, trace["lower_is_better"], end, opens_at
    )
    record = record_at(history, stop)
    base, own = step_costs(run)
    return {"stop": stop, "halt": halt, "confirmed": confirmed, "psnr": record["psnr"],
            "ssim": record["ssim"], "stop_seconds": halt * (base + own[name])}  # fmt: skip


def peak(
    steps: Sequence[int], values: Sequence[float], until: int | None = None
) -> tuple[float, int]:
    """The largest of ``values`` and its step (the first, on a tie), over steps up to ``until``.

    The oracle every benchmark compares a stop with: a run's peak PSNR and where it is.

    Examples
    --------
    >>> peak([10, 20, 30, 40], [20.0, 25.5, 25.5, 24.0])
    (25.5, 20)
    >>> peak([10, 20, 30, 40], [20.0, 25.5, 25.5, 24.0], until=15)
    (20.0, 10)
    """
    if until is not None:
        kept = [(s, v) for s, v in zip(steps, values, strict=True) if s <= until]
        steps, values = [s for s, _ in kept], [v for _, v in kept]
    if not len(values):
        raise ValueError("no values to take the peak of")
    best = int(np.argmax(np.asarray(values, dtype=float)))
    return float(values[best]), int(steps[best])


def history_peak(history: list[dict[str, Any]], until: int | None = None) -> tuple[float, int]:
    """:func:`peak` of the PSNR in a run's ``history`` (records with ``step`` and ``psnr``)."""
    return peak([h["step"] for h in history], [h["psnr"] for h in history], until)


def record_at(history: list[dict[str, Any]], step: int) -> dict[str, Any]:
    """The history entry of ``step`` (or the nearest later one)."""
    steps = [h["step"] for h in history]
    return history[int(np.searchsorted(steps, step).clip(0, len(steps) - 1))]


def run_rows(run: dict[str, Any], patiences: list[int]) -> list[dict[str, Any]]:
    """The rows of one cached run (see the module docstring).

    Each criterion's stop is the one ``autodip denoise --stop NAME --iters N`` would return, the
    confirmation gate included (:func:`criterion_gate`).
    """
    job = run["job"]
    base = {k: job[k] for k in ("image", "degradation", "kind_of_degradation", "level", "seed")}
    base["measured_psnr"] = run.get("measured_psnr")
    if job["kind"] == "baseline":
        labels = {"true": " (σ true)", "estimated": " (σ estimated)", "result": ""}
        return [
            {
                **base,
                "network": "",
                "criterion": job["baseline"] + label,
                "baseline": job["baseline"],
                "psnr": run[which]["psnr"],
                "ssim": run[which]["ssim"],
                "seconds": run[which]["seconds"],
                **({"sigma": run[which]["sigma"]} if "sigma" in run[which] else {}),
            }
            for which, label in labels.items()
            if which in run
        ]
    history = run["history"]
    steps = [h["step"] for h in history]
    top, top_step = history_peak(history)
    best, last = steps.index(top_step), float(history[-1]["psnr"])
    base |= {
        "network": job["network"],
        "peak": top,
        "peak_step": top_step,
        "last": last,
        "seconds": run["seconds"],
        "iterations_per_second": run["iterations"] / run["seconds"] if run["seconds"] else None,
    }
    base_cost, _ = step_costs(run)
    rows = []
    if job["kind"] == "dip":
        rows.append(
            {
                **base,
                "criterion": "no-es",
                "stop": steps[-1],
                "halt": steps[-1],
                "stop_seconds": steps[-1] * base_cost,
                "psnr": last,
                "ssim": history[-1]["ssim"],
                "gap": top - last,
                "accuracy": last / top,
            }
        )
        rows.append({**base, "criterion": "peak", "stop": top_step, "psnr": top,
                     "ssim": history[best]["ssim"], "gap": 0.0, "accuracy": 1.0})  # fmt: skip
    for name, trace in run["criteria"].items():
        for patience in [*patiences, None]:
            s = trace["default_patience"] if patience is None else patience
            if patience is None and s in patiences:
                continue  # the default is already among the patiences asked for
            found = criterion_stop(run, name, s, opens_at=criterion_gate(run, name))
            rows.append({**base, "criterion": name, "patience": s, **found,
                         "gap": top - found["psnr"], "accuracy": found["psnr"] / top,
                         "default_patience": patience is None})  # fmt: skip
    return rows


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and (population) standard deviation, ignoring missing values."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return math.nan, math.nan
    return float(np.mean(clean)), float(np.std(clean))


def table(rows: list[dict[str, Any]], patience: int, value: str = "psnr") -> str:
    """Seed 000 Table 1's layout: one row per degradation, criteria (at ``patience``) as columns,
    then No-ES, Peak and the baselines; cells are mean ± std over images and seeds.
    """
    columns: list[str] = []
    baselines = {r["criterion"] for r in rows if r.get("baseline")}
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in rows:
        name = row["criterion"]
        if row.get("patience") not in (None, patience) or row.get("default_patience"):
            continue
        label = name
        if row.get("network") and len({r.get("network") for r in rows} - {""}) > 1:
            label = f"{name} [{row['network']}]"
        if label not in columns:
            columns.append(label)
        cells[row["degradation"], label].append(row.get(value))
    order = sorted(columns, key=lambda c: (c in baselines, c.startswith(("no-es", "peak")), c))
    degradations = sorted({r["degradation"] for r in rows}, key=_degradation_order)
    lines = [
        "| degradation | " + " | ".join(order) + " |",
        "|---|" + "---|" * len(order),
    ]
    for d in degradations:
        parts = []
        for c in order:
            m, s = mean_std(cells.get((d, c), []))
            parts.append("—" if math.isnan(m) else f"{m:.2f} ± {s:.2f}")
        lines.append(f"| {d} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def _degradation_order(label: str) -> tuple[str, float]:
    kind, _, level = label.partition(":")
    return kind, float(level or 0)
