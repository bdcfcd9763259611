"""Replay the adaptive budget and the fit guard on a recorded trajectory.

A ``dip`` run of the development sweep records, at every monitored step, the PSNR, the residual
of the estimate on the measurement, and every criterion's score, over a budget as long as the
adaptive budget's cap. Since the criteria and the guard are causal, what an online run with the
default settings would have done can be found afterwards, exactly as
:class:`autodip.core.budget.Budget` decides it (policy ``"default"``): at the budget's end, go on by
half the nominal budget while the estimate the run would return is under-fitted (residual above
``ratio``·σ̂², σ̂ at least :data:`autodip.stopping.fit_guard.GUARD_MIN_SIGMA`), or while the primary
criterion has not confirmed a stop and that residual is above
:data:`autodip.defaults.EXTEND_ABOVE_RATIO`·σ̂² (or cannot be judged), up to the cap. Two other
policies are replayed for comparison: ``"guard"`` (under-fitted only) and ``"unconfirmed"``
(unconfirmed or under-fitted, whatever the residual).

With ``also`` (the runner's ``also_confirm``, :class:`autodip.stopping.Stopper`), a second
criterion's confirmation also stops the run, where the guard can judge, and the run returns the
primary criterion's best estimate up to that step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from autodip import defaults
from autodip.bench.analyse import criterion_gate, criterion_stop, record_at
from autodip.bench.analyse import gate_opens_at as gate_opens_at
from autodip.stopping.fit_guard import GUARD_MIN_SIGMA, GUARD_RATIO

#: ``also`` of :func:`replay_adaptive`: the runner's choice for denoising.
TASK = "task"
#: The extension policies :func:`replay_adaptive` knows.
POLICIES = ("default", "guard", "unconfirmed")


@dataclass(frozen=True)
class AdaptiveReplay:
    """What the adaptive budget did on one recorded run.

    Attributes
    ----------
    stop, halt
        The returned step and the step the run ends at.
    confirmed
        Whether a rule confirmed the stop: the primary criterion's, or ``also``'s.
    limit
        The budget in force at the end (the nominal budget when never extended).
    extensions
        How many times the budget was extended, and ``extended_for`` the reasons, in order.
    psnr, ratio
        PSNR and residual / σ̂² of the returned estimate.
    underfitted
        The guard's verdict on the returned estimate (``None``: σ̂ too low to judge).
    confirmed_by
        The criterion whose rule confirmed the stop (``None``: none did).
    """

    stop: int
    halt: int
    confirmed: bool
    limit: int
    extensions: int
    extended_for: tuple[str, ...]
    psnr: float
    ratio: float | None
    underfitted: bool | None
    confirmed_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)


def residual_ratio(run: dict[str, Any], step: int) -> float | None:
    """The residual of the estimate at ``step`` over σ̂² (``None`` without both)."""
    sigma = run.get("sigma_hat")
    residual = record_at(run["history"], step).get("residual")
    if residual is None or not sigma:
        return None
    return float(residual) / (float(sigma) / 255.0) ** 2


def _sigma(run: dict[str, Any]) -> float:
    return float(run.get("sigma_hat") or 0.0)


def _first_confirmed(
    run: dict[str, Any],
    primary: str,
    also: str | None,
    patience: int,
    limit: int,
    opens_at: float,
    confirm_below: float | None,
) -> tuple[int, int, bool, str | None]:
    """Returned step, halt, confirmed and by whom, for ``primary`` (and ``also``) cut at ``limit``.

    The primary wins a tie, as the runner asks it first; where ``also`` confirms first, the run
    halts there and returns the primary's best up to that step.
    """
    cut = criterion_stop(run, primary, patience, limit, opens_at)
    if also is not None:
        other = criterion_stop(run, also, patience, limit, criterion_gate(run, also, confirm_below))
        if other["confirmed"] and (not cut["confirmed"] or other["halt"] < cut["halt"]):
            best = criterion_stop(run, primary, patience, other["halt"], opens_at)
            return best["stop"], other["halt"], True, also
    by = primary if cut["confirmed"] else None
    return cut["stop"], cut["halt"], cut["confirmed"], by


def guard_verdict(run: dict[str, Any], step: int, ratio: float = GUARD_RATIO) -> bool | None:
    """The fit guard's verdict on the estimate at ``step`` of a recorded run."""
    measured = residual_ratio(run, step)
    if measured is None or _sigma(run) < GUARD_MIN_SIGMA:
        return None
    return measured > ratio


