r"""The stopping-criterion interface, the shared candidate rule, and the criterion registry.

A criterion turns the run into a *score* :math:`M_t` at each monitored step; it never decides. One
rule, shared by all criteria, turns scores into a decision (Takagi et al., ICIP 2023, Eq. 4, after
ES-WMV):

.. math::

    t \text{ is a candidate} \iff M_t \le M_\tau \quad \forall \tau \in (t, t + S],

and the stop is the first candidate. Online this is a running minimum: when ``S`` further steps
bring no strictly lower score, the step of the minimum is confirmed (:class:`CandidateRule`).
Higher-is-better scores (e.g. the oracle PSNR) are negated before the rule sees them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, ClassVar

import torch

from autodip.operators import Operator


@dataclass
class Context:
    """What a criterion may look at besides the current estimate.

    Attributes
    ----------
    raw
        The network's raw output at this step (before the moving average), cropped to the image.
    target
        The measurement ``y`` (without any pseudo-noise a criterion added to the objective).
    operator
        The degradation ``A``.
    loss
        The training loss at this step.
    max_iters
        The run's iteration budget.
    reference
        The clean image, when given (benchmarks only).
    """

    raw: torch.Tensor
    target: torch.Tensor
    operator: Operator
    loss: float
    max_iters: int
    reference: torch.Tensor | None = None


class Criterion:
    """Base class of stopping criteria: a score per monitored step; lower is better unless stated.

    Subclasses set the class metadata and implement :meth:`update` (and :meth:`reset` when they keep
    state). ``lag`` is the number of steps by which a score trails the step it is reported at (OSC
    needs future points to measure curvature): a score returned at step ``s`` belongs to
    ``s - lag``.
    """

    name: ClassVar[str] = "criterion"
    lower_is_better: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = False
    changes_objective: ClassVar[bool] = False
    default_patience: ClassVar[int] = 500
    #: Operator names (tasks) the criterion applies to; ``None``: every task.
    tasks: ClassVar[tuple[str, ...] | None] = None
    #: Channel counts the score is defined for (JPEG and the IQA models: 1 or 3); ``None``: any.
    channels: ClassVar[tuple[int, ...] | None] = None
    lag: int = 0

    def reset(self) -> None:
        """Forget all state, ready for a new run."""

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Score the estimate ``output`` (``1×C×H×W``) at ``step``; ``None`` while a window
        fills.
        """
        raise NotImplementedError

    def score_step(self, step: int) -> int:
        """The step that a score returned at ``step`` belongs to (``step - lag``)."""
        return step - self.lag

    def objective_offset(
        self, target: torch.Tensor, seed: int, operator: Operator | None = None
    ) -> torch.Tensor | None:
        """A tensor to add to the measurement the network fits (only for ``changes_objective``)."""
        return None

    def loss_weights(
        self, target: torch.Tensor, seed: int, operator: Operator | None = None
    ) -> torch.Tensor | None:
        """Per-pixel weights of the data loss, broadcast over ``target`` (only for
        ``changes_objective``; ``None``: every measured value counts).
        """
        return None

    def describe(self) -> dict[str, Any]:
        """The criterion's name and options as plain data."""
        return {"name": self.name}


@dataclass(frozen=True)
class Decision:
    """The rule's verdict: the best step so far, its score, and whether it is confirmed."""

    best_step: int
    best_score: float
    confirmed: bool


class CandidateRule:
    """Online form of the candidate rule with patience ``S`` (in optimisation steps).

    Feed scores in increasing step order with :meth:`observe`; :meth:`decision` at step ``s`` says
    whether the running minimum has gone ``S`` steps without a strictly lower score. Ties keep the
    earlier step (``M_t ≤ M_τ``). The first confirmed step is the first candidate of Eq. 4.

    Examples
    --------
    >>> rule = CandidateRule(patience=2)
    >>> for step, score in enumerate([3.0, 1.0, 2.0, 1.0, 5.0]):
    ...     _ = rule.observe(step, score)
    >>> rule.decision(4)
    Decision(best_step=1, best_score=1.0, confirmed=True)
    """

    def __init__(self, patience: int, lower_is_better: bool = True) -> None:
        if patience < 0:
            raise ValueError(f"patience must be non-negative, got {patience}")
        self.patience = patience
        self.sign = 1.0 if lower_is_better else -1.0
        self.reset()

    def reset(self) -> None:
        """Forget all scores."""
        self.best_step: int | None = None
        self.best_value = math.inf
        self.last_step: int | None = None

    def observe(self, step: int, score: float) -> bool:
        """Record ``score`` for ``step``; return whether it is a new best."""
        if not math.isfinite(score):
            raise ValueError(f"score at step {step} is {score}; criteria must give finite scores")
        if self.last_step is not None and step <= self.last_step:
            raise ValueError(f"steps must increase: got {step} after {self.last_step}")
        self.last_step = step
        value = self.sign * score
        if value < self.best_value:
            self.best_value, self.best_step = value, step
            return True
        return False

    def decision(self, step: int) -> Decision | None:
        """The verdict as of ``step`` (``None`` before any score)."""
        if self.best_step is None:
            return None
        confirmed = step - self.best_step >= self.patience
        return Decision(self.best_step, self.sign * self.best_value, confirmed)


def first_candidate(
    steps: list[int], scores: list[float], patience: int, lower_is_better: bool = True
) -> Decision | None:
    """Apply the rule offline to a recorded score trace (for benchmarks and reports).

    The trace is replayed through :class:`CandidateRule`, so online and offline stops agree. When no
    step is confirmed before the trace ends, the best step so far is returned with
    ``confirmed=False``.

    Examples
    --------
    >>> first_candidate([10, 20, 30, 40], [4.0, 2.0, 2.0, 3.0], patience=20)
    Decision(best_step=20, best_score=2.0, confirmed=True)
    """
    rule = CandidateRule(patience, lower_is_better)
    for step, score in zip(steps, scores, strict=True):
        rule.observe(step, score)
        verdict = rule.decision(step)
        if verdict is not None and verdict.confirmed:
            return verdict
    return rule.decision(steps[-1]) if steps else None


# --- registry -------------------------------------------------------------------------------------

_REGISTRY: dict[str, type[Criterion]] = {}


def register_criterion(cls: type[Criterion]) -> type[Criterion]:
    """Class decorator: register a criterion under its ``name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"criterion {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def list_criteria() -> dict[str, type[Criterion]]:
    """Registered criteria by name, sorted."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def create_criterion(name: str, **options: Any) -> Criterion:
    """Build the criterion registered as ``name``; ``None``-valued options are dropped.

    Raises
    ------
    KeyError
        For an unknown name, listing close matches and all names.
    """
    _load_builtins()
    if name not in _REGISTRY:
        close = get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown criterion {name!r}.{hint} Available: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name](**{k: v for k, v in options.items() if v is not None})


def _load_builtins() -> None:
    from autodip.stopping import (  # noqa: F401
        cifs,
        discrepancy,
        holdout,
        iqa_scores,
        osc,
        simple,
        variance,
    )


ScoreFn = Callable[[torch.Tensor], float]
