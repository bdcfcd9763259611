r"""Ensembles: several Deep Image Prior restorations of one image, averaged, with a map of where
they disagree.

One DIP run is one random draw: its initial weights, its code ``z`` and its input perturbations
decide part of the result, and part of its error is independent of another draw's. An ensemble of
``K`` *members* restores the same measurement ``K`` times. Member ``k`` (counted from 0) runs with
seed ``s + k`` and, with ``transforms="dihedral"``, on a flipped or rotated copy of the input
(:mod:`autodip.physics.transforms`, the ``k``-th of its eight in the order of
:data:`~autodip.physics.transforms.DIHEDRAL`; the identity without):

.. math::

    \hat x_k = T_k^{-1}\, \mathrm{DIP}\big(T_k y;\; A_k,\ \text{seed } s + k\big),
    \qquad T_k A = A_k T_k,

each stopped by its own criterion at its own step. The result is their mean and the uncertainty
their per-value standard deviation,

.. math::

    \bar x = \frac{1}{K} \sum_{k=1}^{K} \hat x_k, \qquad
    u = \sqrt{\frac{1}{K} \sum_{k=1}^{K} (\hat x_k - \bar x)^2},

summarised by :mod:`autodip.metrics.uncertainty` (the disagreement between DIP solutions, not a
calibrated posterior). Averaging ``K`` estimates whose errors are partly independent lowers the
independent part's variance by ``K``.

:func:`run_ensemble` runs the members one after another, each through the same single-run path as
a plain restoration (the ``solo`` callable, :func:`autodip.api.restore`): member ``k`` *is* the run
``restore(T_k y, A_k, seed=s + k)`` mapped back by :math:`T_k^{-1}`. (On a GPU,
:func:`autodip.api.restore` may instead run members that differ by seed only as one batched
computation, :func:`autodip.core.members.fit_members`, and :func:`combine` them with
``batched=True``; each member is still its solo run, up to float32 rounding.)

Ctrl-C during member ``k`` returns the mean of the members so far (the interrupted one's estimate
included) with ``interrupted=True`` (batched: the mean of every member's estimate so far). Each
member checkpoints into a file of its own (:func:`member_checkpoint`); resuming an ensemble resumes
every member from its file (one that finished replays its last few steps to the same stop) and
starts afresh those that have none yet.

Examples
--------
>>> [(m.seed, m.transform) for m in plan_members(3, seed=5, transforms="dihedral")]
[(5, 'identity'), (6, 'rot180'), (7, 'flip')]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from autodip.core.checkpoint import CheckpointError, Checkpointing
from autodip.core.result import Result
from autodip.defaults import MAX_ENSEMBLE
from autodip.metrics.uncertainty import pixel_std, summarise
from autodip.physics import transforms as dihedral
from autodip.physics.operators import Operator
from autodip.stopping.fit_guard import check_fit, measurement_sigma

#: The kinds of ensemble: ``none`` (members differ by seed only) or ``dihedral`` (by seed and by
#: one of the eight flips and rotations).
TRANSFORMS = ("none", "dihedral")

#: The most members an ensemble may have (each is a whole run).
MAX_MEMBERS = MAX_ENSEMBLE

#: ``solo(image, operator, *, seed, reference, checkpoint, max_time, on_step) -> Result``: one
#: plain restoration (:func:`autodip.api.restore` with the ensemble's other options bound).
Solo = Callable[..., Result]


@dataclass(frozen=True)
class Member:
    """One member of an ensemble: its place (from 0), its seed and its transform's name."""

    index: int
    seed: int
    transform: str

    def to_dict(self) -> dict[str, Any]:
        """The member as plain data (``member`` counts from 1, as messages do)."""
        return {"member": self.index + 1, "seed": self.seed, "transform": self.transform}

    def describe(self, count: int) -> str:
        """``'member 2/4 (seed 1, rot180)'``: the member as progress messages say it."""
        turned = "" if self.transform == "identity" else f", {self.transform}"
        return f"member {self.index + 1}/{count} (seed {self.seed}{turned})"


