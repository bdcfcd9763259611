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
(:mod:`autodip.physics.regularizers`, Peng, Hou and Tan) can be added for the whole run or, in a
*two-stage* run, for its first ``stage_fraction`` of the steps, after which plain DIP follows in one
of two readings (SPEC): ``continue`` keeps fitting ``y``; ``retarget`` fits the stage-1 estimate
instead (through the identity, so for inpainting and super-resolution stage 2 refines the stage-1
image). Both keep the same network and optimiser.

Every other part (operator, network, monitors) is passed in; only :class:`Run` iterates. A run reads
top to bottom: :meth:`Run.setup` (check the inputs, place them, resume), then :meth:`Run.step` until
the budget's limit, :meth:`Run.on_monitored_step` every ``monitor_every`` steps (the history, the
criteria, the monitors, the budget), and :meth:`Run.finish` (the :class:`Result`). :func:`fit` is
``Run(...).run()``.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from autodip.core.budget import Budget
from autodip.core.checkpoint import Checkpointing
from autodip.core.config import INPUT_KINDS, TWO_STAGE_MODES, FitConfig
from autodip.core.geometry import check_min_size, min_side, padding_for
from autodip.core.hardware import Placement, placement
from autodip.core.perturbation import Perturbation
from autodip.core.recovery import Snapshot, divergence, to_cpu, to_device
from autodip.core.result import Monitor, Result, StepReport
from autodip.core.state import RunState
from autodip.core.validation import check_image_tensor
from autodip.core.window import Window, WindowSampler, receptive_radius
from autodip.metrics.full_reference import psnr, ssim
from autodip.nets.registry import net_label
from autodip.physics.operators import Denoise, Operator
from autodip.physics.regularizers import tv_penalty
from autodip.stopping.base import Context
from autodip.stopping.fit_guard import FitCheck, measured_support, measurement_residual
from autodip.stopping.stopper import Stopper

__all__ = [
    "INPUT_KINDS",
    "TWO_STAGE_MODES",
    "FitConfig",
    "Monitor",
    "Result",
    "Run",
    "StepReport",
    "check_image_tensor",
    "fit",
    "make_input",
    "placement_for",
]


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


def reset_parameters(net: nn.Module) -> None:
    """Re-initialise every layer of ``net`` that can (from the global random state)."""
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
    return Run(
        y,
        net,
        operator,
        config,
        reference=reference,
        monitors=monitors,
        stopper=stopper,
        on_step=on_step,
        checkpoint=checkpoint,
    ).run()


