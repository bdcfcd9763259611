r"""K independent runs in one batched computation: :func:`fit_members`.

Each member has its own initialisation, code :math:`z_k`, perturbation stream and stopping
criterion, exactly as a solo :func:`~autodip.core.run.fit` with its seed; the K networks are
computed as one with grouped convolutions (:func:`autodip.nets.grouped.group_members`), and one
Adam over the stacked parameters is K independent Adams (Adam is element-wise). The loss is the
sum of the members' losses, :math:`\sum_k \lVert A(f_{\theta_k}(z_k + \eta_{k,t})) - y\rVert^2 /
n`, whose gradient with respect to :math:`\theta_k` is member k's own. Member k's result equals the
solo run's within float32 rounding (the grouped convolution sums in another order);
``tests/test_members.py`` checks it.

A member that ends — its criterion confirms a stop, or it reaches its budget — keeps its result
from then on and trains no further (its loss leaves the sum); the batch runs until every member
has ended. Each member has its own adaptive budget (:class:`~autodip.core.budget.Budget`, as a
solo run's: at its limit it is extended by half the nominal budget while that member is not done,
up to ``max_extended_iters``), so a member ends where its solo run would. What a solo run has and
members do not (they are refused with a ``ValueError`` rather than run differently,
:func:`unsupported` says which): criteria that change the objective (OSC, holdout), the TV term and
two-stage runs, window training, a time limit, checkpoints. A divergence of a running member takes
every running member back to the last good state with a lower learning rate (a solo run would do
so for itself alone); where that does not help, every running member ends with its last good
estimate, as a solo run does.

The batch computes every member until the last one ends, so it costs the longest member's steps at
the batched step's price; on a GPU that price is well under K solo steps
(``benchmarks/results/gpu/batched_members-cuda.md``), on a 2-core CPU at 256² it is not.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace

import torch
from torch import nn

from autodip.core.budget import Budget
from autodip.core.config import FitConfig
from autodip.core.geometry import check_min_size, padding_for
from autodip.core.hardware import placement
from autodip.core.perturbation import Perturbation
from autodip.core.recovery import Snapshot, divergence
from autodip.core.result import Result
from autodip.core.run import check_fit_inputs, make_input, reset_parameters
from autodip.metrics.full_reference import psnr, ssim
from autodip.nets.grouped import group_members
from autodip.nets.registry import net_label
from autodip.physics.operators import Denoise, Operator
from autodip.stopping.base import Context
from autodip.stopping.fit_guard import measured_support, measurement_residual
from autodip.stopping.stopper import Stopper


def fit_members(
    y: torch.Tensor,
    nets: Sequence[nn.Module],
    operator: Operator | None = None,
    config: FitConfig | None = None,
    *,
    seeds: Sequence[int],
    stoppers: Sequence[Stopper | None] | None = None,
    reference: torch.Tensor | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> list[Result]:
    """Fit K networks to ``y`` at once; member k as :func:`~autodip.core.run.fit` with ``seeds[k]``.

    Parameters
    ----------
    y, operator, config, reference, on_step
        As for :func:`~autodip.core.run.fit`; ``config.seed`` is replaced by each member's seed.
    nets
        K networks of one architecture (re-initialised from each member's seed when
        ``config.reinit``).
    seeds
        One seed per member.
    stoppers
        One stopper (or ``None``) per member; none changes the objective.

    Returns
    -------
    list of Result
        One per member, in order; ``config["member"]`` is its index and ``config["seed"]`` its seed.

    Examples
    --------
    >>> from autodip.nets import create_net
    >>> y = torch.rand(1, 3, 16, 16)
    >>> nets = [create_net("hourglass", width=4) for _ in range(2)]
    >>> results = fit_members(y, nets, config=FitConfig(max_iters=3, device="cpu"), seeds=[0, 1])
    >>> [r.iterations for r in results]
    [3, 3]
    """
    return _Members(
        y, nets, operator or Denoise(), config or FitConfig(), seeds, stoppers, reference, on_step
    ).run()


class _Members:
    """The batched run: :meth:`setup`, :meth:`step`, :meth:`on_monitored_step`, :meth:`finish`."""

    def __init__(
        self,
        y: torch.Tensor,
        nets: Sequence[nn.Module],
        operator: Operator,
        cfg: FitConfig,
        seeds: Sequence[int],
        stoppers: Sequence[Stopper | None] | None,
        reference: torch.Tensor | None,
        on_step: Callable[[int, float], None] | None,
    ) -> None:
        if len(nets) != len(seeds) or not nets:
            raise ValueError(f"one seed per network: {len(nets)} networks, {len(seeds)} seeds")
        self.k = len(nets)
        self.stoppers = list(stoppers) if stoppers is not None else [None] * self.k
        if len(self.stoppers) != self.k:
            raise ValueError(f"one stopper per network: {self.k} networks, {len(stoppers)} given")
        _refuse_what_members_lack(cfg, self.stoppers)
        self.y, self.nets, self.operator, self.cfg = y, list(nets), operator, cfg
        self.seeds, self.reference, self.on_step = list(seeds), reference, on_step

    def setup(self) -> None:
        """Check, initialise each member from its seed, stack them, place everything."""
        y, cfg, net = self.y, self.cfg, self.nets[0]
        est_h, est_w = check_fit_inputs(y, self.operator, net, self.reference)
        multiple = int(getattr(net, "size_multiple", 1))
        check_min_size(est_h, est_w, multiple, net_label(net), getattr(net, "min_bottom", 1))
        self.where = placement(cfg.device, cfg.precision, cfg.channels_last)
        device = self.device = torch.device(self.where.device)
        self.padding = padding_for(est_h, est_w, multiple)
        shape = (
            est_h + self.padding.top + self.padding.bottom,
            est_w + self.padding.left + self.padding.right,
        )
        codes = []
        for member, seed in zip(self.nets, self.seeds, strict=True):
            if cfg.reinit:  # as a solo run does: on the CPU, under a forked generator
                member.cpu()
                cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
                with torch.random.fork_rng(devices=cuda):
                    torch.manual_seed(seed)
                    reset_parameters(member)
            generator = torch.Generator().manual_seed(seed)
            codes.append(
                make_input(
                    cfg.input_kind,
                    net.in_channels,
                    *shape,
                    scale=cfg.input_scale,
                    generator=generator,
                )
            )
        memory_format = torch.channels_last if self.where.channels_last else torch.contiguous_format
        self.net = group_members(self.nets).to(device=device, memory_format=memory_format).train()
        self.z = torch.cat(codes, dim=1).to(device).contiguous(memory_format=memory_format)
        # each member's perturbation as a solo run with its seed draws it (same values)
        self.perturbations = [
            Perturbation(
                (1, net.in_channels, *shape),
                cfg.reg_noise_std,
                s + 1,
                device,
                self.where.channels_last,
                cfg.reg_noise_draw,
            )
            for s in self.seeds
        ]
        self.generators = [p.generator for p in self.perturbations]
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, fused=True)
        self.autocast = (
            torch.autocast(device.type, dtype=self.where.autocast_dtype)
            if self.where.autocast_dtype is not None
            else contextlib.nullcontext()
        )
        self.measured = y.float().to(device)
        self.ref = self.reference.float().to(device) if self.reference is not None else None
        self.support = measured_support(self.measured, self.operator)
        # each member's budget, as its solo run's (the first one's also gates confirmations:
        # the gate depends on the measurement and the config, the same for every member)
        self.budgets = [
            Budget(replace(cfg, seed=seed), self.measured, self.operator) for seed in self.seeds
        ]
        self.gate = self.budgets[0]
        for stopper, seed in zip(self.stoppers, self.seeds, strict=True):
            if stopper is not None:
                stopper.start(self.measured, seed, self.ref, self.operator)
        self.average: torch.Tensor | None = None
        self.output = torch.zeros(self.k, y.shape[1], *shape, device=device)
        self.histories: list[list[dict[str, float]]] = [[] for _ in self.seeds]
        self.done: list[tuple[int, str] | None] = [None] * self.k
        # the events a member saw: while it runs, the batch's; frozen when it ends
        self.member_events: list[list[dict[str, object]] | None] = [None] * self.k
        self.running = torch.ones(self.k, dtype=torch.bool, device=device)  # not yet ended
        self.events: list[dict[str, object]] = []
        self.recoveries = 0
        self.gave_up = False  # the restarts ran out: every member has ended
        self.last_loss = math.nan
        self.last_images: list[torch.Tensor | None] = [None] * self.k
        self.snapshot = self._snapshot(0, [math.inf] * self.k)
        self.completed = 0  # the last step every member has taken
        self.start = time.perf_counter()

    def run(self) -> list[Result]:
        """Step until every member has stopped or the budget ends; one result per member."""
        self.setup()
        step, reason = 0, ""
        try:
            while step < self.limit and not all(self.done):
                step += 1
                losses = self.step(step)
                self.completed = step
                if step % self.cfg.monitor_every == 0 or self.at_a_limit(step):
                    rewind = self.on_monitored_step(step, losses)
                    if rewind is not None:
                        step = self.completed = rewind
                        continue
                    if self.gave_up:  # as a solo run, the diverged step is not reported
                        break
                if self.on_step is not None:
                    self.on_step(step, self.last_loss)
        except KeyboardInterrupt:
            if self.completed == 0:
                raise
            reason = f"interrupted by the user after step {self.completed}"
        return self.finish(reason)

    def step(self, step: int) -> torch.Tensor:
        """Optimisation step number ``step`` of every member; the members' data losses
        (detached).
        """
        cfg, c = self.cfg, self.nets[0].in_channels
        code = self.z
        if cfg.reg_noise_std > 0:
            parts = [
                perturbation.perturb(self.z[:, k * c : (k + 1) * c], step)
                for k, perturbation in enumerate(self.perturbations)
            ]
            code = torch.cat(parts, dim=1).contiguous(memory_format=self.z_format)
        with self.autocast:
            output = self.net(code)
        output = output.float()
        output = output.reshape(self.k, -1, *output.shape[-2:])
        estimate = self.padding.crop(output)
        squared = (self.operator.A(estimate) - self.measured) ** 2
        losses = squared.mean(dim=(1, 2, 3))
        self.optimizer.zero_grad(set_to_none=True)
        # a member that has ended trains no further (its result is kept; its gradient is zero)
        torch.where(self.running, losses, torch.zeros_like(losses)).sum().backward()
        self.optimizer.step()
        self.output = output.detach()
        if cfg.exp_weight > 0:
            with torch.no_grad():
                self.average = (
                    self.output.clone()
                    if self.average is None
                    else self.average.mul_(cfg.exp_weight).add_(
                        self.output, alpha=1 - cfg.exp_weight
                    )
                )
        return losses.detach()

    @property
    def limit(self) -> int:
        """The last step the batch runs: the largest limit of the members still running."""
        running = [b.limit for b, done in zip(self.budgets, self.done, strict=True) if not done]
        return max(running, default=0)

    def at_a_limit(self, step: int) -> bool:
        """Whether ``step`` is the limit of a member still running (it is judged there)."""
        return any(
            b.limit == step for b, done in zip(self.budgets, self.done, strict=True) if not done
        )

    @property
    def z_format(self) -> torch.memory_format:
        """The memory layout of the code (that of the placement)."""
        return torch.channels_last if self.where.channels_last else torch.contiguous_format

    def on_monitored_step(self, step: int, losses: torch.Tensor) -> int | None:
        """Record and judge every running member; the step to go back to after a divergence."""
        values = [float(v) for v in losses]
        self.last_loss = sum(values) / len(values)
        fits = [-10.0 * math.log10(max(v, 1e-30)) for v in values]
        for k, (value, fit) in enumerate(zip(values, fits, strict=True)):
            if self.done[k] is not None:
                continue  # an ended member's loss no longer matters
            problem = divergence(
                value, fit, replace(self.snapshot, fit_psnr=self.fit_psnrs[k]), self.cfg
            )
            if problem is not None:
                return self._recover(f"member {k}: {problem}", step)
        self.snapshot = self._snapshot(step, fits)
        images = self.padding.crop(self.average if self.average is not None else self.output)
        raw = self.padding.crop(self.output)
        seconds = time.perf_counter() - self.start
        for k in range(self.k):
            if self.done[k] is None:
                self._observe(k, step, images[k : k + 1], raw[k : k + 1], values[k], seconds)
        return None

    def _observe(
        self, k: int, step: int, image: torch.Tensor, raw: torch.Tensor, loss: float, seconds: float
    ) -> None:
        record = {
            "step": step,
            "loss": loss,
            "seconds": seconds,
            "residual": measurement_residual(image, self.measured, self.operator, self.support),
        }
        if self.ref is not None:
            record["psnr"], record["ssim"] = psnr(image, self.ref), ssim(image, self.ref)
        self.histories[k].append(record)
        stopper = self.stoppers[k]
        if stopper is None:
            self.last_images[k] = image.detach().clone()
            self._at_limit(k, step, image)
            return
        context = Context(
            raw=raw,
            target=self.measured,
            operator=self.operator,
            loss=loss,
            max_iters=self.cfg.max_iters,
            reference=self.ref,
        )
        self.last_images[k] = image.detach().clone()
        may_confirm = self.gate.may_confirm(record["residual"], step)  # as a solo run's
        stop = stopper.observe(step, image, context, may_confirm)
        if stop:
            self._end(k, step, stop)
            return
        self._at_limit(k, step, stopper.best_image if stopper.best_image is not None else image)

    def _at_limit(self, k: int, step: int, returned: torch.Tensor) -> None:
        """At member ``k``'s limit: extend its budget as its solo run would, or end it there."""
        budget = self.budgets[k]
        if step != budget.limit:
            return
        budget.consider(step, returned, self.stoppers[k])
        if budget.limit == step:
            self._end(k, step, budget.end_reason())

    def _end(self, k: int, step: int, why: str) -> None:
        """Member ``k`` ends at ``step``: its result is kept and it trains no further."""
        self.done[k] = (step, why)
        self.running[k] = False
        self.member_events[k] = list(self.events)

    def _snapshot(self, step: int, fits: list[float]) -> Snapshot:
        self.fit_psnrs = list(fits)
        self.generator_states = [g.get_state() for g in self.generators]
        previous = getattr(self, "snapshot", None)
        take = Snapshot.take if previous is None else previous.refresh
        return take(
            step,
            min(fits),
            self.net,
            self.optimizer,
            self.generators[0],
            average=self.average,
            output=self.output,
            fit_target=None,
        )

    def _recover(self, problem: str, step: int) -> int | None:
        """Every running member back to the last good state with a lower rate: the step to go
        back to; ``None`` when the restarts are spent and the running members have ended.
        """
        if self.recoveries >= self.cfg.max_recoveries:
            self._give_up(problem, step)
            return None
        self.recoveries += 1
        lrs = [g["lr"] * self.cfg.recovery_lr_factor for g in self.optimizer.param_groups]
        self.average, self.output, _ = self.snapshot.restore(
            self.net, self.optimizer, self.generators[0]
        )
        for generator, state in zip(self.generators, self.generator_states, strict=True):
            generator.set_state(state)
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self.events.append(
            {
                "step": step,
                "problem": problem,
                "action": f"back to step {self.snapshot.step}",
                "lr": lrs[0],
            }
        )
        warnings.warn(
            f"autodip: {problem} at step {step}; every member continues from step "
            f"{self.snapshot.step} with learning rate {lrs[0]:.3g}",
            RuntimeWarning,
            stacklevel=4,
        )
        return self.snapshot.step

    def _give_up(self, problem: str, step: int) -> None:
        """The restarts are spent: each running member ends with its last good estimate, as a
        solo run does (its last monitored image, or its criterion's best one).
        """
        last_good = self.snapshot.step
        if last_good == 0:  # nothing monitored yet: there is no good estimate to return
            raise FloatingPointError(
                f"the members diverged before the first monitored step ({problem}); "
                "try a lower --lr"
            )
        self.events.append({"step": step, "problem": problem, "action": "gave up"})
        self.gave_up = True
        why = (
            f"diverged at step {step} ({problem}) and did not recover after "
            f"{self.cfg.max_recoveries} restarts with lower learning rates; returning the "
            f"estimate of step {last_good} (try a lower --lr)"
        )
        for k in range(self.k):
            if self.done[k] is None:
                self._end(k, step, why)

    def finish(self, reason: str) -> list[Result]:
        """One :class:`Result` per member: its estimate at its stop, judged by the fit guard.

        ``reason`` (Ctrl-C) concerns only the members still running; one that had ended keeps
        its own reason and is not marked interrupted, as its solo run would not be.
        """
        final = self.padding.crop(self.average if self.average is not None else self.output)
        results = []
        for k in range(self.k):
            stopper, done, budget = self.stoppers[k], self.done[k], self.budgets[k]
            interrupted = bool(reason) and done is None
            iterations = done[0] if done is not None else min(self.completed, budget.limit)
            why = done[1] if done is not None else reason or budget.end_reason()
            image = final[k : k + 1] if done is None else self.last_images[k]
            stop_step = confirmed = None
            if stopper is not None and stopper.primary is not None:
                confirmed = stopper.confirmed
                if stopper.best_image is not None:
                    image, stop_step = stopper.best_image, stopper.best_step
                if not confirmed and not interrupted and why.startswith("reached max_iters"):
                    why = stopper.unconfirmed_reason(iterations)
            results.append(
                self._result(k, image, iterations, why, stop_step, confirmed, interrupted)
            )
        return results

    def _result(
        self,
        k: int,
        image: torch.Tensor,
        iterations: int,
        why: str,
        stop_step: int | None,
        confirmed: bool | None,
        interrupted: bool,
    ) -> Result:
        cfg = replace(self.cfg, seed=self.seeds[k])
        budget = self.budgets[k]
        pixels = image.float().cpu().clamp(0, 1).contiguous()
        check = budget.check(pixels.to(self.device), iterations)
        stopper = self.stoppers[k]
        return Result(
            image=pixels,
            iterations=iterations,
            reason=why,
            interrupted=interrupted,
            seconds=time.perf_counter() - self.start,
            history=self.histories[k],
            stop_step=stop_step,
            confirmed=confirmed,
            criteria=stopper.summary(iterations) if stopper is not None else {},
            monitor_seconds=sum(t.seconds for t in stopper.tracks) if stopper is not None else 0.0,
            events=list(
                self.member_events[k] if self.member_events[k] is not None else self.events
            ),
            config={
                **asdict(cfg),
                "member": k,
                "members": self.k,
                "stage_boundary": None,
                "window_margin": None,
                "placement": asdict(self.where),
                "operator": self.operator.describe(),
                "budget": budget.describe(),
                "fit_guard": check.to_dict(),
                "gate_opens_at": stopper.gate_opens_at if stopper is not None else None,
                "confirmed_by": stopper.confirmed_by if stopper is not None else None,
            },
        )


def unsupported(cfg: FitConfig, stoppers: Sequence[Stopper | None]) -> str | None:
    """What a batched run of these members would do differently from their solo runs, or
    ``None`` when it would not.

    Examples
    --------
    >>> unsupported(FitConfig(max_seconds=60), [None])
    'batched members have no time limit'
    """
    if cfg.tv_weight > 0 or cfg.two_stage is not None:
        return "batched members run plain DIP: no TV term or two stages"
    if cfg.window is not None:
        return "batched members fit the whole image: no window training"
    if cfg.max_seconds is not None:
        return "batched members have no time limit"
    for stopper in stoppers:
        if (
            stopper is not None
            and stopper.primary is not None
            and stopper.primary.changes_objective
        ):
            return f"{stopper.primary.name} changes the objective; run such members one by one"
    return None


def _refuse_what_members_lack(cfg: FitConfig, stoppers: Sequence[Stopper | None]) -> None:
    """A ``ValueError`` for what a batched run would do differently from solo runs."""
    problem = unsupported(cfg, stoppers)
    if problem is not None:
        raise ValueError(problem)