@dataclass(frozen=True)
class Batch:
    """All members of an ensemble run as one batched computation (what ``on_member`` is given
    then, once): ``index`` 0 and :meth:`describe` as for a :class:`Member`.
    """

    members: tuple[Member, ...]
    index: int = 0
    transform: str = "identity"

    @property
    def seed(self) -> int:
        """The first member's seed (the others follow it)."""
        return self.members[0].seed

    def to_dict(self) -> dict[str, Any]:
        """The batch as plain data: its members' seeds."""
        return {"member": 1, "batched": len(self.members), "seeds": [m.seed for m in self.members]}

    def describe(self, count: int) -> str:
        """``'members 1–4 batched (seeds 0–3)'``."""
        seeds = [m.seed for m in self.members]
        return f"members 1–{count} batched (seeds {seeds[0]}–{seeds[-1]})"


def check_size(size: int, transforms: str = "none") -> None:
    """Raise ``ValueError`` unless ``size`` is an integer from 1 to :data:`MAX_MEMBERS` and
    ``transforms`` one of :data:`TRANSFORMS`.
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_MEMBERS:
        raise ValueError(
            f"an ensemble has 1 to {MAX_MEMBERS} members (each is a whole run), got {size!r}"
        )
    if transforms not in TRANSFORMS:
        raise ValueError(f"ensemble transforms are {' or '.join(TRANSFORMS)}, got {transforms!r}")


def plan_members(size: int, seed: int, transforms: str = "none") -> list[Member]:
    """The ``size`` members: seeds ``seed, seed + 1, …`` and, with ``"dihedral"``, the transforms
    in :data:`~autodip.physics.transforms.DIHEDRAL`'s order (again from the first after eight).

    A plan's first ``k`` members are the plan of size ``k``: ensembles are nested.
    """
    check_size(size, transforms)
    names = list(dihedral.DIHEDRAL) if transforms == "dihedral" else ["identity"]
    return [Member(k, seed + k, names[k % len(names)]) for k in range(size)]


def member_checkpoint(base: Checkpointing | None, member: Member) -> Checkpointing | None:
    """Member ``member``'s own checkpoint beside ``base``: ``out.png.ckpt`` →
    ``out.png.member2.ckpt``; it resumes when ``base`` does and its file exists.
    """
    if base is None:
        return None
    path = member_checkpoint_path(base.path, member.index)
    return replace(base, path=path, resume=base.resume and path.is_file())


def member_checkpoint_path(path: Path, index: int) -> Path:
    """The file of member ``index`` (from 0) for an ensemble checkpointing to ``path``."""
    return path.with_name(f"{path.stem}.member{index + 1}{path.suffix}")


def run_member(
    member: Member,
    y: torch.Tensor,
    operator: Operator,
    solo: Solo,
    *,
    reference: torch.Tensor | None = None,
    **options: Any,
) -> Result:
    """Member ``member``'s run: ``solo`` on :math:`T y` through :math:`A'`, mapped back.

    ``y`` and ``reference`` are ``1×C×H×W``; ``options`` go to ``solo``. The result's image is in
    the input's orientation; its config records the member under ``ensemble_member``.
    """
    name = member.transform
    image = dihedral.apply(y, name)
    ref = dihedral.apply(reference, name) if reference is not None else None
    result = solo(
        image,
        dihedral.transform_operator(operator, name),
        seed=member.seed,
        reference=ref,
        **options,
    )
    result.image = dihedral.invert(result.image, name)
    result.config["ensemble_member"] = member.to_dict()
    return result


def run_ensemble(
    y: torch.Tensor,
    operator: Operator,
    plan: Sequence[Member],
    solo: Solo,
    *,
    reference: torch.Tensor | None = None,
    checkpoint: Checkpointing | None = None,
    max_time: float | None = None,
    on_member: Callable[[Member, int], None] | None = None,
    **options: Any,
) -> Result:
    """Run the members of ``plan`` one after another and :func:`combine` them.

    Parameters
    ----------
    y, operator
        The measurement (``1×C×H×W``) and its operator.
    plan
        The members (:func:`plan_members`).
    solo
        One plain restoration (see :data:`Solo`).
    reference
        The clean image, if known: each member records PSNR, and the uncertainty map's ranking of
        the error is measured.
    checkpoint
        The ensemble's checkpointing; each member uses its own file (:func:`member_checkpoint`).
    max_time
        Wall-clock limit of the whole ensemble: each member gets what the earlier ones left, and
        no member but the first starts once it is spent.
    on_member
        Called with ``(member, len(plan))`` before each member starts (e.g. for progress).
    **options
        Passed to ``solo`` (``on_step``, ...).
    """
    if (
        checkpoint is not None
        and checkpoint.resume
        and not any(member_checkpoint_path(checkpoint.path, m.index).is_file() for m in plan)
    ):
        raise CheckpointError(
            f"no checkpoint of this ensemble's members beside '{checkpoint.path}' "
            f"(looked for {member_checkpoint_path(checkpoint.path, 0).name} and the others)"
        )
    results: list[Result] = []
    started, interrupted = time.perf_counter(), False
    for member in plan:
        left = None if max_time is None else max_time - (time.perf_counter() - started)
        if left is not None and left <= 0:
            if results:
                break
            left = 1e-3  # the first member runs to its first check, as a plain run would
        try:
            if on_member is not None:
                on_member(member, len(plan))
            result = run_member(member, y, operator, solo, reference=reference,
                                checkpoint=member_checkpoint(checkpoint, member),
                                max_time=left, **options)  # fmt: skip
        except KeyboardInterrupt:
            if not results:
                raise  # nothing to return yet
            interrupted = True
            break
        results.append(result)
        if result.interrupted:
            break
    return combine(results, plan, y, operator, reference=reference, interrupted=interrupted)


def combine(
    results: Sequence[Result],
    plan: Sequence[Member],
    y: torch.Tensor,
    operator: Operator,
    *,
    reference: torch.Tensor | None = None,
    interrupted: bool = False,
    batched: bool = False,
) -> Result:
    """One :class:`Result` of the members' results (the first ``len(results)`` of ``plan``).

    Its image is the members' mean, ``uncertainty`` their per-value standard deviation (both
    ``1×C×H×W``), ``members`` the results themselves. ``history`` and ``criteria`` are the first
    member's (one trajectory to plot); ``iterations``, ``seconds`` and ``monitor_seconds`` add up
    over the members; ``stop_step`` is ``None`` (each member has its own, in ``ensemble``). The
    fit guard judges the mean when it judged every member (the mean's residual is at most the
    members' mean residual, by convexity); otherwise it repeats the first member's note.
    ``interrupted`` says that Ctrl-C ended the ensemble between two members. ``batched``: the
    members ran as one computation (:func:`autodip.core.members.fit_members`), so ``seconds`` is
    the batch's (each member reports the whole batch's time), not their sum.
    """
    if not results:
        raise ValueError("an ensemble needs at least one member's result to combine")
    stack = torch.stack([r.image[0].float() for r in results])
    mean = stack.mean(dim=0)[None].contiguous()
    spread = stack.std(dim=0, correction=0)[None].contiguous()
    first = results[0]
    interrupted = interrupted or any(r.interrupted for r in results)
    config = {**first.config, "seed": plan[0].seed}
    for key in ("ensemble_member", "member", "members"):  # each member's own, not the mean's
        config.pop(key, None)
    config["fit_guard"] = _verdict(results, mean, y, operator)
    config["budget"] = {
        "timed_out": any(r.config.get("budget", {}).get("timed_out", False) for r in results),
        "note": "each member has its own budget (ensemble.members)",
    }
    members = [_member_record(m, r) for m, r in zip(plan, results, strict=False)]
    ref = reference[0].float().cpu().numpy() if reference is not None else None
    summary = summarise(pixel_std(stack.numpy()), mean[0].numpy(), ref)
    transforms = "dihedral" if any(m.transform != "identity" for m in plan) else "none"
    return Result(
        image=mean,
        iterations=sum(r.iterations for r in results),
        reason=_reason(results, len(plan), interrupted, batched),
        interrupted=interrupted,
        seconds=(max if batched else sum)(r.seconds for r in results),
        history=first.history,
        config=config,
        stop_step=None,
        confirmed=_all_confirmed(results),
        criteria=first.criteria,
        monitor_seconds=sum(r.monitor_seconds for r in results),
        events=[{**e, "member": i + 1} for i, r in enumerate(results) for e in r.events],
        members=list(results),
        uncertainty=spread,
        ensemble={
            "size": len(plan),
            "run": len(results),
            "transforms": transforms,
            "batched": batched,
            "aggregate": "mean",
            "members": members,
            "uncertainty": summary,
        },
    )


def _verdict(
    results: Sequence[Result], mean: torch.Tensor, y: torch.Tensor, operator: Operator
) -> dict[str, Any]:
    """The fit guard's verdict on the mean (see :func:`combine`)."""
    checks = [r.config.get("fit_guard") or {} for r in results]
    unjudged = next((c for c in checks if c.get("underfitted") is None), None)
    if unjudged is not None:
        return dict(unjudged)
    ratio = results[0].config.get("guard_ratio")
    options = {"ratio": ratio} if ratio is not None else {}
    measured = y.float().cpu()
    check = check_fit(mean, measured, operator, measurement_sigma(measured, operator), **options)
    return {**check.to_dict(), "note": f"{check.note} (the mean of the members)"}


def _member_record(member: Member, result: Result) -> dict[str, Any]:
    """What the report says of one member: who it is, where it stopped, its verdict."""
    guard = result.config.get("fit_guard") or {}
    return {
        **member.to_dict(),
        "stop_step": result.stop_step,
        "confirmed": result.confirmed,
        "iterations": result.iterations,
        "seconds": result.seconds,
        "interrupted": result.interrupted,
        "reason": result.reason,
        "underfitted": result.underfitted,
        "fit_guard_ratio": guard.get("ratio"),
        "score_at_stop": score_at_stop(result),
    }


def score_at_stop(result: Result) -> float | None:
    """The stopping criterion's score at the step the run returned (``None`` without one)."""
    if result.stop_step is None or not result.criteria:
        return None
    primary = next(iter(result.criteria.values()))
    steps, scores = primary.get("steps") or [], primary.get("scores") or []
    if result.stop_step not in steps:
        return None
    score = scores[steps.index(result.stop_step)]
    return float(score) if score is not None else None


def _all_confirmed(results: Sequence[Result]) -> bool | None:
    """Whether every member's criterion confirmed its stop (``None``: no criterion)."""
    verdicts = [r.confirmed for r in results]
    return None if any(v is None for v in verdicts) else all(verdicts)


def _reason(results: Sequence[Result], size: int, interrupted: bool, batched: bool = False) -> str:
    """Why the ensemble ended, and where its members stopped, in words.

    Examples
    --------
    >>> runs = ((9, 5), (8, None))  # (iterations, stop step)
    >>> done = [Result(torch.zeros(1), n, "", False, 0.0, stop_step=s) for n, s in runs]
    >>> _reason(done, 2, False)
    'the mean of 2 members, returned at steps 5 and 8'
    >>> _reason(done[:1], 4, True)
    'interrupted at the start of member 2 of 4; the result is the mean of the 1 finished'
    """
    done, last = len(results), results[-1]
    if interrupted and batched:
        ended = sum(not r.interrupted for r in results)
        return (
            f"interrupted while the {done} members ran batched ({ended} had ended); the result "
            "is the mean of every member's estimate so far"
        )
    if interrupted and last.interrupted:
        return (
            f"interrupted in member {done} of {size}; the result is the mean of the {done} so far "
            "(the last one's estimate when interrupted)"
        )
    if interrupted:
        return (
            f"interrupted at the start of member {done + 1} of {size}; the result is the mean "
            f"of the {done} finished"
        )
    if done < size:
        return (
            f"reached the time limit after {done} of {size} members ({last.reason}); the result "
            f"is the mean of those {done}"
        )
    steps = [str(r.stop_step if r.stop_step is not None else r.iterations) for r in results]
    listed = steps[0] if done == 1 else f"{', '.join(steps[:-1])} and {steps[-1]}"
    return f"the mean of {size} members, returned at step{'s' if done > 1 else ''} {listed}"


__all__ = [
    "MAX_MEMBERS",
    "TRANSFORMS",
    "Member",
    "check_size",
    "combine",
    "member_checkpoint",
    "member_checkpoint_path",
    "plan_members",
    "run_ensemble",
    "run_member",
    "score_at_stop",
]
