r"""The one optimisation loop of autodip.

Deep Image Prior (Ulyanov et al., CVPR 2018) restores an image ``y`` by fitting a randomly
initialised network to it through the degradation ``A``:

.. math::

    \theta^\star = \arg\min_\theta \| A(f_\theta(z + \eta_t)) - y \|_2^2,
    \qquad \eta_t \sim \mathcal N(0, \sigma_{reg}^2),

with Adam, a fixed random code ``z`` (uniform on [0, 0.1) or a meshgrid) perturbed anew each step by
``reg_noise_std`` noise, and an exponential moving average of the outputs,
:math:`\bar x_t = w\,\bar x_{t-1} + (1 - w)\,f_\theta(z + \eta_t)` with ``exp_weight`` ``w``. The
estimate is :math:`\bar x_t` (or the raw output when ``w = 0``).

The network's output has the estimate's size (``A.estimate_size``, e.g. ``f`` times the measurement
for super-resolution), padded up to the multiple the network needs; the padding is cropped off
before ``A`` is applied, so it is never fitted. An optional anisotropic TV term
(:mod:`autodip.physics.regularizers`, seed 002) can be added for the whole run or, in a *two-stage*
run,
for its first ``stage_fraction`` of the steps, after which plain DIP follows in one of two readings
(SPEC): ``continue`` keeps fitting ``y``; ``retarget`` fits the stage-1 estimate instead (through
the identity, so for inpainting and super-resolution stage 2 refines the stage-1 image). Both keep
the same network and optimiser.

Every other part (operator, network, monitors) is passed in; only :func:`fit` iterates.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from autodip import defaults
from autodip.core.checkpoint import Checkpointing
from autodip.core.geometry import check_min_size, padding_for
from autodip.core.hardware import Placement, placement
from autodip.metrics.full_reference import psnr, ssim
from autodip.physics.operators import Denoise, Operator
from autodip.physics.regularizers import tv_penalty
from autodip.stopping.base import Context
from autodip.stopping.fit_guard import FitCheck, check_fit, measured_support, measurement_residual
from autodip.stopping.fit_guard import measurement_sigma as _measurement_sigma
from autodip.stopping.stopper import Stopper

INPUT_KINDS = ("noise", "meshgrid")
TWO_STAGE_MODES = ("continue", "retarget")


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
        Share of ``max_iters`` in stage 1 of a two-stage run (seed 002: one third).
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
        Judge the estimate with the fit guard (to extend an adaptive budget, and in the result);
        ``False`` records the residual but no verdict.
    """

    max_iters: int = defaults.FIT_MAX_ITERS
    lr: float = defaults.LR
    reg_noise_std: float = defaults.FIT_REG_NOISE_STD
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

    def __post_init__(self) -> None:
        if self.max_iters < 1:
            raise ValueError(f"max_iters must be at least 1, got {self.max_iters}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.reg_noise_std < 0:
            raise ValueError(f"reg_noise_std must be non-negative, got {self.reg_noise_std}")
        if not 0 <= self.exp_weight < 1:
            raise ValueError(f"exp_weight must be in [0, 1), got {self.exp_weight}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {self.input_kind!r}")
        if self.monitor_every < 1:
            raise ValueError(f"monitor_every must be at least 1, got {self.monitor_every}")
        if not (self.tv_weight >= 0 and math.isfinite(self.tv_weight)):
            raise ValueError(f"tv_weight must be a non-negative number, got {self.tv_weight}")
        if self.two_stage is not None:
            if self.two_stage not in TWO_STAGE_MODES:
                raise ValueError(
                    f"two_stage must be one of {TWO_STAGE_MODES} or None, got {self.two_stage!r}"
                )
            if self.tv_weight == 0:
                raise ValueError("a two-stage run needs a TV weight > 0 for its first stage")
            if not 0 < self.stage_fraction < 1:
                raise ValueError(f"stage_fraction must be in (0, 1), got {self.stage_fraction}")

        if not self.divergence_drop_db > 0:
            raise ValueError(f"divergence_drop_db must be positive, got {self.divergence_drop_db}")
        if self.max_recoveries < 0:
            raise ValueError(f"max_recoveries must be ≥ 0, got {self.max_recoveries}")
        if not 0 < self.recovery_lr_factor < 1:
            raise ValueError(f"recovery_lr_factor must be in (0, 1), got {self.recovery_lr_factor}")
        if self.max_extended_iters is not None and self.max_extended_iters < self.max_iters:
            raise ValueError(
                f"max_extended_iters ({self.max_extended_iters}) must be at least max_iters "
                f"({self.max_iters})"
            )
        if self.max_seconds is not None and not (
            self.max_seconds > 0 and math.isfinite(self.max_seconds)
        ):
            raise ValueError(f"max_seconds must be a positive number, got {self.max_seconds}")
        if not (self.guard_ratio > 0 and math.isfinite(self.guard_ratio)):
            raise ValueError(f"guard_ratio must be a positive number, got {self.guard_ratio}")

    @property
    def stage_boundary(self) -> int | None:
        """The last step of stage 1 in a two-stage run (``None`` otherwise)."""
        if self.two_stage is None:
            return None
        return max(1, round(self.stage_fraction * self.max_iters))


@dataclass
class StepReport:
    """What a monitor sees at a monitored step. ``estimate`` is cropped to the image's size, on the
    run's device, float32; it is a view of a buffer that the run updates in place, so a monitor
    that keeps it must copy it (``estimate.clone()``), and must not modify it.
    """

    step: int
    estimate: torch.Tensor
    output: torch.Tensor
    loss: float
    seconds: float


class Monitor(Protocol):
    """Anything that watches the run; returning a string stops it with that reason."""

    def __call__(self, report: StepReport) -> str | None:  # pragma: no cover - protocol
        """Inspect one monitored step; return a stop reason, or ``None`` to go on."""


@dataclass
class Result:
    """Outcome of :func:`fit`: the restored image and a plain-data account of the run."""

    image: torch.Tensor
    iterations: int
    reason: str
    interrupted: bool
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    stop_step: int | None = None
    confirmed: bool | None = None
    criteria: dict[str, Any] = field(default_factory=dict)
    monitor_seconds: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pixels(self) -> np.ndarray:
        """The restored image as a ``C×H×W`` float32 NumPy array in [0, 1]."""
        return self.image[0].numpy()

    @property
    def underfitted(self) -> bool | None:
        """The fit guard's verdict (:mod:`~autodip.stopping.fit_guard`); ``None``: not judged."""
        return self.config.get("fit_guard", {}).get("underfitted")

    @property
    def iterations_per_second(self) -> float:
        """Mean optimisation speed over the run."""
        return self.iterations / self.seconds if self.seconds > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Everything but the image, as JSON-able data."""
        return {
            "iterations": self.iterations,
            "reason": self.reason,
            "interrupted": self.interrupted,
            "seconds": self.seconds,
            "iterations_per_second": self.iterations_per_second,
            "underfitted": self.underfitted,
            "config": self.config,
            "stop_step": self.stop_step,
            "confirmed": self.confirmed,
            "monitor_seconds": self.monitor_seconds,
            "events": self.events,
            "criteria": self.criteria,
            "history": self.history,
        }


def make_input(
    kind: str,
    channels: int,
    height: int,
    width: int,
    *,
    scale: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The network's code ``z``: ``1×channels×H×W``.

    ``"noise"`` draws ``U[0, scale)``; ``"meshgrid"`` needs two channels holding the column and row
    coordinates, each running over [0, 1].
    """
    if kind == "noise":
        return torch.rand(1, channels, height, width, generator=generator) * scale
    if kind == "meshgrid":
        if channels != 2:
            raise ValueError(f"a meshgrid input has 2 channels, the network expects {channels}")
        rows = torch.linspace(0, 1, height).view(height, 1).expand(height, width)
        cols = torch.linspace(0, 1, width).view(1, width).expand(height, width)
        return torch.stack([cols, rows])[None].contiguous()
    raise ValueError(f"unknown input kind {kind!r}; choose from {', '.join(INPUT_KINDS)}")


def check_image_tensor(y: torch.Tensor, name: str = "y") -> None:
    """Check the image contract: float ``1×C×H×W`` with finite values in [0, 1]."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.ndim != 4 or y.shape[0] != 1:
        raise ValueError(f"{name} must have shape 1×C×H×W, got {tuple(y.shape)}")
    if not y.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {y.dtype}")
    if not torch.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    lo, hi = float(y.min()), float(y.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")


def _reset_parameters(net: nn.Module) -> None:
    for module in net.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset) and module is not net:
            reset()


def fit(
    y: torch.Tensor,
    net: nn.Module,
    operator: Operator | None = None,
    config: FitConfig | None = None,
    *,
    reference: torch.Tensor | None = None,
    monitors: Sequence[Monitor] = (),
    stopper: Stopper | None = None,
    on_step: Callable[[int, float], None] | None = None,
    checkpoint: Checkpointing | None = None,
) -> Result:
    """Fit ``net`` to ``y`` through ``operator`` and return the restored image.

    Parameters
    ----------
    y
        The degraded image, float ``1×C×H×W`` in [0, 1]. Not modified.
    net
        A network with attributes ``in_channels``, ``out_channels`` and ``size_multiple`` (see
        :mod:`autodip.nets`). It is trained in place.
    operator
        The degradation ``A``; :class:`~autodip.physics.operators.Denoise` when omitted.
    config
        Hyper-parameters; :class:`FitConfig` defaults when omitted.
    reference
        Optional clean image (same shape as the estimate); adds PSNR and SSIM to the history.
    monitors
        Called at every monitored step with a :class:`StepReport`; the first that returns a string
        stops the run with that reason.
    stopper
        Decides when to stop from a primary criterion and records further criteria
        (:class:`~autodip.stopping.Stopper`); the result is then the estimate at the primary's best
        step.
    on_step
        Called after every step with ``(step, last recorded loss)``, e.g. for a progress bar.
    checkpoint
        Where and how often to save the run's whole state (:mod:`autodip.core.checkpoint`), and
        whether
        to resume from a saved state: a resumed run ends with the same result as an uninterrupted
        one with the same seed.

    Returns
    -------
    Result
        ``image`` is the final estimate on the CPU, cropped to ``y``'s size. ``Ctrl-C`` ends the run
        early and returns the estimate so far with ``interrupted=True``. ``events`` lists the
        divergences met and how each was handled.

    Examples
    --------
    >>> from autodip.nets import create_net
    >>> y = torch.rand(1, 3, 16, 16)
    >>> net = create_net("hourglass", width=8)
    >>> result = fit(y, net, config=FitConfig(max_iters=5, device="cpu"))
    >>> result.image.shape, result.iterations
    (torch.Size([1, 3, 16, 16]), 5)
    """
    cfg = config or FitConfig()
    operator = operator or Denoise()
    check_image_tensor(y)
    operator.check(y)
    channels = y.shape[1]
    if getattr(net, "out_channels", channels) != channels:
        raise ValueError(
            f"the network outputs {net.out_channels} channels but the image has {channels}"
        )
    est_h, est_w = operator.estimate_size(y.shape[-2], y.shape[-1])
    if reference is not None:
        check_image_tensor(reference, "reference")
        if tuple(reference.shape[-3:]) != (channels, est_h, est_w):
            raise ValueError(
                f"the reference is {tuple(reference.shape[-3:])} (C×H×W) but the estimate will "
                f"be {(channels, est_h, est_w)}"
            )
    multiple = int(getattr(net, "size_multiple", 1))
    check_min_size(est_h, est_w, multiple, type(net).__name__, getattr(net, "min_bottom", 1))

    where = placement(cfg.device, cfg.precision, cfg.channels_last)
    device = torch.device(where.device)
    saved = checkpoint.load(cfg, operator, net, y, stopper) if checkpoint is not None else None
    generator = torch.Generator().manual_seed(cfg.seed)
    if cfg.reinit and saved is None:
        # Initialise on the CPU under a forked, seeded generator: the same weights whatever the
        # device, and the caller's random state (CPU and CUDA) is left untouched.
        net.cpu()
        cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(cfg.seed)
            _reset_parameters(net)

    measured = y.float().to(device)
    ref = reference.float().to(device) if reference is not None else None
    if saved is None:
        offset = stopper.start(measured, cfg.seed, ref, operator) if stopper is not None else None
    else:
        offset = _to(saved["offset"], device)
        if stopper is not None:
            stopper.load_state(saved["stopper"], device)
    fitted = measured if offset is None else measured + offset
    weights = stopper.loss_weights(measured, cfg.seed, operator) if stopper is not None else None
    support = measured_support(measured, operator)  # for the residual in the history
    boundary = cfg.stage_boundary
    changed = offset is not None or weights is not None
    if cfg.two_stage == "retarget" and changed and measured.shape[-2:] != (est_h, est_w):
        raise ValueError(
            f"{stopper.primary.name} changes the objective on the measurement, which a "
            "retargeted second stage (fitting the stage-1 image) cannot carry for this "
            "operator; use two_stage='continue' or another criterion"
        )
    padding = padding_for(est_h, est_w, multiple)
    z = make_input(
        cfg.input_kind,
        net.in_channels,
        est_h + padding.top + padding.bottom,
        est_w + padding.left + padding.right,
        scale=cfg.input_scale,
        generator=generator,
    )
    memory_format = torch.channels_last if where.channels_last else torch.contiguous_format
    net.to(device=device, memory_format=memory_format).train()
    z = z.to(device).contiguous(memory_format=memory_format)
    step_generator = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    batch, chans, height, width = z.shape
    if where.channels_last:
        noise_buffer = torch.empty(batch, height, width, chans, device=device)
        noise_view = noise_buffer.permute(0, 3, 1, 2)
    else:
        noise_buffer = noise_view = torch.empty_like(z)
    code_buffer = torch.empty_like(z)

    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    autocast = (
        torch.autocast(device.type, dtype=where.autocast_dtype)
        if where.autocast_dtype is not None
        else contextlib.nullcontext()
    )
    state = _RunState(
        output=torch.zeros(1, channels, z.shape[-2], z.shape[-1], device=device),
        fit_target=fitted,
    )
    if saved is not None:
        state.load(saved, net, optimizer, step_generator, device)
    else:
        state.snapshot = _Snapshot.take(
            0, math.inf, net, optimizer, None, step_generator, state.output, state.fit_target
        )
    budget = _Budget(
        cfg, measured, operator, retarget_from=boundary if cfg.two_stage == "retarget" else None
    )
    # a resumed run continues within the limit it had reached, never past this run's cap
    budget.limit = min(budget.cap, max(budget.limit, state.limit))
    budget.extensions = list(state.extensions)
    reason = ""
    interrupted = False
    failure: str | None = None
    start = time.perf_counter() - state.seconds
    step = state.step
    try:
        while step < budget.limit:
            step += 1
            with_tv = cfg.tv_weight > 0 and (boundary is None or step <= boundary)
            if boundary is not None and step == boundary + 1 and cfg.two_stage == "retarget":
                # stage 2 of the `retarget` reading: fit the stage-1 estimate instead of y
                stage1 = padding.crop(state.average if state.average is not None else state.output)
                state.fit_target = stage1.detach().clone()
                if offset is not None:
                    state.fit_target = state.fit_target + offset
            fit_operator = (
                Denoise()
                if cfg.two_stage == "retarget" and boundary is not None and step > boundary
                else operator
            )
            code = z
            if cfg.reg_noise_std > 0:
                # Drawn in place into a contiguous buffer laid out like z (a fresh randn tensor
                # or a non-contiguous normal_ costs up to 8x more; this is per-step overhead).
                noise_buffer.normal_(generator=step_generator)
                code = torch.add(z, noise_view, alpha=cfg.reg_noise_std, out=code_buffer)
            with autocast:
                output = net(code)
            output = output.float()
            estimate_now = padding.crop(output)
            squared = (fit_operator.A(estimate_now) - state.fit_target) ** 2
            if weights is None:
                data_loss = torch.mean(squared)
            else:  # a criterion hides some values from the fit (holdout)
                data_loss = torch.mean(squared * weights) / weights.mean()
            loss = data_loss
            if with_tv:
                loss = loss + tv_penalty(estimate_now, cfg.tv_weight, state.fit_target.numel())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state.output = output.detach()
            state.completed = step

            with torch.no_grad():
                if cfg.exp_weight > 0:
                    state.average = (
                        state.output.clone()
                        if state.average is None
                        else state.average.mul_(cfg.exp_weight).add_(
                            state.output, alpha=1 - cfg.exp_weight
                        )
                    )
            if step % cfg.monitor_every == 0 or step == budget.limit:
                state.loss_value = float(loss.detach())
                fit_psnr = -10.0 * math.log10(max(float(data_loss.detach()), 1e-30))
                problem = _divergence(state.loss_value, fit_psnr, state.snapshot, cfg)
                if problem is not None:
                    failure = _recover(problem, step, state, cfg, net, optimizer, step_generator)
                    if failure is not None:
                        reason = failure
                        break
                    step = state.snapshot.step
                    continue
                estimate = padding.crop(
                    state.average if state.average is not None else state.output
                )
                state.last_good, state.last_good_step = estimate.detach().clone(), step
                state.snapshot = _Snapshot.take(
                    step,
                    fit_psnr,
                    net,
                    optimizer,
                    state.average,
                    step_generator,
                    state.output,
                    state.fit_target,
                )
                report = StepReport(
                    step,
                    estimate,
                    padding.crop(state.output),
                    state.loss_value,
                    time.perf_counter() - start,
                )
                record = {
                    "step": step,
                    "loss": state.loss_value,
                    "residual": measurement_residual(estimate, measured, operator, support),
                    "seconds": report.seconds,
                }
                if boundary is not None:
                    record["stage"] = 1 if step <= boundary else 2
                if ref is not None:
                    record["psnr"] = psnr(estimate, ref)
                    record["ssim"] = ssim(estimate, ref)
                state.history.append(record)
                stop = None
                if stopper is not None:
                    context = Context(
                        raw=report.output,
                        target=measured,
                        operator=operator,
                        loss=state.loss_value,
                        max_iters=cfg.max_iters,
                        reference=ref,
                    )
                    stop = stopper.observe(step, estimate, context)
                stop = stop or next((r for r in (m(report) for m in monitors) if r), None)
                stop = stop or budget.out_of_time(report.seconds)
                if stop:
                    reason = stop
                    break
                if step == budget.limit:
                    returned = stopper.best_image if stopper is not None else None
                    budget.consider(step, returned if returned is not None else estimate, stopper)
                    state.limit, state.extensions = budget.limit, list(budget.extensions)
            if checkpoint is not None and checkpoint.due(step, budget.limit):
                state.step, state.seconds = step, time.perf_counter() - start
                checkpoint.save(
                    state, cfg, operator, net, optimizer, step_generator, offset, stopper, y
                )
            if on_step is not None:
                on_step(step, state.loss_value)
    except KeyboardInterrupt:
        if state.completed == 0:
            raise  # nothing to return yet: let the caller handle Ctrl-C
        interrupted = True
        reason = f"interrupted by the user after step {state.completed}"
    seconds = time.perf_counter() - start
    reason = reason or budget.end_reason()

    final = padding.crop(state.average if state.average is not None else state.output)
    if failure is not None:
        if state.last_good is None:
            raise FloatingPointError(
                f"the run diverged before the first monitored step ({failure}); try a lower --lr"
            )
        final = state.last_good
    stop_step = confirmed = None
    if stopper is not None and stopper.primary is not None:
        confirmed = stopper.confirmed
        if stopper.best_image is not None:
            final, stop_step = stopper.best_image, stopper.best_step
        if not confirmed and not interrupted and reason.startswith("reached max_iters"):
            reason = stopper.unconfirmed_reason(state.completed)
    image = final.float().cpu().clamp(0, 1).contiguous()
    try:
        fit_check = budget.check(image.to(device), state.completed)
    except KeyboardInterrupt:  # a late Ctrl-C must not cost the result: judge it no further
        fit_check = FitCheck(math.nan, math.nan, None, None, "not judged: interrupted")
    return Result(
        image=image,
        iterations=state.completed,
        reason=reason,
        interrupted=interrupted,
        seconds=seconds,
        history=state.history,
        stop_step=stop_step,
        confirmed=confirmed,
        criteria=stopper.summary(state.completed) if stopper is not None else {},
        monitor_seconds=sum(t.seconds for t in stopper.tracks) if stopper is not None else 0.0,
        events=state.events,
        config={
            **asdict(cfg),
            "stage_boundary": boundary,
            "placement": asdict(where),
            "operator": operator.describe(),
            "budget": budget.describe(),
            "fit_guard": fit_check.to_dict(),
            **({"resumed_from_step": saved["step"]} if saved is not None else {}),
        },
    )


def _to(value: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return value.to(device) if value is not None else None


@dataclass
class _Snapshot:
    """The last good state, to return to when the run diverges (parameters copied)."""

    step: int
    fit_psnr: float
    net: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    average: torch.Tensor | None
    generator: torch.Tensor
    output: torch.Tensor | None = None
    fit_target: torch.Tensor | None = None

    @classmethod
    def take(
        cls,
        step: int,
        fit_psnr: float,
        net: nn.Module,
        optimizer: torch.optim.Optimizer,
        average: torch.Tensor | None,
        generator: torch.Generator,
        output: torch.Tensor | None = None,
        fit_target: torch.Tensor | None = None,
    ) -> _Snapshot:
        return cls(
            step,
            fit_psnr,
            {k: v.detach().clone() for k, v in net.state_dict().items()},
            copy.deepcopy(optimizer.state_dict()),
            average.clone() if average is not None else None,
            generator.get_state(),
            output.clone() if output is not None else None,
            fit_target,  # replaced, never changed in place: no copy needed
        )

    def restore(
        self,
        net: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Put the parameters, optimiser and random stream back; return the saved average,
        output and fit target.
        """
        net.load_state_dict(self.net)
        optimizer.load_state_dict(copy.deepcopy(self.optimizer))
        generator.set_state(self.generator)
        average = self.average.clone() if self.average is not None else None
        output = self.output.clone() if self.output is not None else None
        return average, output, self.fit_target


@dataclass
class _RunState:
    """Everything a run carries from step to step (and a checkpoint saves)."""

    output: torch.Tensor
    fit_target: torch.Tensor
    average: torch.Tensor | None = None
    step: int = 0
    completed: int = 0
    seconds: float = 0.0
    loss_value: float = math.nan
    history: list[dict[str, float]] = field(default_factory=list)
    last_good: torch.Tensor | None = None
    last_good_step: int = 0
    snapshot: _Snapshot | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    recoveries: int = 0
    limit: int = 0
    extensions: list[dict[str, Any]] = field(default_factory=list)

    def load(
        self,
        saved: dict[str, Any],
        net: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        device: torch.device,
    ) -> None:
        """Continue from a checkpoint's state (see :mod:`autodip.core.checkpoint`)."""
        net.load_state_dict(saved["net"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        self.output = saved["output"].to(device)
        self.fit_target = saved["fit_target"].to(device)
        self.average = _to(saved["average"], device)
        self.step = self.completed = saved["step"]
        self.seconds = saved["seconds"]
        self.loss_value = saved["loss_value"]
        self.history = saved["history"]
        self.last_good = _to(saved["last_good"], device)
        self.last_good_step = saved["last_good_step"]
        snap = saved["snapshot"]
        self.snapshot = _Snapshot(
            snap["step"],
            snap["fit_psnr"],
            snap["net"],
            snap["optimizer"],
            _to(snap["average"], device),
            snap["generator"],
            _to(snap.get("output"), device),
            _to(snap.get("fit_target"), device),
        )
        self.events = saved["events"]
        self.recoveries = saved["recoveries"]
        self.limit = saved.get("limit", 0)
        self.extensions = saved.get("extensions", [])


class _Budget:
    """The run's step limit: ``max_iters``, extended while the run is not done.

    At the limit, a run with ``max_extended_iters`` above it goes on by half of ``max_iters`` when
    the estimate it would return is under-fitted by the fit guard
    (:mod:`autodip.stopping.fit_guard`), or
    when its primary criterion has not confirmed a stop while that estimate's residual is still
    above :data:`autodip.defaults.EXTEND_ABOVE_RATIO` · σ̂²; never past the cap or the time
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

    def check(self, estimate: torch.Tensor, step: int | None = None) -> FitCheck:
        """The fit guard's verdict on ``estimate`` (σ̂ of the measurement computed once).

        ``step`` past a retargeted run's stage boundary gives no verdict: stage 2 fits the
        stage-1 image, so the residual against the measurement is stage 1's to explain.
        """
        if self._sigma is None:
            self._sigma = _measurement_sigma(self.measured, self.operator)
        self.last_check = check_fit(
            estimate, self.measured, self.operator, self._sigma, ratio=self.cfg.guard_ratio
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
        if verdict.underfitted:
            why = verdict.note
        elif unconfirmed and verdict.ratio > defaults.EXTEND_ABOVE_RATIO:
            # the criterion still finds better steps and the residual is above the noise level
            # (defaults.EXTEND_ABOVE_RATIO says why and what the evidence is)
            why = f"{stopper.primary.name} has not confirmed a stop ({verdict.note})"
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


def _divergence(loss: float, fit_psnr: float, snapshot: _Snapshot, cfg: FitConfig) -> str | None:
    """Why this monitored step counts as divergence, or ``None``.

    The loss became NaN or infinite, or the fit to the target (as a PSNR) fell by more than
    ``cfg.divergence_drop_db`` since the last good monitored step — the test of the original DIP
    code, which backtracks when the fit drops by more than 5 dB between checks.
    """
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    drop = snapshot.fit_psnr - fit_psnr
    if math.isfinite(snapshot.fit_psnr) and drop > cfg.divergence_drop_db:
        return f"the fit to the target fell by {drop:.1f} dB"
    return None


def _recover(
    problem: str,
    step: int,
    state: _RunState,
    cfg: FitConfig,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> str | None:
    """Go back to the last good state with a lower learning rate; a reason if that is over."""
    snapshot = state.snapshot
    if state.recoveries >= cfg.max_recoveries:
        state.events.append({"step": step, "problem": problem, "action": "gave up"})
        return (
            f"diverged at step {step} ({problem}) and did not recover after "
            f"{cfg.max_recoveries} restarts with lower learning rates; returning the estimate "
            f"of step {state.last_good_step} (try a lower --lr)"
        )
    state.recoveries += 1
    # the rate in use now (already lowered by earlier recoveries), lowered once more; the
    # snapshot's optimiser state carries the rate of its time, so set it after restoring
    lrs = [group["lr"] * cfg.recovery_lr_factor for group in optimizer.param_groups]
    state.average, state.output, state.fit_target = snapshot.restore(net, optimizer, generator)
    for group, lr in zip(optimizer.param_groups, lrs, strict=True):
        group["lr"] = lr
    lr = lrs[0]
    state.events.append(
        {"step": step, "problem": problem, "action": f"back to step {snapshot.step}", "lr": lr}
    )
    warnings.warn(
        f"autodip: {problem} at step {step}; continuing from step {snapshot.step} with "
        f"learning rate {lr:.3g}",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


def placement_for(config: FitConfig) -> Placement:
    """The placement a run with ``config`` will use (for reports and benchmarks)."""
    return placement(config.device, config.precision, config.channels_last)
