"""The settings of one run (:class:`FitConfig`), each checked when it is made."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from autodip import defaults
from autodip.core.perturbation import DRAWS

INPUT_KINDS = ("noise", "meshgrid")
TWO_STAGE_MODES = ("continue", "retarget")


def _positive_number(value: float | None) -> bool:
    return value is not None and value > 0 and math.isfinite(value)


#: ``(field, test, what it must be)``: the checks of :meth:`FitConfig.__post_init__`.
_RULES: tuple[tuple[str, Callable[[object], bool], str], ...] = (
    ("max_iters", lambda v: v >= 1, "at least 1"),
    ("lr", lambda v: v > 0, "positive"),
    ("reg_noise_std", lambda v: v >= 0, "non-negative"),
    ("reg_noise_draw", lambda v: v in DRAWS, f"one of {DRAWS}"),
    ("exp_weight", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("input_kind", lambda v: v in INPUT_KINDS, f"one of {INPUT_KINDS}"),
    ("monitor_every", lambda v: v >= 1, "at least 1"),
    ("tv_weight", lambda v: v >= 0 and math.isfinite(v), "a non-negative number"),
    ("two_stage", lambda v: v is None or v in TWO_STAGE_MODES, f"one of {TWO_STAGE_MODES} or None"),
    ("divergence_drop_db", lambda v: v > 0, "positive"),
    ("max_recoveries", lambda v: v >= 0, "≥ 0"),
    ("recovery_lr_factor", lambda v: 0 < v < 1, "in (0, 1)"),
    ("max_seconds", lambda v: v is None or _positive_number(v), "a positive number"),
    ("guard_ratio", _positive_number, "a positive number"),
    ("confirm_below", lambda v: v is None or _positive_number(v), "None or a positive number"),
    ("window", lambda v: v is None or (isinstance(v, int) and v >= 1), "None or a side ≥ 1"),
)


@dataclass(frozen=True)
class FitConfig:
    """Hyper-parameters of one run; defaults are the original DIP code's denoising settings.

    They come from :mod:`autodip.defaults`; note that :data:`~autodip.defaults.FIT_MAX_ITERS`
    (3000, the paper's fixed budget) is not the ``denoise`` task's 1500-step budget, which a
    stopping criterion and the adaptive extension work within.

    Attributes
    ----------
    max_iters : int
        Number of optimisation steps.
    lr : float
        Adam learning rate (DIP: 0.01).
    reg_noise_std : float
        Std of the Gaussian perturbation of ``z`` at each step
        (DIP: 1/30 for σ = 25, 1/20 for σ = 50).
    reg_noise_draw : str
        How that perturbation is drawn (:mod:`autodip.core.perturbation`): ``"fresh"``, a new
        Gaussian draw at each step (DIP's way), or ``"shifted"``, a shifted view of one Gaussian
        bank drawn once (no per-step draw).
    exp_weight : float
        Weight ``w`` of the output moving average; 0 turns it off (DIP: 0.99).
    input_kind : str
        ``"noise"``: ``z ~ U[0, input_scale)``;
        ``"meshgrid"``: two channels of coordinates in [0, 1].
    input_scale : float
        Range of the uniform code (DIP: 0.1).
    seed : int
        Seeds the network's initialisation, ``z`` and the perturbations: same seed and device, same
        result on the CPU. On CUDA some kernels (bilinear up-sampling's backward pass) are not
        deterministic, so GPU runs with one seed agree closely but not bit for bit.
    device, precision : str
        See :mod:`autodip.core.hardware`.
    channels_last : bool or None
        Memory layout of activations; ``None`` decides from the placement.
    monitor_every : int
        Steps between records in the history (and calls of the monitors).
    reinit : bool
        Re-initialise the network's parameters from ``seed`` before fitting (needed for determinism
        when the caller built the network under another random state).
    tv_weight : float
        λ of the anisotropic TV term (the paper's λ for images in [0, 1]; 0 = none).
    two_stage : str or None
        ``None``: TV (if any) for the whole run; ``"continue"`` or ``"retarget"``: TV for the first
        ``stage_fraction`` of the steps, then plain DIP in that reading (see the module).
    stage_fraction : float
        Share of ``max_iters`` in stage 1 of a two-stage run (Peng, Hou and Tan: one third).
    divergence_drop_db : float
        A monitored step whose fit to the target (as a PSNR) is this much below the last good
        one's, or whose loss is not finite, counts as divergence (the original DIP code: 5 dB).
    max_recoveries : int
        Divergences recovered from (back to the last good state, learning rate lowered) before the
        run gives up and returns the last good estimate.
    recovery_lr_factor : float
        Factor applied to the learning rate at each recovery.
    max_extended_iters : int or None
        The adaptive budget's cap: with a value above ``max_iters``, a run that reaches
        ``max_iters`` while the estimate it would return is under-fitted
        (:mod:`autodip.stopping.fit_guard`), or while its criterion has not confirmed a stop and the
        residual is above the noise level (``_Budget``), goes on by half of ``max_iters`` at a
        time, up to this many steps. ``None``: ``max_iters`` is a hard cap.
    max_seconds : float or None
        Wall-clock limit of the run: at the first monitored step past it the run ends (reason
        "reached the time limit") and no extension is granted.
    guard_ratio : float
        The fit guard's threshold, residual > ``guard_ratio`` · σ̂²
        (:mod:`autodip.stopping.fit_guard`).
    fit_guard : bool
        Judge the estimate with the fit guard (to extend an adaptive budget, to gate the stopping
        criterion's confirmation, and in the result); ``False`` records the residual but no
        verdict.
    confirm_below : float or None
        The stopping criterion may confirm a stop only once the estimate's residual is at most
        ``confirm_below`` · σ̂² (where the fit guard judges; :class:`autodip.core.budget.Budget`);
        ``None``: from the first step.
    window : int or None
        Fit a random ``window × window`` window of the image at each step instead of the whole
        image, which is evaluated only at monitored steps (:mod:`autodip.core.window`); denoising
        only. ``None``: the whole image at every step.
    """

    max_iters: int = defaults.FIT_MAX_ITERS
    lr: float = defaults.LR
    reg_noise_std: float = defaults.FIT_REG_NOISE_STD
    reg_noise_draw: str = defaults.REG_NOISE_DRAW
    exp_weight: float = defaults.EXP_WEIGHT
    input_kind: str = defaults.INPUT_KIND
    input_scale: float = defaults.INPUT_SCALE
    seed: int = defaults.SEED
    device: str = defaults.DEVICE
    precision: str = defaults.PRECISION
    channels_last: bool | None = None
    monitor_every: int = defaults.MONITOR_EVERY
    reinit: bool = True
    tv_weight: float = defaults.TV_WEIGHT
    two_stage: str | None = None
    stage_fraction: float = defaults.STAGE_FRACTION
    divergence_drop_db: float = defaults.DIVERGENCE_DROP_DB
    max_recoveries: int = defaults.MAX_RECOVERIES
    recovery_lr_factor: float = defaults.RECOVERY_LR_FACTOR
    max_extended_iters: int | None = None
    max_seconds: float | None = None
    guard_ratio: float = defaults.GUARD_RATIO
    fit_guard: bool = True
    confirm_below: float | None = defaults.CONFIRM_BELOW_RATIO
    window: int | None = None

    def __post_init__(self) -> None:
        for field_name, valid, requirement in _RULES:
            value = getattr(self, field_name)
            if not valid(value):
                raise ValueError(f"{field_name} must be {requirement}, got {value!r}")
        if self.two_stage is not None:
            if self.tv_weight == 0:
                raise ValueError("a two-stage run needs a TV weight > 0 for its first stage")
            if not 0 < self.stage_fraction < 1:
                raise ValueError(f"stage_fraction must be in (0, 1), got {self.stage_fraction}")
        if self.max_extended_iters is not None and self.max_extended_iters < self.max_iters:
            raise ValueError(
                f"max_extended_iters ({self.max_extended_iters}) must be at least max_iters "
                f"({self.max_iters})"
            )

    @property
    def stage_boundary(self) -> int | None:
        """The last step of stage 1 in a two-stage run (``None`` otherwise)."""
        if self.two_stage is None:
            return None
        return max(1, round(self.stage_fraction * self.max_iters))
