"""Choose defaults from a sweep: which (network, criterion, patience, budget) earns its seconds.

Every recorded trajectory is replayed (:func:`~autodip.bench.analyse.criterion_stop`) for each
criterion, patience ``S`` and iteration budget ``B`` (a run cut at ``B`` steps: the criteria are
causal, so the cut trace is what an online run with that budget would have seen). A combination's
quality is its mean PSNR at the stop over the sweep's runs; its cost the mean ``stop_seconds``, the
time an online run takes to halt. The rule (:func:`pick`):

1. keep the combinations whose mean PSNR at the stop is within ``tolerance`` dB of the best one;
2. of those, take the one with the most dB gained over the input per second,
   ``mean(PSNR_stop − PSNR_input) / mean(stop_seconds)``.

The plain ratio "PSNR per second" alone would reward stopping early whatever the quality (a run
that halts after 100 steps of a noisy estimate gains little but fast), hence step 1. The fixed
budget without a stop (``no-es``) is ranked beside the criteria for reference but is not chosen
as a stopping criterion.

Hard budgets are what :func:`replay` gives. The runner's adaptive budget (a nominal budget that
the fit guard extends up to a cap, :mod:`autodip.core.budget`) is a candidate too:
:func:`adaptive_samples` replays it (:func:`autodip.bench.adaptive.replay_adaptive`) so that the
same rule compares both kinds on the same runs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from autodip.bench.adaptive import criterion_gate, replay_adaptive
from autodip.bench.analyse import criterion_stop, step_costs

DEFAULT_TOLERANCE_DB = 0.1
NO_STOP = "no-es"


@dataclass(frozen=True)
class Combination:
    """One candidate default and its means over the sweep's runs."""

    network: str
    criterion: str
    patience: int | None
    budget: int
    runs: int
    psnr: float
    gain: float
    seconds: float
    confirmed: float
    degradation: str = "all"
    cap: int | None = None  # an adaptive budget: ``budget`` extended up to ``cap`` steps

    @property
    def gain_per_second(self) -> float:
        """Mean dB gained over the input per mean second of run time."""
        return self.gain / self.seconds if self.seconds > 0 else math.nan

    @property
    def budget_label(self) -> str:
        """``"3000"`` for a hard budget, ``"1500 → 4500"`` for an adaptive one."""
        return str(self.budget) if self.cap is None else f"{self.budget} → {self.cap}"


def budgets_for(iters: int, step: int = 500) -> list[int]:
    """The budgets to try: multiples of ``step`` up to ``iters``, and ``iters`` itself.

    Examples
    --------
    >>> budgets_for(3000)
    [500, 1000, 1500, 2000, 2500, 3000]
    >>> budgets_for(40)
    [40]
    """
    return sorted({*range(step, iters + 1, step), iters})


#: (network, criterion, patience, budget, cap — ``None`` for a hard budget), degradation, values
Sample = tuple[tuple[str, str, int | None, int, int | None], str, dict[str, float]]


def replay(runs: list[dict[str, Any]], patiences: list[int], budgets: list[int]) -> list[Sample]:
    """One sample per (run, network, criterion, patience, budget): its key, degradation, values.

    Only runs that know their input's PSNR (denoising, SR with a matching reference) count. Each
    criterion's stop is replayed with the runner's confirmation gate
    (:func:`autodip.bench.adaptive.criterion_gate`).
    """
    samples: list[Sample] = []
    for run in runs:
        if run["job"]["kind"] == "baseline" or run.get("measured_psnr") is None:
            continue
        network, measured = run["job"]["network"], run["measured_psnr"]
        degradation = run["job"]["degradation"]
        fit_cost = step_costs(run)[0]
        for budget in budgets:
            if run["job"]["kind"] == "dip":
                cut = [h for h in run["history"] if h["step"] <= budget] or run["history"][:1]
                end = cut[-1]
                values = _sample(end["psnr"], measured, end["step"] * fit_cost, True)
                samples.append(((network, NO_STOP, None, budget, None), degradation, values))
            for name in run["criteria"]:
                for patience in patiences:
                    # the runner's confirmation gate holds under a hard budget too
                    stop = criterion_stop(run, name, patience, budget, criterion_gate(run, name))
                    values = _sample(
                        stop["psnr"], measured, stop["stop_seconds"], stop["confirmed"]
                    )
                    samples.append(((network, name, patience, budget, None), degradation, values))
    return samples


def adaptive_samples(
    runs: list[dict[str, Any]], patiences: list[int], nominals: list[int], cap_factor: int
) -> list[Sample]:
    """One sample per (run, criterion, patience, nominal budget) under the adaptive budget.

    The cap is ``cap_factor`` × the nominal budget, as the runner's; a nominal budget whose cap
    lies beyond a run's last recorded step is left out for that run (a trajectory says nothing
    beyond it, and a cap cut short is not a budget the runner has). Seconds are the halt step at
    :func:`step_costs`' rate for the criterion, as for a hard budget. Only ``dip`` runs that know
    their input's PSNR count.
    """
    samples: list[Sample] = []
    for run in runs:
        if run["job"]["kind"] != "dip" or run.get("measured_psnr") is None:
            continue
        network, measured = run["job"]["network"], run["measured_psnr"]
        base, own = step_costs(run)
        last = run["history"][-1]["step"]
        for nominal in nominals:
            cap = cap_factor * nominal
            if cap > last:
                continue
            for name in run["criteria"]:
                for patience in patiences:
                    replayed = replay_adaptive(run, name, patience, nominal, cap)
                    values = _sample(
                        replayed.psnr,
                        measured,
                        replayed.halt * (base + own[name]),
                        replayed.confirmed,
                    )
                    key = (network, name, patience, nominal, cap)
                    samples.append((key, run["job"]["degradation"], values))
    return samples