def replay_adaptive(
    run: dict[str, Any],
    criterion: str,
    patience: int,
    nominal: int,
    cap: int,
    *,
    ratio: float = GUARD_RATIO,
    guard: bool = True,
    policy: str = "default",
    extend_above: float = defaults.EXTEND_ABOVE_RATIO,
    confirm_below: float | None = defaults.CONFIRM_BELOW_RATIO,
    also: str | None = TASK,
) -> AdaptiveReplay:
    """What a run stopped by ``criterion`` (patience ``S``) with an adaptive budget would do.

    Parameters
    ----------
    run
        A cached ``dip`` run whose trajectory reaches ``cap`` steps.
    criterion, patience
        The primary criterion and its ``S``.
    nominal, cap
        The budget and the adaptive budget's cap (``cap == nominal``: a hard budget).
    ratio, guard
        The guard's threshold, and whether the guard may extend the budget at all.
    policy
        ``"default"`` (the runner's), ``"guard"`` or ``"unconfirmed"`` (see the module).
    extend_above
        The default policy extends an unconfirmed run while its residual is above this multiple
        of σ̂² (the runner's :data:`autodip.defaults.EXTEND_ABOVE_RATIO`; other values are replayed
        to choose it).
    confirm_below
        The stopper's confirmation gate (:data:`autodip.defaults.CONFIRM_BELOW_RATIO`;
        ``None``: no gate), replayed by :func:`gate_opens_at`.
    also
        A second criterion (recorded on the run, same ``S``) whose confirmation also stops it,
        as the runner's ``also_confirm``: only where the guard judges (``guard``, the gate on, σ̂
        at least :data:`~autodip.stopping.fit_guard.GUARD_MIN_SIGMA`), gated like the primary.
        :data:`TASK` (the default): as the runner, denoising's
        :data:`~autodip.defaults.DENOISE_ALSO_CONFIRM` when ``criterion`` is denoising's own —
        where the run recorded it (sweeps from before it existed replay without it).
    """
    if also == TASK:
        task = defaults.TASK_DEFAULTS["denoise"]
        wanted = task.also_confirm if criterion == task.stop else None
        also = wanted if wanted in run["criteria"] else None
    last = run["history"][-1]["step"]
    if cap > last:
        raise ValueError(f"the run was recorded to step {last}, the cap is {cap}")
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    chunk = max(int(run["job"].get("monitor_every", 10) or 10), nominal // 2)
    limit, reasons = nominal, []
    opens_at = criterion_gate(run, criterion, confirm_below) if guard else 0
    judged = guard and confirm_below is not None and _sigma(run) >= GUARD_MIN_SIGMA
    second = also if judged else None
    while True:
        # the criterion's stop on the trajectory cut at the current limit (the bench's replay)
        stop, halt, confirmed, by = _first_confirmed(run, criterion, second, patience, limit,
                                                     opens_at, confirm_below)  # fmt: skip
        if confirmed:
            break
        verdict = guard_verdict(run, stop, ratio) if guard else None
        measured = residual_ratio(run, stop)
        # as the runner: where the guard cannot judge, the default policy does not extend
        above_noise = verdict is not None and measured is not None and measured > extend_above
        why = []
        # with a second criterion that confirms, the runner goes on whatever the residual
        if policy == "unconfirmed" or (policy == "default" and (above_noise or second)):
            why.append("unconfirmed")
        if verdict:
            why.append("under-fitted")
        if limit >= cap or not why:
            break
        reasons.append("+".join(why))
        limit = min(cap, limit + chunk)
    return AdaptiveReplay(
        stop=stop,
        halt=halt,
        confirmed=confirmed,
        confirmed_by=by,
        limit=limit,
        extensions=len(reasons),
        extended_for=tuple(reasons),
        psnr=float(record_at(run["history"], stop)["psnr"]),
        ratio=residual_ratio(run, stop),
        underfitted=guard_verdict(run, stop, ratio),
    )
