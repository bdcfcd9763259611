"""The run's step limit: the nominal budget, extended while the run is not done (issue 13)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from autodip import defaults
from autodip.core.config import FitConfig
from autodip.physics.operators import Operator
from autodip.stopping.fit_guard import GUARD_MIN_SIGMA, FitCheck, check_fit, measurement_sigma
from autodip.stopping.stopper import Stopper


class Budget:
    """The run's step limit: ``max_iters``, extended while the run is not done.

    At the limit, a run with ``max_extended_iters`` above it goes on by half of ``max_iters`` when
    the estimate it would return is under-fitted by the fit guard
    (:mod:`autodip.stopping.fit_guard`), or
    when its primary criterion has not confirmed a stop while that estimate's residual is still
    above :data:`autodip.defaults.EXTEND_ABOVE_RATIO` · σ̂² (with a criterion that also confirms,
    :class:`~autodip.stopping.Stopper`, whatever the residual); never past the cap or the time
    limit. Where the guard cannot judge (it is off, σ̂ is untrustworthy, or a retargeted second
    stage fits the stage-1 image rather than the measurement) the budget stays as it is.
    """

    def __init__(
        self,
        cfg: FitConfig,
        measured: torch.Tensor,
        operator: Operator,
        retarget_from: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.retarget_from = retarget_from
        self.measured = measured
        self.operator = operator
        self.limit = cfg.max_iters
        self.cap = max(cfg.max_iters, cfg.max_extended_iters or cfg.max_iters)
        self.chunk = max(cfg.monitor_every, cfg.max_iters // 2)
        self.extensions: list[dict[str, Any]] = []
        self.timed_out = False
        self.last_check: FitCheck | None = None
        self._sigma: float | None = None

    def out_of_time(self, seconds: float) -> str | None:
        """A stop reason once the run has used its wall-clock limit."""
        if self.cfg.max_seconds is None or seconds < self.cfg.max_seconds:
            return None
        self.timed_out = True
        return f"reached the time limit of {self.cfg.max_seconds:g} s"

    def may_confirm(self, residual: float, step: int) -> bool | None:
        """Whether the stopping criterion may confirm a stop at ``step``, whose estimate has
        ``residual`` on the measurement: once it is at most ``confirm_below`` · σ̂².

        An estimate whose residual is still above the noise level has not reproduced the image
        (the fit guard's reasoning, at a tighter threshold), so a criterion's minimum there is an
        early one: on three σ = 15 crops of the 256² sweep CIFS confirmed at 1.06–1.21 σ̂², up to
        2.1 dB under the run's peak (:data:`autodip.defaults.CONFIRM_BELOW_RATIO`). ``None``
        where the guard cannot judge (it is off, σ̂ is too low to trust, or a retargeted second
        stage fits the first stage's image): the stopper then confirms as if ungated, and a
        criterion that also confirms (:class:`~autodip.stopping.Stopper`) stays silent.
        """
        if not self.judges(step):
            return None
        return residual <= self.cfg.confirm_below * (self.sigma / 255.0) ** 2

    def judges(self, step: int) -> bool:
        """Whether the confirmation gate judges ``step`` (see :meth:`may_confirm`)."""
        if self.cfg.confirm_below is None or not self.cfg.fit_guard:
            return False
        if self.retarget_from is not None and step > self.retarget_from:
            return False
        return self.sigma >= GUARD_MIN_SIGMA

    @property
    def sigma(self) -> float:
        """σ̂ of the measurement (0–255), computed once."""
        if self._sigma is None:
            self._sigma = measurement_sigma(self.measured, self.operator)
        return self._sigma

    def check(self, estimate: torch.Tensor, step: int | None = None) -> FitCheck:
        """The fit guard's verdict on ``estimate`` (σ̂ of the measurement computed once).

        ``step`` past a retargeted run's stage boundary gives no verdict: stage 2 fits the
        stage-1 image, so the residual against the measurement is stage 1's to explain.
        """
        self.last_check = check_fit(
            estimate, self.measured, self.operator, self.sigma, ratio=self.cfg.guard_ratio
        )
        if not self.cfg.fit_guard:
            self.last_check = replace(
                self.last_check, underfitted=None, note="not judged: the fit guard is off"
            )
        elif self.retarget_from is not None and (step is None or step > self.retarget_from):
            self.last_check = replace(
                self.last_check,
                underfitted=None,
                note="not judged: the retargeted second stage fits the first stage's image, so "
                "the residual to the input is the first stage's (its TV weight)",
            )
        return self.last_check

    def consider(self, step: int, returned: torch.Tensor, stopper: Stopper | None) -> None:
        """At the limit: extend it when the run is not done and the cap allows."""
        if self.limit >= self.cap:
            return
        verdict = self.check(returned, step)
        unconfirmed = stopper is not None and stopper.primary is not None and not stopper.confirmed
        if verdict.underfitted is None:
            return  # nothing to judge the fit by: the budget stays a hard one
        # with a criterion that also confirms, an unconfirmed run goes on whatever its residual:
        # the discrepancy principle confirms at most S steps after the residual passes σ̂²
        also = stopper is not None and stopper.also_confirms is not None and self.judges(step)
        if verdict.underfitted:
            why = verdict.note
        elif unconfirmed and (also or verdict.ratio > defaults.EXTEND_ABOVE_RATIO):
            # the criterion still finds better steps and the residual is above the noise level
            # (defaults.EXTEND_ABOVE_RATIO says why and what the evidence is)
            names = stopper.primary.name + (f" or {stopper.also_confirms.name}" if also else "")
            why = f"{names} has not confirmed a stop ({verdict.note})"
        else:
            return
        self.limit = min(self.cap, self.limit + self.chunk)
        self.extensions.append({"step": step, "extended_to": self.limit, "why": why})

    def end_reason(self) -> str:
        """Why a run that was not stopped otherwise ended."""
        if self.limit == self.cfg.max_iters:
            return f"reached max_iters={self.limit}"
        times = len(self.extensions)
        return (
            f"reached max_iters={self.limit} (the budget of {self.cfg.max_iters} steps, extended "
            f"{times} time{'s' if times != 1 else ''}"
            + (f", up to its cap of {self.cap})" if self.limit == self.cap else ")")
        )

    def describe(self) -> dict[str, Any]:
        """The budget as plain data, for the result's config."""
        return {
            "nominal": self.cfg.max_iters,
            "cap": self.cap,
            "final": self.limit,
            "extensions": self.extensions,
            "timed_out": self.timed_out,
        }
