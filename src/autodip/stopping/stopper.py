"""The stopper: feeds the criteria, applies the candidate rule, keeps the best image.

The runner calls :meth:`Stopper.observe` at every monitored step. One *primary* criterion decides
when to stop; any number of *monitored* criteria are scored on the same trajectory so that they can
be compared (their candidate steps are reported, they never stop the run). One more criterion may
*also confirm* a stop (the denoising default: the discrepancy principle beside CIFS): its
confirmation ends the run too, and the run still returns the primary's best estimate. The
stopper keeps a copy of the estimate at the primary criterion's running best — a copy, because the
estimate tensor keeps changing — and, for criteria whose scores lag (OSC), the few recent estimates
needed to fetch it.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from autodip.physics.operators import Denoise, Operator
from autodip.stopping.base import CandidateRule, Context, Criterion


@dataclass
class Track:
    """One criterion's record on a run: its scores, its rule and the time it cost."""

    criterion: Criterion
    rule: CandidateRule
    steps: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self, step: int) -> dict[str, Any]:
        """Plain-data account: options, patience, candidate step, confirmation, scores, cost."""
        last = self.rule.last_step
        verdict = self.rule.decision(last) if last is not None else None
        return {
            **self.criterion.describe(),
            "patience": self.rule.patience,
            "lower_is_better": self.criterion.lower_is_better,
            "candidate_step": verdict.best_step if verdict else None,
            "confirmed": bool(verdict and verdict.confirmed),
            "seconds": self.seconds,
            "steps": self.steps,
            "scores": self.scores,
            **({"trace": trace} if (trace := self.criterion.trace()) else {}),
        }