class Run:
    """One Deep Image Prior run as an object; :func:`fit` documents the arguments.

    The parts of a run, in the order they happen: :meth:`setup` checks the inputs, places the
    network and the images, draws the code ``z`` and resumes from a checkpoint; :meth:`step` is one
    optimisation step; :meth:`on_monitored_step` records the history, asks the criteria and the
    monitors, and lets the budget grow; :meth:`finish` makes the :class:`Result`. :meth:`run` is
    the loop that calls them (and handles divergence and Ctrl-C). :meth:`state_dict` and
    :meth:`load_state_dict` are what a checkpoint saves and restores.
    """

    def __init__(
        self,
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
    ) -> None:
        self.y = y
        self.net = net
        self.operator = operator or Denoise()
        self.cfg = config or FitConfig()
        self.reference = reference
        self.monitors = tuple(monitors)
        self.stopper = stopper
        self.on_step = on_step
        self.checkpoint = checkpoint
        self.failure: str | None = None
        self.resumed_from: int | None = None

    # --- setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Check the inputs, place everything, and start afresh or from the checkpoint."""
        self._check_inputs()
        cfg = self.cfg
        self.where = placement(cfg.device, cfg.precision, cfg.channels_last)
        self.device = torch.device(self.where.device)
        saved = self.checkpoint.load(self) if self.checkpoint is not None else None
        if cfg.reinit and saved is None:
            # Initialise on the CPU under a forked, seeded generator: the same weights whatever
            # the device, and the caller's random state (CPU and CUDA) is left untouched.
            self.net.cpu()
            cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(cfg.seed)
                reset_parameters(self.net)
        self._start_criteria(saved)
        self._place_network()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, fused=True)
        self.state = RunState(
            output=torch.zeros(1, self.y.shape[1], *self.z.shape[-2:], device=self.device),
            fit_target=self.fitted,
        )
        if saved is not None:
            self.load_state_dict(saved)
        else:
            self.state.snapshot = self._snapshot(0, math.inf)
        retarget_from = self.boundary if cfg.two_stage == "retarget" else None
        self.budget = Budget(cfg, self.measured, self.operator, retarget_from=retarget_from)
        # a resumed run continues within the limit it had reached, never past this run's cap
        self.budget.limit = min(self.budget.cap, max(self.budget.limit, self.state.limit))
        self.budget.extensions = list(self.state.extensions)
        self.start = time.perf_counter() - self.state.seconds
        for monitor in self.monitors:  # a monitor that reads the run is handed it, set up
            on_start = getattr(monitor, "on_start", None)
            if callable(on_start):
                on_start(self)

    def _check_inputs(self) -> None:
        y, operator, net = self.y, self.operator, self.net
        est_h, est_w = check_fit_inputs(y, operator, net, self.reference)
        self.multiple = int(getattr(net, "size_multiple", 1))
        check_min_size(est_h, est_w, self.multiple, net_label(net), getattr(net, "min_bottom", 1))
        self.estimate_size = (est_h, est_w)
        if self.cfg.window is not None and not isinstance(operator, Denoise):
            raise ValueError(
                f"window training works for denoising only, not {operator.name} "
                "(restore large images of other tasks with tiles)"
            )

    def _start_criteria(self, saved: dict[str, Any] | None) -> None:
        """The measurement on the device, and what the criteria change of the objective."""
        cfg, stopper, operator = self.cfg, self.stopper, self.operator
        self.measured = self.y.float().to(self.device)
        self.ref = self.reference.float().to(self.device) if self.reference is not None else None
        if saved is None:
            self.offset = (
                stopper.start(self.measured, cfg.seed, self.ref, operator) if stopper else None
            )
        else:
            self.offset = to_device(saved["offset"], self.device)
            if stopper is not None:
                stopper.load_state(saved["stopper"], self.device)
        self.fitted = self.measured if self.offset is None else self.measured + self.offset
        self.weights = stopper.loss_weights(self.measured, cfg.seed, operator) if stopper else None
        self.support = measured_support(self.measured, operator)  # for the history's residual
        self.boundary = cfg.stage_boundary
        changed = self.offset is not None or self.weights is not None
        if (
            cfg.two_stage == "retarget"
            and changed
            and self.measured.shape[-2:] != self.estimate_size
        ):
            raise ValueError(
                f"{stopper.primary.name} changes the objective on the measurement, which a "
                "retargeted second stage (fitting the stage-1 image) cannot carry for this "
                "operator; use two_stage='continue' or another criterion"
            )

    def _place_network(self) -> None:
        """The code ``z``, the network on its device and layout, and the perturbation buffers."""
        cfg, net, device = self.cfg, self.net, self.device
        est_h, est_w = self.estimate_size
        self.padding = padding = padding_for(est_h, est_w, self.multiple)
        z = make_input(
            cfg.input_kind,
            net.in_channels,
            est_h + padding.top + padding.bottom,
            est_w + padding.left + padding.right,
            scale=cfg.input_scale,
            generator=torch.Generator().manual_seed(cfg.seed),
        )
        memory_format = torch.channels_last if self.where.channels_last else torch.contiguous_format
        net.to(device=device, memory_format=memory_format).train()
        self.z = z.to(device).contiguous(memory_format=memory_format)
        self.perturbation = Perturbation(
            tuple(self.z.shape),
            cfg.reg_noise_std,
            cfg.seed + 1,
            device,
            self.where.channels_last,
            cfg.reg_noise_draw,
        )
        self.generator = self.perturbation.generator  # saved in snapshots and checkpoints
        self.windows = self._window_sampler() if cfg.window is not None else None
        self.evaluated_at = 0
        if self.windows is not None:  # the perturbed code of one window's size
            shape = (self.z.shape[0], self.z.shape[1], *self.windows.shape)
            # each image pixel's loss weight, in the estimate's frame like the target
            self.window_weights = self.padding.crop(self.windows.weights()).to(device)
            self.window_code = torch.empty(shape, device=device, memory_format=memory_format)
        else:
            self.code_buffer = torch.empty_like(self.z)
        self.autocast = (
            torch.autocast(device.type, dtype=self.where.autocast_dtype)
            if self.where.autocast_dtype is not None
            else contextlib.nullcontext()
        )

    def _window_sampler(self) -> WindowSampler | None:
        """Window training's sampler (``None`` where one window is the whole image)."""
        net, cfg = self.net, self.cfg
        margin = receptive_radius(net, self.multiple)
        sampler = WindowSampler(self.padding, cfg.window, self.multiple, cfg.seed, margin)
        smallest = min_side(self.multiple, int(getattr(net, "min_bottom", 1)))
        if min(sampler.side) < smallest:
            raise ValueError(
                f"a {cfg.window}-pixel window is too small for {net_label(net)}: it needs "
                f"at least {smallest} pixels a side"
            )
        return None if sampler.covers_everything else sampler

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> Result:
        """Set up, step until the run is done, and return the :class:`Result`."""
        self.setup()
        state, cfg = self.state, self.cfg
        reason, interrupted = "", False
        try:
            while state.step < self.budget.limit:
                step = state.step = state.step + 1
                loss, data_loss = self.step(step)
                if step % cfg.monitor_every == 0 or step == self.budget.limit:
                    whole_loss = self.evaluate_whole()  # window training: the whole image's fit
                    state.loss_value = float(loss.detach())
                    fit = whole_loss if whole_loss is not None else float(data_loss.detach())
                    fit_psnr = -10.0 * math.log10(max(fit, 1e-30))
                    problem = divergence(state.loss_value, fit_psnr, state.snapshot, cfg)
                    if problem is not None:
                        self.failure = self.recover(problem, step)
                        if self.failure is not None:
                            reason = self.failure
                            break
                        state.step = state.snapshot.step
                        continue
                    reason = self.on_monitored_step(step, fit_psnr) or ""
                    if reason:
                        break
                if self.checkpoint is not None and self.checkpoint.due(step, self.budget.limit):
                    state.seconds = time.perf_counter() - self.start
                    self.checkpoint.save(self)
                if self.on_step is not None:
                    self.on_step(step, state.loss_value)
        except KeyboardInterrupt:
            if state.completed == 0:
                raise  # nothing to return yet: let the caller handle Ctrl-C
            interrupted = True
            reason = f"interrupted by the user after step {state.completed}"
            self.catch_up_whole()
        return self.finish(reason, interrupted)

    def catch_up_whole(self) -> None:
        """Window training stopped between monitored steps: evaluate the whole image as of the
        last completed step, so that the result is that step's and not the last check's (or, before
        the first check, an image never evaluated at all).

        A second Ctrl-C during the evaluation keeps the last check's image, if there is one.
        """
        if self.windows is None or self.evaluated_at == self.state.completed:
            return
        try:
            self.evaluate_whole()
        except KeyboardInterrupt:
            if self.evaluated_at == 0:
                raise  # no whole image evaluated yet: nothing to return

    def step(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Optimisation step number ``step``; return the loss and its data term."""
        cfg, state, boundary = self.cfg, self.state, self.boundary
        retargeted = cfg.two_stage == "retarget" and boundary is not None and step > boundary
        if retargeted and step == boundary + 1:
            # stage 2 of the `retarget` reading: fit the stage-1 estimate instead of y
            self.catch_up_whole()
            state.fit_target = self.padding.crop(state.estimate()).detach().clone()
            if self.offset is not None:
                state.fit_target = state.fit_target + self.offset
        window = self.windows.draw(step) if self.windows is not None else None
        code = self._code(window, step)
        with self.autocast:
            output = self.net(code)
        output = output.float()
        target, weights = state.fit_target, self.weights
        if window is None:
            estimate = self.padding.crop(output)
        else:  # the window's part of the image, and the same part of what it is fitted to
            estimate = output[..., window.out_rows, window.out_cols]
            target = target[..., window.est_rows, window.est_cols]
            if weights is not None:
                weights = weights[..., window.est_rows, window.est_cols]
        fit_operator = Denoise() if retargeted else self.operator
        squared = (fit_operator.A(estimate) - target) ** 2
        if window is not None:  # each pixel by how rarely windows cover it (see core.window)
            squared = squared * self.window_weights[..., window.est_rows, window.est_cols]
        data_loss = _data_term(squared, weights)
        loss = data_loss
        if cfg.tv_weight > 0 and (boundary is None or step <= boundary):
            loss = loss + tv_penalty(estimate, cfg.tv_weight, target.numel())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        state.completed = step
        if window is not None:
            return loss, data_loss  # the whole image is evaluated at monitored steps only
        state.output = output.detach()
        if cfg.exp_weight > 0:
            with torch.no_grad():
                state.average = (
                    state.output.clone()
                    if state.average is None
                    else state.average.mul_(cfg.exp_weight).add_(
                        state.output, alpha=1 - cfg.exp_weight
                    )
                )
        return loss, data_loss

    def _code(self, window: Window | None, step: int) -> torch.Tensor:
        """The network's input: ``z`` (or its window), perturbed by step ``step``'s reg-noise
        (:class:`~autodip.core.perturbation.Perturbation`).
        """
        if window is None:
            return self.perturbation.perturb(self.z, step, out=self.code_buffer)
        code = self.z[..., window.rows, window.cols]
        return self.perturbation.perturb(
            code, step, out=self.window_code, rows=window.rows, cols=window.cols
        )

    @torch.no_grad()
    def evaluate_whole(self) -> float | None:
        """Window training: the whole image's output, window by window
        (:meth:`~autodip.core.window.WindowSampler.tiling`), and the moving average over the
        steps since the last evaluation (weight ``w ** k`` after ``k`` steps: ``k`` steps of the
        per-step average with the output held fixed). Whole-image runs: nothing to do.

        Each window is normalised by its own batch statistics, as in training: one forward pass
        of the whole image would normalise by the whole image's statistics, which the network
        never saw.

        Returns the data term on the whole image (``None`` for a whole-image run): the divergence
        check compares it across monitored steps, which one window's loss, changing with the
        window's content, could not be.
        """
        if self.windows is None:
            return None
        state, cfg, pad = self.state, self.cfg, self.padding
        total = torch.zeros_like(state.output)
        weight = torch.zeros_like(state.output[:, :1])
        for window, (top, left), blend in self.windows.tiling():
            with self.autocast:
                part = self.net(self.z[..., window.rows, window.cols]).float()
            height, width = blend.shape
            down, across = top - window.rows.start, left - window.cols.start
            fitted = part[..., down : down + height, across : across + width]
            blend = blend.to(total.device)
            total[..., top : top + height, left : left + width] += fitted * blend
            weight[..., top : top + height, left : left + width] += blend
        output = total / weight.clamp_min(1e-12)
        state.output = output
        if cfg.exp_weight > 0:
            if state.average is None:
                state.average = output.clone()
            else:
                kept = cfg.exp_weight ** (state.completed - self.evaluated_at)
                state.average.mul_(kept).add_(output, alpha=1 - kept)
        self.evaluated_at = state.completed
        return float(_data_term((pad.crop(output) - state.fit_target) ** 2, self.weights))

    def on_monitored_step(self, step: int, fit_psnr: float) -> str | None:
        """Record the step, ask the criteria, monitors and budget; a stop reason or ``None``."""
        state, padding = self.state, self.padding
        estimate = padding.crop(state.estimate())
        state.last_good, state.last_good_step = estimate.detach().clone(), step
        state.snapshot = self._snapshot(step, fit_psnr)
        report = StepReport(
            step,
            estimate,
            padding.crop(state.output),
            state.loss_value,
            time.perf_counter() - self.start,
        )
        state.history.append(self._record(step, estimate, report.seconds))
        stop = None
        if self.stopper is not None:
            context = Context(
                raw=report.output,
                target=self.measured,
                operator=self.operator,
                loss=state.loss_value,
                max_iters=self.cfg.max_iters,
                reference=self.ref,
            )
            may_confirm = self.budget.may_confirm(state.history[-1]["residual"], step)
            stop = self.stopper.observe(step, estimate, context, may_confirm)
        stop = stop or next((r for r in (m(report) for m in self.monitors) if r), None)
        stop = stop or self.budget.out_of_time(report.seconds)
        if stop:
            return stop
        if step == self.budget.limit:
            returned = self.stopper.best_image if self.stopper is not None else None
            self.budget.consider(step, returned if returned is not None else estimate, self.stopper)
            state.limit, state.extensions = self.budget.limit, list(self.budget.extensions)
        return None

    def _record(self, step: int, estimate: torch.Tensor, seconds: float) -> dict[str, float]:
        record = {
            "step": step,
            "loss": self.state.loss_value,
            "residual": measurement_residual(estimate, self.measured, self.operator, self.support),
            "seconds": seconds,
        }
        if self.boundary is not None:
            record["stage"] = 1 if step <= self.boundary else 2
        if self.ref is not None:
            record["psnr"] = psnr(estimate, self.ref)
            record["ssim"] = ssim(estimate, self.ref)
        return record

    def _snapshot(self, step: int, fit_psnr: float) -> Snapshot:
        state = self.state
        take = Snapshot.take if state.snapshot is None else state.snapshot.refresh
        return take(
            step,
            fit_psnr,
            self.net,
            self.optimizer,
            self.generator,
            average=state.average,
            output=state.output,
            fit_target=state.fit_target,
        )

    def recover(self, problem: str, step: int) -> str | None:
        """Go back to the last good state with a lower learning rate; a reason if that is over."""
        state, cfg, optimizer = self.state, self.cfg, self.optimizer
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
        state.average, state.output, state.fit_target = snapshot.restore(
            self.net, optimizer, self.generator
        )
        for group, lr in zip(optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self.evaluated_at = snapshot.step
        state.events.append(
            {
                "step": step,
                "problem": problem,
                "action": f"back to step {snapshot.step}",
                "lr": lrs[0],
            }
        )
        warnings.warn(
            f"autodip: {problem} at step {step}; continuing from step {snapshot.step} with "
            f"learning rate {lrs[0]:.3g}",
            RuntimeWarning,
            stacklevel=4,
        )
        return None

    # --- the end ----------------------------------------------------------------------------

    def finish(self, reason: str, interrupted: bool) -> Result:
        """The :class:`Result`: the estimate at the criterion's stop (or the last), judged."""
        state, stopper = self.state, self.stopper
        seconds = time.perf_counter() - self.start
        reason = reason or self.budget.end_reason()
        final = self.padding.crop(state.estimate())
        if self.failure is not None:
            if state.last_good is None:
                raise FloatingPointError(
                    f"the run diverged before the first monitored step ({self.failure}); "
                    "try a lower --lr"
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
            fit_check = self.budget.check(image.to(self.device), state.completed)
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
            config=self._described(fit_check),
        )

    def _described(self, fit_check: FitCheck) -> dict[str, Any]:
        return {
            **asdict(self.cfg),
            "stage_boundary": self.boundary,
            "placement": asdict(self.where),
            "operator": self.operator.describe(),
            "budget": self.budget.describe(),
            "fit_guard": fit_check.to_dict(),
            "gate_opens_at": self.stopper.gate_opens_at if self.stopper is not None else None,
            "confirmed_by": self.stopper.confirmed_by if self.stopper is not None else None,
            "window_margin": self.windows.margin if self.windows is not None else None,
            **({"resumed_from_step": self.resumed_from} if self.resumed_from is not None else {}),
        }

    # --- checkpoints ------------------------------------------------------------------------

    def state_dict(self, estimates: bool = True) -> dict[str, Any]:
        """Everything the next step depends on, as plain data on the CPU (a checkpoint's body).

        The keys of :meth:`RunState.state_dict` plus ``net``, ``optimizer``, ``generator`` (the
        perturbations' random stream), ``offset`` (a criterion's change of the target) and
        ``stopper`` (the criteria's windows and scores) and ``evaluated_at`` (window training: the
        step of the whole-image output held). ``estimates``: see :meth:`Stopper.state`.
        """
        return {
            **self.state.state_dict(),
            "net": to_cpu(self.net.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "offset": to_cpu(self.offset),
            "stopper": self.stopper.state(estimates) if self.stopper is not None else None,
            "evaluated_at": self.evaluated_at,
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s data (the criteria and the offset are restored by
        :meth:`setup` before, since the objective depends on them).
        """
        self.net.load_state_dict(saved["net"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.generator.set_state(saved["generator"])
        self.state.load_state_dict(saved, self.device)
        self.resumed_from = saved["step"]
        # window training: the step whose whole-image output the saved state holds
        self.evaluated_at = int(saved.get("evaluated_at", saved["step"]))


def _data_term(squared: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """The mean squared error, over the values a criterion does not hide (holdout's weights)."""
    if weights is None:
        return torch.mean(squared)
    return torch.mean(squared * weights) / weights.mean()


def check_fit_inputs(
    y: torch.Tensor, operator: Operator, net: nn.Module, reference: torch.Tensor | None
) -> tuple[int, int]:
    """Raise ``ValueError`` for a measurement, operator, network or reference that cannot make a
    run (a batched one too); return the estimate's height and width.
    """
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
                f"the reference is {tuple(reference.shape[-3:])} (C×H×W) but the "
                f"estimate will be {(channels, est_h, est_w)}"
            )
    return est_h, est_w


def placement_for(config: FitConfig) -> Placement:
    """The placement a run with ``config`` will use (for reports and benchmarks)."""
    return placement(config.device, config.precision, config.channels_last)