def summarise(samples: list[Sample], by_degradation: bool = False) -> list[Combination]:
    """Mean each combination's samples (per degradation with ``by_degradation``), best first."""
    found: dict[tuple[tuple[str, str, int | None, int, int | None], str], list[dict[str, float]]]
    found = defaultdict(list)
    for key, degradation, values in samples:
        found[key, degradation if by_degradation else "all"].append(values)
    out = []
    for ((network, criterion, patience, budget, cap), group), values in found.items():
        n = len(values)
        mean = {k: sum(v[k] for v in values) / n for k in ("psnr", "gain", "seconds", "confirmed")}
        out.append(
            Combination(network, criterion, patience, budget, n, **mean, degradation=group, cap=cap)
        )
    return sorted(out, key=lambda c: -c.psnr)


def combinations(
    runs: list[dict[str, Any]],
    patiences: list[int],
    budgets: list[int],
    by_degradation: bool = False,
) -> list[Combination]:
    """Every (network, criterion, patience, budget) of ``runs`` with its means, best first.

    :func:`replay` then :func:`summarise`; with ``by_degradation`` the means are taken per
    degradation (``"gaussian:25"``…) instead of over all runs.
    """
    return summarise(replay(runs, patiences, budgets), by_degradation)


def _sample(psnr: float, measured: float, seconds: float, confirmed: bool) -> dict[str, float]:
    return {
        "psnr": psnr,
        "gain": psnr - measured,
        "seconds": seconds,
        "confirmed": float(confirmed),
    }


def pick(
    candidates: list[Combination], tolerance: float = DEFAULT_TOLERANCE_DB
) -> tuple[Combination, list[Combination]]:
    """The chosen combination and the ones within ``tolerance`` dB of the best (see module doc).

    Raises
    ------
    ValueError
        When there is no combination with a stopping criterion, or runs counts differ (an
        unfinished sweep would compare means over different images).
    """
    stopping = [c for c in candidates if c.criterion != NO_STOP]
    if not stopping:
        raise ValueError("no combination with a stopping criterion to choose from")
    counts = {c.runs for c in stopping}
    if len(counts) > 1:
        raise ValueError(
            f"combinations are averaged over different numbers of runs ({sorted(counts)}): "
            "finish the sweep before choosing"
        )
    best = max(c.psnr for c in stopping)
    near = [c for c in stopping if c.psnr >= best - tolerance]
    return max(near, key=lambda c: c.gain_per_second), sorted(near, key=lambda c: -c.psnr)


def markdown(
    candidates: list[Combination],
    tolerance: float = DEFAULT_TOLERANCE_DB,
    top: int = 15,
    per_degradation: list[Combination] | None = None,
) -> str:
    """The choice, its near rivals and the best of each criterion, as Markdown.

    ``per_degradation`` (from ``combinations(..., by_degradation=True)``) adds the chosen
    combination's means per degradation.
    """
    chosen, near = pick(candidates, tolerance)
    header = [
        "| network | criterion | S | budget | runs | PSNR at stop | gain (dB) | seconds | "
        "dB/s | confirmed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def line(c: Combination) -> str:
        mark = " **(chosen)**" if c == chosen else ""
        s = "—" if c.patience is None else str(c.patience)
        return (
            f"| {c.network} | {c.criterion}{mark} | {s} | {c.budget_label} | {c.runs} "
            f"| {c.psnr:.2f} | {c.gain:.2f} | {c.seconds:.1f} | {c.gain_per_second:.3f} "
            f"| {c.confirmed:.0%} |"
        )

    best_each: dict[tuple[str, str, bool], Combination] = {}
    for c in candidates:  # sorted by PSNR: the first seen is the best
        best_each.setdefault((c.network, c.criterion, c.cap is None), c)
    return "\n".join(
        [
            f"Rule: of the combinations within {tolerance} dB of the best mean PSNR at the stop, "
            "the one gaining the most dB over the input per second of run time "
            "(`autodip.bench.choose`).",
            "",
            f"Chosen: **{chosen.network}, {chosen.criterion}, S = {chosen.patience}, "
            f"budget {chosen.budget_label}**: {chosen.psnr:.2f} dB in {chosen.seconds:.1f} s on "
            "average.",
            "",
            f"### Within {tolerance} dB of the best ({len(near)})",
            "",
            *header,
            *(line(c) for c in near[:top]),
            "",
            "### Best (network, criterion, hard or adaptive budget) by PSNR at the stop",
            "",
            *header,
            *(line(c) for c in sorted(best_each.values(), key=lambda c: -c.psnr)),
            *_split_lines(chosen, per_degradation or [], header, line),
        ]
    )


def _split_lines(
    chosen: Combination, split: list[Combination], header: list[str], line: Any
) -> list[str]:
    same = [
        c
        for c in split
        if (c.network, c.criterion, c.patience, c.budget, c.cap)
        == (chosen.network, chosen.criterion, chosen.patience, chosen.budget, chosen.cap)
    ]
    if not same:
        return []
    rows = [line(c).replace("| ", f"| {c.degradation} | ", 1) for c in same]
    return ["", "### The chosen combination per degradation", "",
            "| degradation " + header[0], "|---" + header[1], *sorted(rows)]  # fmt: skip


def write_csv(path: Any, candidates: list[Combination]) -> None:
    """Every combination (and its dB per second) as CSV, for any comparison the report omits."""
    import csv
    import io
    from dataclasses import asdict

    from autodip.reporting.files import _atomic_write_bytes

    buffer = io.StringIO()
    fields = [*Combination.__dataclass_fields__, "gain_per_second"]
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows({**asdict(c), "gain_per_second": c.gain_per_second} for c in candidates)
    _atomic_write_bytes(path, buffer.getvalue().encode())