def _moved(value: Any, device: torch.device) -> Any:
    """``value`` with every tensor inside it (containers and criteria) moved to ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _moved(v, device) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved(v, device) for v in value]
    if isinstance(value, tuple):
        return tuple(_moved(v, device) for v in value)
    if isinstance(value, deque):
        return deque(_moved(v, device) for v in value)
    if isinstance(value, Track | Criterion):
        value.__dict__.update(_moved(value.__dict__, device))
    return value


class Stopper:
    """Decide when a run stops, from a primary criterion and the shared candidate rule.

    Parameters
    ----------
    primary
        The criterion that stops the run, or ``None`` to run to ``max_iters`` (criteria are still
        recorded).
    monitored
        Further criteria scored on the same trajectory. None of them may change the objective
        (OSC): the network would then fit another target than the primary's.
    patience
        The rule's ``S`` in steps for every criterion; ``None`` uses each criterion's default.
    also_confirms
        A criterion whose confirmed stop also ends the run, as the primary's would; the run then
        returns the primary's best estimate so far. It confirms only at steps where the
        confirmation gate judges (``may_confirm`` not ``None`` in :meth:`observe`): its rule
        needs a trustworthy σ̂ as much as the gate does. ``benchmarks/results/guard.md``
        ("Confirmed by CIFS or by the discrepancy principle") measures the denoising default.
    """

    def __init__(
        self,
        primary: Criterion | None,
        monitored: Sequence[Criterion] = (),
        patience: int | None = None,
        also_confirms: Criterion | None = None,
    ) -> None:
        if also_confirms is not None:
            if primary is None:
                raise ValueError(
                    f"{also_confirms.name} can only confirm a stop beside a primary criterion"
                )
            monitored = [also_confirms, *monitored]
        for criterion in monitored:
            if criterion.changes_objective:
                raise ValueError(
                    f"{criterion.name} changes the objective (the network fits y + pseudo-noise), "
                    f"so it cannot be monitored inside another criterion's run; use it as the "
                    f"primary criterion instead"
                )
        names = [c.name for c in ([primary] if primary else []) + list(monitored)]
        if len(set(names)) != len(names):
            raise ValueError(f"a criterion is listed twice: {', '.join(names)}")
        self.primary = primary
        self.also_confirms = also_confirms
        self.tracks = [
            Track(
                c,
                CandidateRule(
                    c.default_patience if patience is None else patience, c.lower_is_better
                ),
            )
            for c in ([primary] if primary else []) + list(monitored)
        ]
        self.best_image: torch.Tensor | None = None
        self.best_step: int | None = None
        self.confirmed = False
        self.confirmed_by: str | None = None
        self.gate_opens_at: int | None = None
        # the gate of the criterion that also confirms: opened only by a judged step, even beside
        # a primary that is not gated
        self.also_opens_at: int | None = None
        # who the criteria are (options and patience), taken before any run fills in its state
        self._identity = [
            {**t.criterion.describe(), "patience": t.rule.patience} for t in self.tracks
        ]
        if also_confirms is not None:
            self._identity[1]["also_confirms"] = True
        self._recent: deque[tuple[int, torch.Tensor]] = deque()

    @property
    def criteria(self) -> list[Criterion]:
        """All criteria, the primary first."""
        return [t.criterion for t in self.tracks]

    def start(
        self,
        target: torch.Tensor,
        seed: int,
        reference: torch.Tensor | None,
        operator: Operator | None = None,
    ) -> torch.Tensor | None:
        """Reset for a run on ``target``; return the primary's objective offset, if any.

        Raises ``ValueError`` if a criterion needs a reference that is missing, or does not apply
        to ``operator``'s task (e.g. CIFS, calibrated for denoising, on inpainting).
        """
        operator = operator or Denoise()
        for track in self.tracks:
            if track.criterion.needs_reference and reference is None:
                raise ValueError(
                    f"criterion {track.criterion.name!r} needs a clean reference "
                    f"image (benchmarks only)"
                )
            tasks = track.criterion.tasks
            if tasks is not None and operator.name not in tasks:
                raise ValueError(
                    f"criterion {track.criterion.name!r} applies to {', '.join(tasks)} only, "
                    f"not to {operator.name}"
                )
            supported = track.criterion.channels
            if supported is not None and target.shape[1] not in supported:
                raise ValueError(
                    f"criterion {track.criterion.name!r} scores images with "
                    f"{' or '.join(map(str, supported))} channels, not {target.shape[1]}; "
                    "use a variance criterion (emv, wmv) or no early stopping"
                )
            track.criterion.reset()
            track.rule.reset()
            track.steps.clear()
            track.scores.clear()
            track.seconds = 0.0
        self.best_image, self.best_step, self.confirmed = None, None, False
        self.confirmed_by = None
        self.gate_opens_at = self.also_opens_at = None
        self._recent.clear()
        if self.primary is not None and self.primary.changes_objective:
            return self.primary.objective_offset(target, seed, operator)
        return None

    def loss_weights(
        self, target: torch.Tensor, seed: int, operator: Operator | None = None
    ) -> torch.Tensor | None:
        """The primary's weights of the data loss (e.g. ``holdout``'s hidden pixels), if any.

        A pure function of the target's shape, the seed and the operator, so a resumed run gets
        the same weights without saving them.
        """
        if self.primary is None or not self.primary.changes_objective:
            return None
        return self.primary.loss_weights(target, seed, operator or Denoise())

    def observe(
        self, step: int, estimate: torch.Tensor, context: Context, may_confirm: bool | None = True
    ) -> str | None:
        """Score ``estimate`` with every criterion; return a stop reason when the primary (or the
        criterion that also confirms) confirms.

        ``may_confirm`` is the confirmation gate (the runner's
        :meth:`autodip.core.budget.Budget.may_confirm`): until it is first ``True`` the primary
        confirms nothing, and at that step (``gate_opens_at``) its rule starts afresh, so that a
        candidate from before — an estimate that had not yet reproduced the image — is neither
        confirmed nor returned unless no later score comes. Once open, the gate stays open. A
        primary that is not ``gated`` (a fixed step, the oracle) ignores it. ``None``: the gate
        cannot judge this step (σ̂ untrustworthy, a retargeted stage): it is open, and the
        criterion that also confirms does not confirm here.
        """
        self._open_gates(step, may_confirm)
        if self.primary is not None and self.primary.lag:
            self._recent.append((step, estimate.detach().clone()))
        for index, track in enumerate(self.tracks):
            started = time.perf_counter()
            score = track.criterion.update(step, estimate, context)
            if score is not None:
                scored = track.criterion.score_step(step)
                # a lagging primary's scores of steps before the gate opened stay out of its rule
                gated_out = index <= self._confirming and scored < (self._opens_at(index) or 0)
                try:
                    new_best = not gated_out and track.rule.observe(scored, score)
                except ValueError as error:  # say which criterion gave the bad score
                    raise ValueError(f"criterion {track.criterion.name!r}: {error}") from None
                track.steps.append(scored)
                track.scores.append(score)
                if index == 0 and self.primary is not None and new_best:
                    self.best_step = scored
                    self.best_image = self._image_at(scored, estimate)
            track.seconds += time.perf_counter() - started
        if self.primary is not None and self.primary.lag:
            while self._recent and self._recent[0][0] < step - self.primary.lag:
                self._recent.popleft()
        return self._verdict(step, judged=may_confirm is not None)

    def _open_gates(self, step: int, may_confirm: bool | None) -> None:
        """Open the primary's gate (and the gate of the criterion that also confirms, which only
        a judged step opens) at ``step``, their rules starting afresh there.
        """
        ungated = self.primary is None or not self.primary.gated
        if (may_confirm is not False or ungated) and self.gate_opens_at is None:
            self.gate_opens_at = step
            if self.primary is not None:
                self.tracks[0].rule.reset()
        if self.also_confirms is not None and may_confirm is True and self.also_opens_at is None:
            self.also_opens_at = step
            self.tracks[1].rule.reset()

    @property
    def _confirming(self) -> int:
        """The index of the last track whose rule may stop the run (the primary's, or the
        criterion's that also confirms).
        """
        return 1 if self.also_confirms is not None else 0

    def _opens_at(self, index: int) -> int | None:
        """The step where the gate of track ``index`` (0 or :attr:`_confirming`) opened."""
        return self.gate_opens_at if index == 0 else self.also_opens_at

    def _image_at(self, step: int, estimate: torch.Tensor) -> torch.Tensor:
        for recorded, image in self._recent:
            if recorded == step:
                return image.clone()
        return estimate.detach().clone()

    def _verdict(self, step: int, judged: bool) -> str | None:
        if self.primary is None or self.gate_opens_at is None:
            return None
        # Patience counts scored steps: a lagging criterion (OSC) confirms only once enough of its
        # own scores have come in after the best, not merely once the run has moved on.
        for index, track in enumerate(self.tracks[: self._confirming + 1]):
            if index > 0 and (not judged or self.also_opens_at is None):
                continue
            rule = track.rule
            verdict = rule.decision(rule.last_step) if rule.last_step is not None else None
            if verdict is None or not verdict.confirmed:
                continue
            self.confirmed, self.confirmed_by = True, track.criterion.name
            better = "minimum" if track.criterion.lower_is_better else "maximum"
            reason = (
                f"{track.criterion.name}: no new {better} in {rule.patience} steps after step "
                f"{verdict.best_step}"
            )
            if track.criterion is self.also_confirms:
                reason += f"; returning {self.primary.name}'s best (step {self.best_step})"
            return reason
        return None

    def unconfirmed_reason(self, step: int) -> str:
        """Why the run ended without the primary confirming a stop."""
        if self.primary is None:
            return ""
        if self.best_step is None:
            return (
                f"{self.primary.name} gave no score before step {step}; returning the last estimate"
            )
        if self.gate_opens_at is None:
            return (
                f"{self.primary.name}: not confirmed — the estimate's residual never came down to "
                f"the noise level, where a stop may be confirmed, before the run ended at step "
                f"{step}; returning the best so far (step {self.best_step})"
            )
        return (
            f"{self.primary.name}: not confirmed — fewer than {self.tracks[0].rule.patience} "
            f"steps without a better score followed the best step {self.best_step} before the "
            f"run ended at step {step}; returning the best so far"
        )

    def state(self, estimates: bool = True) -> dict[str, Any]:
        """A deep copy of the stopper's whole state (criteria included), for checkpoints.

        ``estimates=False`` leaves out the estimates a lagging primary holds back to return the
        image of a stop it scores late; every score and decision stays the same without them.
        """
        state = copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "_recent"})
        state["_recent"] = copy.deepcopy(self._recent) if estimates else deque()
        return state

    def identity(self) -> list[dict[str, Any]]:
        """The criteria's options and patience, as at construction (for checkpoints)."""
        return copy.deepcopy(self._identity)

    def load_state(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        """Continue from :meth:`state` (moved to ``device``); the criteria must be the same."""
        if state["_identity"] != self._identity:
            raise ValueError(
                f"the checkpoint's stopping criteria ({state['_identity']}) differ from this "
                f"run's ({self._identity})"
            )
        self.__dict__.update(_moved(copy.deepcopy(state), torch.device(device)))
        self.also_confirms = self.tracks[1].criterion if self.also_confirms is not None else None
        if "gate_opens_at" not in state:  # saved before the gate existed: it was open throughout
            self.gate_opens_at = 0

    def summary(self, step: int) -> dict[str, Any]:
        """Every criterion's record, keyed by name (the primary's, and the one that also confirms,
        confirmed only through the confirmation gate, as the run's; that one marked
        ``also_confirms``).
        """
        records = {t.criterion.name: t.summary(step) for t in self.tracks}
        for index, track in enumerate(self.tracks[: self._confirming + 1]):
            if self.primary is not None and self._opens_at(index) is None:
                records[track.criterion.name]["confirmed"] = False
        if self.also_confirms is not None:
            records[self.also_confirms.name]["also_confirms"] = True
        return records
