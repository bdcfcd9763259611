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
