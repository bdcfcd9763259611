"""Automatic early stopping: criteria (scores), the shared candidate rule, and the stopper."""

from autodip.stopping.base import (
    CandidateRule,
    Context,
    Criterion,
    Decision,
    create_criterion,
    first_candidate,
    list_criteria,
    register_criterion,
)
from autodip.stopping.stopper import Stopper

# The built-in criteria register themselves when imported (timm's pattern): after the registry,
# before anyone can call it.
from autodip.stopping import (  # noqa: F401  # isort: skip
    cifs,
    discrepancy,
    holdout,
    iqa_scores,
    osc,
    simple,
    sure,
    variance,
)

__all__ = [
    "CandidateRule",
    "Context",
    "Criterion",
    "Decision",
    "Stopper",
    "create_criterion",
    "first_candidate",
    "list_criteria",
    "register_criterion",
]
