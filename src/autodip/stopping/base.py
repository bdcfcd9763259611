r"""The stopping-criterion interface, the shared candidate rule, and the criterion registry.

A criterion turns the run into a *score* :math:`M_t` at each monitored step; it never decides. One
rule, shared by all criteria, turns scores into a decision (Takagi et al., ICIP 2023, Eq. 4, after
ES-WMV):

.. math::

    t \text{ is a candidate} \iff M_t \le M_\tau \quad \forall \tau \in (t, t + S],

and the stop is the first candidate. Online this is a running minimum: when ``S`` further steps
bring no strictly lower score, the step of the minimum is confirmed (:class:`CandidateRule`).
Higher-is-better scores (e.g. the oracle PSNR) are negated before the rule sees them.

The registry here imports none of the criteria: :mod:`autodip.stopping` imports them after this
module, so their ``@register_criterion`` decorators have run before anyone can reach the registry
(importing ``autodip.stopping.base`` runs ``autodip/stopping/__init__.py`` first).
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from types import MappingProxyType
from typing import Any, ClassVar, get_args, get_type_hints

import torch

from autodip.physics.operators import Operator


@dataclass(frozen=True)
class Range:
    """The values a numeric criterion option may take; ``None`` leaves that end unbounded.

    Examples
    --------
    >>> alpha = Range(0, 1, low_open=True)
    >>> 0.5 in alpha, 0 in alpha, alpha.describe()
    (True, False, 'in (0, 1]')
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self) -> str:
        """The range in words: ``'in (0, 1]'``, ``'≥ 1'``, ``'> 0'``."""
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '≥'} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '≤'} {self.high:g}"
        return "any number"


def declare_options(**ranges: Range) -> Mapping[str, Range]:
    """The ranges of a criterion's numeric options, for its ``option_ranges`` class attribute.

    A criterion's options are the keyword parameters of its ``__init__``, typed by their hints
    (:func:`declared_options`); this adds where each numeric one may lie, so that a bad value is
    refused with one message before a run (:func:`check_criterion_options`).

    Examples
    --------
    >>> class Example(Criterion):
    ...     option_ranges = declare_options(alpha=Range(0, 1, low_open=True))
    ...     def __init__(self, alpha: float = 0.1) -> None:
    ...         self.alpha = alpha
    >>> declared_options(Example)["alpha"].range.describe()
    'in (0, 1]'
    """
    return MappingProxyType(dict(ranges))


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
    #: One line for ``autodip list criteria``, naming the criterion's paper where it has one
    #: (``None``: the first line of the class docstring).
    summary: ClassVar[str | None] = None
    lower_is_better: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = False
    changes_objective: ClassVar[bool] = False
    default_patience: ClassVar[int] = 500
    #: Operator names (tasks) the criterion applies to; ``None``: every task.
    tasks: ClassVar[tuple[str, ...] | None] = None
    #: Channel counts the score is defined for (JPEG and the IQA models: 1 or 3); ``None``: any.
    channels: ClassVar[tuple[int, ...] | None] = None
    #: Ranges of the numeric options (the keyword parameters of ``__init__``, see
    #: :func:`declared_options`), e.g. ``declare_options(alpha=Range(0, 1, low_open=True))``.
    option_ranges: ClassVar[Mapping[str, Range]] = MappingProxyType({})
    #: Whether, as the primary criterion, its stop waits for the confirmation gate (the estimate's
    #: residual down to the noise level, :meth:`autodip.core.budget.Budget.may_confirm`): criteria
    #: that estimate the peak do; a fixed step and the oracle do not.
    gated: ClassVar[bool] = True
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

    def trace(self) -> dict[str, list[float]]:
        """Raw per-step quantities behind the scores (e.g. OSC's projection curve), so that other
        settings can be replayed offline; empty when the scores say it all.
        """
        return {}


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
    return dict(sorted(_REGISTRY.items()))


def create_criterion(name: str, **options: Any) -> Criterion:
    """Build the criterion registered as ``name``; ``None``-valued options are dropped.

    The options are checked first (:func:`check_criterion_options`).

    Raises
    ------
    KeyError
        For an unknown name, listing close matches and all names.
    ValueError
        For an option the criterion does not declare, or of the wrong type or range.
    """
    if name not in _REGISTRY:
        close = get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown criterion {name!r}.{hint} Available: {', '.join(sorted(_REGISTRY))}"
        )
    given = {k: v for k, v in options.items() if v is not None}
    return _REGISTRY[name](**check_criterion_options(name, given))


@dataclass(frozen=True)
class OptionSpec:
    """One option a criterion declares: its type, default, whether ``None`` is allowed, range."""

    name: str
    kind: type
    default: Any
    optional: bool = False
    range: Range | None = None

    def convert(self, value: Any, owner: str) -> Any:
        """``value`` (text from the command line, or a Python value) as this option's type,
        checked against its range; ``ValueError`` naming ``owner.name`` otherwise.
        """
        label = f"{owner}.{self.name}"
        if self.optional and (value is None or str(value).lower() == "none"):
            return None
        converted = _as_kind(value, self.kind)
        if converted is None:
            noun = _KIND_NOUNS[self.kind] + (" or none" if self.optional else "")
            raise ValueError(f"{label} must be {noun}, got {value!r}")
        if self.kind in (int, float) and not math.isfinite(converted):
            raise ValueError(f"{label} must be a finite number, got {value!r}")
        if self.range is not None and converted not in self.range:
            raise ValueError(f"{label} must be {self.range.describe()}, got {value!r}")
        return converted


_KIND_NOUNS = {int: "an integer", float: "a number", str: "text", bool: "true or false"}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def _as_kind(value: Any, kind: type) -> Any:
    """``value`` as ``kind`` (int, float, str or bool), or ``None`` when it is not one."""
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        try:
            if kind is bool:
                return True if text in _TRUE else False if text in _FALSE else None
            if kind is float and "/" in text:  # a fraction, e.g. osc.std=1/25
                num, den = text.split("/", 1)
                return float(num) / float(den)
            return kind(text)
        except (ValueError, ZeroDivisionError):
            return None
    if kind in (int, float):  # NumPy scalars too; a bool is not a number here
        number = numbers.Integral if kind is int else numbers.Real
        return kind(value) if isinstance(value, number) and not isinstance(value, bool) else None
    return value if isinstance(value, kind) else None


def declared_options(cls: type[Criterion]) -> dict[str, OptionSpec]:
    """The options criterion class ``cls`` declares, by name.

    A criterion declares its options by its constructor: each keyword parameter is an option,
    typed by its hint (``int``, ``float``, ``str`` or ``bool``, optionally ``| None``) and
    defaulting to its default; the class attribute ``option_ranges`` bounds the numeric ones
    with :class:`Range`. Every registered criterion is checked to declare its options this way
    (``tests/test_stopping.py``).

    Examples
    --------
    >>> from autodip.stopping import list_criteria
    >>> declared_options(list_criteria()["emv"])["alpha"]
    OptionSpec(name='alpha', kind=<class 'float'>, default=0.1, optional=False, range=Range(low=0, high=1, low_open=True, high_open=False))
    """  # noqa: E501 - a doctest line
    if cls.__init__ is Criterion.__init__:
        return {}
    hints = get_type_hints(cls.__init__)
    specs = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        kinds = [k for k in get_args(hints.get(name)) or [hints.get(name)] if k is not type(None)]
        if len(kinds) != 1 or kinds[0] not in _KIND_NOUNS:
            raise TypeError(
                f"criterion {cls.name!r}: option {name!r} needs a type hint of int, float, str or "
                f"bool (optionally | None), got {hints.get(name)!r}"
            )
        optional = type(None) in get_args(hints[name])
        default = None if parameter.default is parameter.empty else parameter.default
        specs[name] = OptionSpec(name, kinds[0], default, optional, cls.option_ranges.get(name))
    return specs


def check_criterion_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` of criterion ``name`` checked against its declaration and converted.

    The one place criterion options are checked: names against :func:`declared_options`
    (a wrong one is refused with the valid ones listed), values against their types and ranges.
    Text values (from ``--criterion-option NAME.KEY=VALUE``) are converted to the declared type.

    Examples
    --------
    >>> check_criterion_options("osc", {"half_length": "200"})
    {'half_length': 200}
    >>> check_criterion_options("emv", {"alpha": 2})
    Traceback (most recent call last):
    ...
    ValueError: emv.alpha must be in (0, 1], got 2
    """
    declared = declared_options(_REGISTRY[name])
    checked = {}
    for key, value in options.items():
        if key not in declared:
            close = get_close_matches(key, declared, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            valid = f"its options are {', '.join(declared)}" if declared else "it takes no options"
            raise ValueError(f"{name} has no option {key!r}{hint}; {valid}")
        checked[key] = declared[key].convert(value, name)
    return checked


ScoreFn = Callable[[torch.Tensor], float]
