"""One-call restoration: build the network, fit it, return the result.

:func:`denoise`, :func:`inpaint` and :func:`super_resolve` are what the command line and most users
call; all three are :func:`restore` with a task's operator and defaults (:data:`TASK_DEFAULTS`).
Researchers who want to swap parts call :func:`autodip.core.run.fit` with their own network,
operator and monitors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from difflib import get_close_matches
from functools import partial
from inspect import signature
from typing import Any

import numpy as np
import torch

from autodip.core.checkpoint import Checkpointing
from autodip.core.ensemble import (
    Batch,
    Member,
    Solo,
    check_size,
    combine,
    plan_members,
    run_ensemble,
)
from autodip.core.geometry import Padding, check_min_size, min_side
from autodip.core.members import fit_members, unsupported
from autodip.core.memory import (
    MemoryEstimate,
    available_memory,
    check_memory,
    estimate_run_memory,
    format_size,
    stopper_images,
)
from autodip.core.run import FitConfig, Monitor, Result, fit, placement_for
from autodip.core.tiling import MIN_TILE, Tile, default_overlap, plan_tiles, restore_in_tiles

# The defaults live in autodip.defaults, with their evidence; the old names stay importable here.
from autodip.defaults import ADAPTIVE_CAP as ADAPTIVE_CAP
from autodip.defaults import DEFAULT_NET as DEFAULT_NET
from autodip.defaults import DEFAULT_WIDTH as DEFAULT_WIDTH
from autodip.defaults import (
    DENOISE_ITERS,
    DENOISE_PATIENCE,
    DENOISE_STOP,
    DEVICE,
    ENSEMBLE,
    ENSEMBLE_TRANSFORMS,
    PRECISION,
    SEED,
    SR8_REG_NOISE_STD,
)
from autodip.defaults import DENOISE_WIDTH as DENOISE_WIDTH
from autodip.defaults import MULTICHANNEL_STOP as MULTICHANNEL_STOP
from autodip.defaults import TASK_DEFAULTS as TASK_DEFAULTS
from autodip.defaults import TaskDefaults as TaskDefaults
from autodip.errors import UnknownNetOptionError
from autodip.io.convert import as_image_tensor
from autodip.nets import count_parameters, create_net
from autodip.physics.operators import Denoise, Inpaint, Operator, SuperResolve, published_iterations
from autodip.stopping import Stopper, create_criterion

#: Old names of :data:`autodip.defaults.DENOISE_ITERS`, ``DENOISE_PATIENCE`` and ``DENOISE_STOP``.
DEFAULT_ITERS = DENOISE_ITERS
DEFAULT_PATIENCE = DENOISE_PATIENCE
DEFAULT_STOP: str | None = DENOISE_STOP


def task_defaults(operator: Operator) -> TaskDefaults:
    """The defaults for ``operator``'s task (×8 super-resolution: 4000 steps, reg-noise 0.05)."""
    base = TASK_DEFAULTS.get(operator.name, TASK_DEFAULTS["denoise"])
    if isinstance(operator, SuperResolve) and operator.factor > 4:
        iters = published_iterations(operator)
        noise = SR8_REG_NOISE_STD if operator.factor >= 8 else base.reg_noise_std
        why = "DIP super-resolution: x8 uses 4000 and 0.05"
        return replace(base, iters=iters, stop=None, reg_noise_std=noise, why=why)
    return base


def build_stopper(
    stop: str | None,
    monitor: Sequence[str] = (),
    patience: int | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    primary_patience: int | None = None,
    also_confirm: str | None = None,
) -> Stopper | None:
    """A :class:`~autodip.stopping.Stopper` for criterion names, or ``None`` if there are none.

    ``options`` maps a criterion name to its constructor options. ``patience`` applies to every
    criterion; without it each uses its own default, except that ``primary_patience`` (a task's
    default ``S``) replaces the primary criterion's and ``also_confirm``'s (a criterion whose
    confirmation also stops the run; it is not also monitored).
    """
    options = options or {}
    if also_confirm is not None and (stop is None or also_confirm == stop):
        raise ValueError(
            f"also_confirm={also_confirm!r} needs another criterion as the primary stop, "
            f"got stop={stop!r}"
        )
    names = [n for n in monitor if n not in (stop, also_confirm)]
    if stop is None and not names:
        return None
    primary = create_criterion(stop, **options.get(stop, {})) if stop else None
    second = None
    if also_confirm is not None:
        second = create_criterion(also_confirm, **options.get(also_confirm, {}))
    for criterion in (primary, second):
        if criterion is not None and primary_patience is not None:
            criterion.default_patience = primary_patience
    monitored = [create_criterion(n, **options.get(n, {})) for n in names]
    return Stopper(primary, monitored, patience, also_confirms=second)


def build_net(
    name: str, channels: int, height: int, width: int, options: dict[str, Any]
) -> torch.nn.Module:
    """Build network ``name`` for a ``channels × height × width`` estimate, checked to fit it.

    Raises ``ValueError`` naming the deepest ``depth`` that works when the network has too many
    scales for the image — before anything image-sized is allocated (the memory estimate's probe
    grows with ``size_multiple**2``: hundreds of GB at depth 20). A depth beyond every side is
    refused before the network is built; the depth-1 network built then only tells how small
    its deepest scale may be.
    """
    depth = options.get("depth")
    if depth is not None and 2**depth > min(height, width):
        shallow = create_net(name, out_channels=channels, **{**options, "depth": 1})
        check_min_size(height, width, 2**depth, name, getattr(shallow, "min_bottom", 1))
    network = create_net(name, out_channels=channels, **options)
    multiple = int(getattr(network, "size_multiple", 1))
    check_min_size(height, width, multiple, name, getattr(network, "min_bottom", 1))
    return network


_UNSET: Any = object()


def measurement_sigma(image: np.ndarray | torch.Tensor) -> float | None:
    """The noise level σ̂ (0–255) of a measurement, as the default width reads it
    (:meth:`~autodip.defaults.TaskDefaults.width_for`); ``None`` where it cannot be estimated.

    Examples
    --------
    >>> from autodip.physics.noise import add_gaussian_noise
    >>> noisy = add_gaussian_noise(np.full((3, 96, 96), 0.5, np.float32), 40, seed=0)
    >>> bool(abs(measurement_sigma(noisy) - 40) < 1.5)
    True
    """
    from autodip.analysis.noise_level import estimate_sigma

    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu().numpy()
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels.reshape(pixels.shape[-3:]) if pixels.ndim == 4 else pixels
    try:
        return estimate_sigma(pixels)
    except ValueError:  # more channels than the estimator takes, or too small
        return None


def restore(
    image: np.ndarray | torch.Tensor,
    operator: Operator,
    *,
    net: str | None = None,
    iters: int | None = None,
    seed: int = SEED,
    device: str = DEVICE,
    precision: str = PRECISION,
    reference: np.ndarray | torch.Tensor | None = None,
    stop: str | None = _UNSET,
    monitor: Sequence[str] = (),
    patience: int | None = None,
    also_confirm: str | None = _UNSET,
    criterion_options: dict[str, dict[str, Any]] | None = None,
    monitors: Sequence[Monitor] = (),
    on_step: Callable[[int, float], None] | None = None,
    fit_options: dict[str, Any] | None = None,
    checkpoint: Checkpointing | None = None,
    max_memory: int | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    max_time: float | None = None,
    ensemble: int | None = None,
    ensemble_transforms: str = ENSEMBLE_TRANSFORMS,
    batch_members: bool | None = None,
    on_member: Callable[[Member, int], None] | None = None,
    on_tile: Callable[[int, int], None] | None = None,
    **net_options: Any,
) -> Result:
    """Restore a degraded image ``y = A(x) + noise`` with a Deep Image Prior.

    Parameters
    ----------
    image
        The measurement in [0, 1]: ``H×W``, ``C×H×W`` or ``1×C×H×W``.
    operator
        The degradation ``A`` (:mod:`autodip.physics.operators`); it also picks the task's defaults
        (:func:`task_defaults`).
    net
        A registered network name (:func:`autodip.nets.list_nets`); its output channels follow the
        image's. ``"auto"`` runs the 2-level bilinear ``hourglass`` with the width predicted from
        the image's texture (:func:`autodip.analysis.width_predictor.choose_architecture`); the
        choice and
        its evidence are in ``result.config["architecture"]``. ``None`` takes the task's default
        (denoising ``hourglass`` at width 32, or 64 from 3·128² estimated pixels unless the
        measurement's noise level σ̂ is 35 or more (:func:`measurement_sigma`,
        :meth:`~autodip.defaults.TaskDefaults.width_for`), unless ``width`` is given; the
        other tasks ``hourglass`` at its width 64).
    iters
        Iteration budget, a hard cap. ``None`` takes the task's budget as an *adaptive* one: the
        run goes on past it while its estimate is under-fitted (:mod:`autodip.stopping.fit_guard`),
        or its criterion has not confirmed a stop while the residual is above σ̂², up to
        :data:`ADAPTIVE_CAP` times the budget (denoising: more on large images,
        :meth:`~autodip.defaults.TaskDefaults.cap_for`); ``result.config["budget"]`` says by how
        much and why.
    seed, device, precision
        See :class:`autodip.core.run.FitConfig`.
    reference
        Optional clean image of the estimate's size; PSNR and SSIM are then recorded.
    stop
        The criterion that stops the run early (:func:`autodip.stopping.list_criteria`), ``None``
        to run ``iters`` steps, or omitted for the task's default; with a criterion, the result is
        the estimate at the criterion's best step.
    monitor
        Further criteria to record on the same run (their candidate steps are reported).
    patience
        The candidate rule's ``S`` in steps; ``None`` uses each criterion's default, except the
        task's own criterion, which takes the task's ``S`` (denoising: CIFS with 300).
    also_confirm
        A criterion whose confirmed stop also ends the run, which then returns ``stop``'s best
        estimate so far; it confirms only where the fit guard can judge (σ̂ of at least
        :data:`~autodip.stopping.fit_guard.GUARD_MIN_SIGMA`), and the adaptive budget goes on
        while neither has confirmed. Omitted: the task's (denoising: ``"discrepancy"``, the
        discrepancy principle) when ``stop`` is the task's criterion, else none; ``None``: none.
    criterion_options
        Options per criterion name, e.g. ``{"osc": {"half_length": 200}}``.
    monitors, on_step
        Passed to :func:`autodip.core.run.fit`.
    fit_options
        Further :class:`~autodip.core.run.FitConfig` fields (``lr``, ``reg_noise_std``,
        ``tv_weight``, ``two_stage``, ...); ``reg_noise_std`` defaults to the task's.
    checkpoint
        Save the run's state now and then / resume it (:mod:`autodip.core.checkpoint`); not
        with ``tile``.
    max_memory
        Refuse (:class:`~autodip.core.memory.InsufficientMemoryError`) a run whose estimated peak
        memory exceeds this many bytes; the memory free on the device is always a limit.
    max_time
        Wall-clock limit in seconds: the run ends at the first monitored step past it and returns
        its best estimate so far.
    tile, overlap
        Restore in overlapping ``tile × tile`` pieces (:mod:`autodip.core.tiling`; ``overlap``
        defaults to a quarter of ``tile``), for images too large for one run. Denoising and
        inpainting only; ``monitors``, ``on_step`` and the criteria watch each tile's run.
    ensemble
        Restore the image this many times and return the mean (:mod:`autodip.core.ensemble`):
        member ``k`` (from 0) runs with seed ``seed + k``, each stops by its own criterion, and
        ``result.uncertainty`` is the members' per-value standard deviation (where they disagree,
        not a calibrated posterior). ``1`` is a plain run. The members run one after another, so
        an ensemble takes about ``ensemble`` times as long, or as one batched computation (see
        ``batch_members``). Not with ``tile``. ``None`` takes the
        task's default (:meth:`~autodip.defaults.TaskDefaults.ensemble_for`: denoising
        :data:`~autodip.defaults.DENOISE_ENSEMBLE` members, the other tasks one run; one run
        with ``tile`` or a ``window`` in ``fit_options``).
    ensemble_transforms
        ``"none"``: the members differ by seed only; ``"dihedral"``: member ``k`` also restores
        the ``k``-th of the eight flips and rotations of the input
        (:mod:`autodip.physics.transforms`), mapped back before averaging.
    batch_members
        Run an ensemble's members as one batched computation
        (:func:`autodip.core.members.fit_members`: each member runs the algorithm of its solo
        run, with its own criterion and adaptive budget, and agrees with it to float32 rounding
        over short runs (tested; over thousands of steps rounding may move a stop); the batch
        lasts as long as the longest member). ``None``: batched on a GPU, where a batched step
        costs well under K solo steps (``benchmarks/results/gpu/batched_members-cuda.md``), when
        the members allow it (seeds only, no ``checkpoint``, ``max_time``, ``monitors``, window,
        TV term, or criterion that changes the objective, and memory for all of them), else one
        after another; on the CPU one after another (batching was slower there at 256²).
        ``True``: batched, or ``ValueError`` saying why not; ``False``: one after another.
    on_member
        Called with ``(member, count)`` before each member of an ensemble starts (a batched
        ensemble: once, with :class:`~autodip.core.ensemble.Batch`).
    on_tile
        Called with ``(index, count)`` (from 1) before each tile of a tiled run starts.
    **net_options
        Overrides for the network builder (``width``, ``depth``, ...); ``None`` values are ignored.

    Returns
    -------
    Result
        ``result.pixels`` is the restored ``C×H×W`` array; ``result.config["task"]`` records the
        task defaults that applied. An ensemble's also has ``members``, ``uncertainty`` and
        ``ensemble`` (:func:`autodip.core.ensemble.combine`).
    """
    ensemble = _members(operator, ensemble, ensemble_transforms, tile, fit_options)
    if ensemble > 1:
        single = {
            "iters": iters, "device": device, "precision": precision, "stop": stop,
            "monitor": monitor, "patience": patience, "also_confirm": also_confirm,
            "criterion_options": criterion_options, "monitors": monitors,
            "fit_options": fit_options, "max_memory": max_memory,
        }  # fmt: skip
        plan = plan_members(ensemble, seed, ensemble_transforms)
        return _restore_ensemble(
            image, operator, plan, partial(restore, ensemble=1, **single), single,
            batch_members, reference=reference, checkpoint=checkpoint, max_time=max_time,
            on_member=on_member, on_step=on_step, net=net, **net_options,
        )  # fmt: skip
    if tile is not None:
        if checkpoint is not None:
            raise ValueError(
                "checkpoints save one whole run; a tiled run has one per tile (drop checkpoint, "
                "or tile)"
            )
        return _restore_tiled(
            image, operator, tile, overlap, reference=reference, net=net, iters=iters,
            seed=seed, device=device, precision=precision, stop=stop, monitor=monitor,
            patience=patience, also_confirm=also_confirm, criterion_options=criterion_options,
            monitors=monitors, fit_options=fit_options,
            max_memory=max_memory, max_time=max_time, on_step=on_step, on_tile=on_tile,
            **net_options,
        )  # fmt: skip
    run = _prepare(
        image, operator, reference=reference, net=net, iters=iters, seed=seed, device=device,
        precision=precision, stop=stop, monitor=monitor, patience=patience,
        also_confirm=also_confirm, criterion_options=criterion_options, fit_options=fit_options,
        max_time=max_time, net_options=net_options,
    )  # fmt: skip
    check_memory(run.memory, placement_for(run.config).device, max_memory, net=run.net)
    result = fit(
        run.y,
        run.network,
        run.operator,
        run.config,
        reference=run.reference,
        monitors=monitors,
        on_step=on_step,
        stopper=run.stopper,
        checkpoint=checkpoint,
    )
    return _finish(result, run)


@dataclass
class _Run:
    """One run of :func:`restore`, ready to fit: what :func:`fit` takes (the measurement, padded
    if it is thin, its operator and reference, the network, config and stopper), and what the
    result's config records of how they were chosen.
    """

    y: torch.Tensor
    operator: Operator
    reference: torch.Tensor | None
    thin: Padding | None
    network: torch.nn.Module
    config: FitConfig
    stopper: Stopper | None
    memory: MemoryEstimate
    net: str
    net_options: dict[str, Any]
    defaults: TaskDefaults
    stop_note: str | None
    architecture: dict[str, Any] | None
    #: The task's patience for this estimate's size (:meth:`TaskDefaults.patience_for`).
    default_patience: int | None


def _prepare(
    image: np.ndarray | torch.Tensor,
    operator: Operator,
    *,
    reference: np.ndarray | torch.Tensor | None,
    net: str | None,
    iters: int | None,
    seed: int,
    device: str,
    precision: str,
    stop: Any,
    monitor: Sequence[str],
    patience: int | None,
    also_confirm: Any,
    criterion_options: dict[str, dict[str, Any]] | None,
    fit_options: dict[str, Any] | None,
    max_time: float | None,
    net_options: dict[str, Any],
) -> _Run:
    """The task's defaults applied to one plain run of :func:`restore` (its arguments)."""
    defaults = task_defaults(operator)
    y = as_image_tensor(image)
    size = operator.estimate_size(*y.shape[-2:])
    adaptive = iters is None
    iters = defaults.iters if iters is None else iters
    if net is None:
        net = DEFAULT_NET
        if net_options.get("width") is None:
            sigma = measurement_sigma(y) if defaults.needs_sigma(*size) else None
            net_options = {**net_options, "width": defaults.width_for(*size, sigma=sigma)}
    stop, stop_note = _stop_for(defaults, stop, y.shape[1])
    ref = as_image_tensor(reference) if reference is not None else None
    architecture = None
    if net == "auto":
        net, net_options, architecture = _auto_architecture(y, net_options)
    try:
        network, (y, operator, ref, thin) = _network_for(y, operator, ref, net, net_options)
    except UnknownNetOptionError as error:
        raise TypeError(_unknown_option_message(error)) from None
    options = {
        "reg_noise_std": defaults.reg_noise_std,
        "max_extended_iters": defaults.cap_for(*size) * iters if adaptive else None,
        "max_seconds": max_time,
        **(fit_options or {}),
    }
    config = FitConfig(max_iters=iters, seed=seed, device=device, precision=precision, **options)
    default_patience = defaults.patience_for(*size)
    task_patience = default_patience if stop == defaults.stop else None
    if also_confirm is _UNSET:
        also_confirm = defaults.also_confirm if stop == defaults.stop else None
    stopper = build_stopper(stop, monitor, patience, criterion_options, task_patience, also_confirm)
    est_h, est_w = operator.estimate_size(y.shape[-2], y.shape[-1])
    memory = estimate_run_memory(
        network,
        y.shape[1],
        est_h,
        est_w,
        placement_for(config).autocast_dtype,
        extra_images=stopper_images(stopper, config.monitor_every),
        window=config.window,
        reg_noise_draw=config.reg_noise_draw,
    )
    return _Run(
        y, operator, ref, thin, network, config, stopper, memory, net, net_options, defaults,
        stop_note, architecture, default_patience,
    )  # fmt: skip


def _finish(result: Result, run: _Run) -> Result:
    """``result`` of ``run`` with what its config records of the run's choices (network, task
    defaults, memory), cropped back where a thin image was padded.
    """
    defaults = run.defaults
    result.config["memory_estimate_bytes"] = run.memory.total
    result.config["net"] = {
        "name": run.net,
        "options": {k: v for k, v in run.net_options.items() if v is not None},
        "parameters": count_parameters(run.network),
    }
    result.config["task"] = {
        "name": run.operator.name,
        "default_iters": defaults.iters,
        "default_stop": defaults.stop,
        "default_patience": run.default_patience,
        "default_reg_noise_std": defaults.reg_noise_std,
        "defaults_from": defaults.why,
        **({"stop_note": run.stop_note} if run.stop_note else {}),
    }
    if run.architecture is not None:
        result.config["architecture"] = run.architecture
    return _crop_thin(result, run.thin) if run.thin is not None else result


def _stop_for(defaults: TaskDefaults, stop: Any, channels: int) -> tuple[str | None, str | None]:
    """``stop``, or the task's criterion when omitted (for images of other than 1 or 3 channels,
    :data:`MULTICHANNEL_STOP`), and a note saying so in that case.
    """
    if stop is not _UNSET:
        return stop, None
    if defaults.stop is not None and channels not in (1, 3):
        note = (
            f"the default criterion {defaults.stop} needs 1 or 3 channels (JPEG); "
            f"{MULTICHANNEL_STOP} stops this {channels}-channel image instead"
        )
        return MULTICHANNEL_STOP, note
    return defaults.stop, None


def _members(
    operator: Operator,
    ensemble: int | None,
    transforms: str,
    tile: int | None,
    fit_options: dict[str, Any] | None,
) -> int:
    """How many members :func:`restore` runs: ``ensemble``, or the task's default for this run
    (:meth:`~autodip.defaults.TaskDefaults.ensemble_for`); ``ValueError`` for a size or kind
    :func:`~autodip.core.ensemble.check_size` refuses, or for an ensemble asked of a tiled run.
    """
    if ensemble is None:
        known = TASK_DEFAULTS.get(operator.name)  # an operator of one's own: one run, unmeasured
        window = (fit_options or {}).get("window")
        ensemble = known.ensemble_for(tile, window) if known is not None else ENSEMBLE
    check_size(ensemble, transforms)
    if ensemble > 1 and tile is not None:
        raise ValueError(
            "an ensemble restores the whole image several times; it does not work with "
            "tiles yet (drop tile, or ensemble)"
        )
    return ensemble


def _restore_ensemble(
    image: np.ndarray | torch.Tensor,
    operator: Operator,
    plan: list[Member],
    solo: Solo,
    single: dict[str, Any],
    batch_members: bool | None,
    *,
    reference: np.ndarray | torch.Tensor | None,
    net: str | None,
    **options: Any,
) -> Result:
    """:func:`restore` with ``ensemble > 1``: the members of ``plan`` through ``solo`` (one plain
    :func:`restore` with the options ``single``), or batched (:func:`_restore_batched`), averaged.

    ``net="auto"`` is resolved once, on the input as given, so that every member runs the same
    network whatever its transform.
    """
    y = as_image_tensor(image)
    ref = as_image_tensor(reference) if reference is not None else None
    architecture = None
    run_options = {k: options.pop(k) for k in ("checkpoint", "max_time", "on_member", "on_step")}
    if net == "auto":
        net, options, architecture = _auto_architecture(y, options)
    result = None
    if batch_members is not False:
        result = _restore_batched(
            y, operator, plan, single, ref, net, options, run_options, required=bool(batch_members)
        )
    if result is None:
        result = run_ensemble(
            y, operator, plan, partial(solo, net=net, **options), reference=ref, **run_options
        )
    if architecture is not None:
        result.config["architecture"] = architecture
    return result


def _restore_batched(
    y: torch.Tensor,
    operator: Operator,
    plan: list[Member],
    single: dict[str, Any],
    reference: torch.Tensor | None,
    net: str | None,
    net_options: dict[str, Any],
    run_options: dict[str, Any],
    *,
    required: bool,
) -> Result | None:
    """The members of ``plan`` as one batched computation (:func:`fit_members`), each prepared as
    its plain run would be; ``None`` where they should run one after another instead: on the CPU
    unless ``required``, or where batching would change a member's run (``ValueError`` then if
    ``required``).
    """
    options = {k: v for k, v in single.items() if k not in ("monitors", "max_memory")}
    where = placement_for(FitConfig(device=single["device"], precision=single["precision"]))
    if not required and not where.device.startswith("cuda"):
        return None
    problem = _unbatchable(plan, single, run_options)
    runs = [] if problem else [
        _prepare(y, operator, reference=reference, net=net, seed=member.seed,
                 max_time=None, net_options=net_options, **options)
        for member in plan
    ]  # fmt: skip
    problem = problem or unsupported(runs[0].config, [run.stopper for run in runs])
    if not problem:
        needed = len(plan) * runs[0].memory.total
        budget = single["max_memory"]
        budget = available_memory(where.device) if budget is None else budget
        if budget is not None and needed > budget:
            problem = f"{len(plan)} members need about {format_size(needed)} together"
    if problem:
        if required:
            raise ValueError(f"the members cannot run batched: {problem}")
        return None
    first = runs[0]
    if run_options["on_member"] is not None:
        run_options["on_member"](Batch(tuple(plan)), len(plan))
    results = fit_members(
        first.y, [run.network for run in runs], first.operator, first.config,
        seeds=[member.seed for member in plan], stoppers=[run.stopper for run in runs],
        reference=first.reference, on_step=run_options["on_step"],
    )  # fmt: skip
    results = [_finish(result, run) for result, run in zip(results, runs, strict=True)]
    for member, result in zip(plan, results, strict=True):
        result.config["ensemble_member"] = member.to_dict()
    return combine(results, plan, y, operator, reference=reference, batched=True)


def _unbatchable(
    plan: Sequence[Member], single: dict[str, Any], run_options: dict[str, Any]
) -> str | None:
    """Why these members' runs cannot be batched before they are built, or ``None``."""
    if any(member.transform != "identity" for member in plan):
        return "members of a dihedral ensemble restore differently turned inputs"
    if run_options["checkpoint"] is not None:
        return "a checkpoint saves one run at a time"
    if run_options["max_time"] is not None:
        return "a time limit is shared out between members run one after another"
    if single["monitors"]:
        return "monitors watch one run at a time"
    return None


def _network_for(
    y: torch.Tensor,
    operator: Operator,
    ref: torch.Tensor | None,
    net: str,
    net_options: dict[str, Any],
) -> tuple[torch.nn.Module, tuple[torch.Tensor, Operator, torch.Tensor | None, Padding | None]]:
    """:func:`build_net` for the image, padding a thin image (:func:`_pad_thin`) if it must."""
    size = operator.estimate_size(*y.shape[-2:])
    try:
        return build_net(net, y.shape[1], *size, net_options), (y, operator, ref, None)
    except ValueError:
        probe = create_net(net, out_channels=y.shape[1], **net_options)
        padded = _pad_thin(y, operator, ref, probe)
        if padded[-1] is None:
            raise
    size = padded[1].estimate_size(*padded[0].shape[-2:])
    return build_net(net, y.shape[1], *size, net_options), padded


def check_net_fits(
    name: str, channels: int, height: int, width: int, options: dict[str, Any]
) -> None:
    """Raise the ``ValueError`` :func:`restore` raises when network ``name`` cannot fit a
    ``channels × height × width`` estimate; a thin image, which :func:`restore` pads
    (:func:`_pad_thin`), passes. Lets a caller refuse an image before saying anything about its run.
    """
    try:
        build_net(name, channels, height, width, options)
    except ValueError:
        if not _is_thin(create_net(name, out_channels=channels, **options), height, width):
            raise


def _min_side(network: torch.nn.Module) -> int:
    """The smallest side ``network`` resolves (:func:`autodip.core.geometry.min_side`)."""
    return min_side(int(getattr(network, "size_multiple", 1)), getattr(network, "min_bottom", 1))


def _is_thin(network: torch.nn.Module, height: int, width: int) -> bool:
    """Whether one side is too short for ``network`` and the other long enough: padded to fit."""
    return min(height, width) < _min_side(network) <= max(height, width)


#: :class:`FitConfig` fields that :func:`restore` fills from keywords of its own.
_FIT_FIELDS_RESTORE_NAMES = {"max_iters": "iters", "max_seconds": "max_time"}


def _unknown_option_message(error: UnknownNetOptionError) -> str:
    """Say that a keyword of :func:`restore` is unknown: keywords it does not take go to the
    network, so a misspelt ``iters`` would otherwise read as a fault of the network's class. Names
    the closest keywords of :func:`restore`, and ``fit_options`` for a :class:`FitConfig` field.
    """
    option = error.option
    if option in _FIT_FIELDS_RESTORE_NAMES:  # restore() sets these itself, from its own keywords
        return f"unknown option {option!r}: use {_FIT_FIELDS_RESTORE_NAMES[option]}="
    if option in {field.name for field in fields(FitConfig)}:
        return f"unknown option {option!r}: it is a fit option; pass fit_options={{{option!r}: …}}"
    keywords = [name for name in signature(restore).parameters if name != "net_options"]
    close = get_close_matches(option, keywords, n=2)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    return (
        f"unknown option {option!r}: neither a keyword of restore() nor an option of network "
        f"{error.net!r}{hint}"
    )


def _pad_thin(
    y: torch.Tensor, operator: Operator, ref: torch.Tensor | None, network: torch.nn.Module
) -> tuple[torch.Tensor, Operator, torch.Tensor | None, Padding | None]:
    """Replicate a thin image's short side up to the smallest side ``network`` resolves.

    A network of ``d`` scales needs some pixels left at its deepest scale, so an image 1 or 2
    pixels high (or wide) has no depth that works. When the other side is long enough for the
    network, the short side's pixels (and the inpainting mask's and the reference's) are
    replicated to the network's minimum (:func:`autodip.core.geometry.min_side`), the fit runs on
    that, and :func:`_crop_thin` cuts the result back. The padding (in the estimate's pixels) is
    returned last, ``None`` when the image is not thin (it is then left to :func:`build_net`).
    """
    need = _min_side(network)
    est_h, est_w = operator.estimate_size(*y.shape[-2:])
    if not _is_thin(network, est_h, est_w):
        return y, operator, ref, None
    factor = est_h // y.shape[-2]  # super-resolution: pad the measurement by need / factor
    extra_h, extra_w = (max(0, -(-(need - s) // factor)) for s in (est_h, est_w))
    amounts = (extra_w // 2, extra_w - extra_w // 2, extra_h // 2, extra_h - extra_h // 2)
    y = torch.nn.functional.pad(y, amounts, mode="replicate")
    if isinstance(operator, Inpaint):
        operator = Inpaint(torch.nn.functional.pad(operator.mask, amounts, mode="replicate")[0])
    if ref is not None:
        ref = torch.nn.functional.pad(ref, tuple(a * factor for a in amounts), mode="replicate")
    left, right, top, bottom = (a * factor for a in amounts)
    return y, operator, ref, Padding(top, bottom, left, right, est_h, est_w)


def _crop_thin(result: Result, padding: Padding) -> Result:
    """Cut a thin image's result (:func:`_pad_thin`) back to its size, and record the padding."""
    result.image = padding.crop(result.image).contiguous()
    result.config["thin_padding"] = {
        "size_hw": [padding.height, padding.width],
        "padded_hw": [
            padding.height + padding.top + padding.bottom,
            padding.width + padding.left + padding.right,
        ],
        "note": f"the {padding.width}×{padding.height} image was padded by replicating its edge "
        "pixels to the network's minimum size, then cropped back",
    }
    return result


def check_tile(tile: int) -> None:
    """Raise ``ValueError`` for tiles too small to be restored each as a whole DIP run."""
    if tile < MIN_TILE:
        raise ValueError(
            f"tiles of {tile}×{tile} pixels are too small: each tile is a whole DIP run, which "
            f"needs at least {MIN_TILE}×{MIN_TILE}; use --tile {MIN_TILE} or more"
        )


def _restore_tiled(
    image: np.ndarray | torch.Tensor,
    operator: Operator,
    tile: int,
    overlap: int | None,
    *,
    reference: np.ndarray | torch.Tensor | None = None,
    **options: Any,
) -> Result:
    """:func:`restore` tile by tile (:mod:`~autodip.core.tiling`): one :class:`Result` in all."""
    if not isinstance(operator, Denoise | Inpaint):
        raise ValueError(f"tiling is for denoising and inpainting, not {operator.name}")
    check_tile(tile)
    overlap = default_overlap(tile) if overlap is None else overlap
    pixels = as_image_tensor(image)[0].numpy()
    ref = as_image_tensor(reference)[0].numpy() if reference is not None else None
    results: list[tuple[Tile, Result]] = []
    max_time = options.pop("max_time", None)
    on_tile = options.pop("on_tile", None)
    count = len(plan_tiles(*pixels.shape[1:], tile, overlap))
    started = time.perf_counter()
    between = False  # Ctrl-C came between two tiles (or before a tile's first step)

    def one(piece: Tile, part: np.ndarray) -> np.ndarray:
        nonlocal between
        if between or any(r.interrupted for _, r in results):
            return part  # Ctrl-C ended an earlier tile: the rest keep their input pixels
        piece_operator: Operator = operator
        if isinstance(operator, Inpaint):
            mask = operator.mask[0, :, piece.rows, piece.cols].cpu().numpy()
            if not mask.any():
                raise ValueError(f"{_tile_name(piece)} has no known pixel; use a larger --tile")
            piece_operator = Inpaint(mask)
        part_ref = ref[:, piece.rows, piece.cols] if ref is not None else None
        # the time limit is the whole run's: each tile gets what the earlier ones left
        left = None if max_time is None else max(max_time - (time.perf_counter() - started), 1e-3)
        try:
            if on_tile is not None:
                on_tile(len(results) + 1, count)
            result = restore(  # one run per tile: tiles never ensemble
                part, piece_operator, reference=part_ref, max_time=left, ensemble=1, **options
            )
        except KeyboardInterrupt:
            if not results:
                raise  # nothing restored yet: the caller handles Ctrl-C
            between = True  # the tiles done are kept; this one and the rest keep their input
            return part
        except ValueError as error:  # say it is the tile, not the image, that failed
            raise ValueError(f"{_tile_name(piece)}: {error}") from None
        results.append((piece, result))
        return result.pixels

    blended = restore_in_tiles(pixels, tile, overlap, one)
    first = results[0][1]
    config = {**first.config, "tiling": {"tile": tile, "overlap": overlap, "count": count}}
    # the whole is under-fitted when any tile is: report the worst tile's verdict
    verdicts = [r.config.get("fit_guard", {}) for _, r in results]
    worst = max(verdicts, key=lambda v: (bool(v.get("underfitted")), v.get("ratio") or 0.0))
    config["fit_guard"] = {**worst, "note": f"{worst.get('note', '')} (the worst of the tiles)"}
    config.pop("budget", None)  # each tile has its own, below
    config["tiles"] = [
        {
            "top": piece.top,
            "left": piece.left,
            "height": piece.height,
            "width": piece.width,
            "iterations": r.iterations,
            "stop_step": r.stop_step,
            "reason": r.reason,
            "seconds": r.seconds,
            "underfitted": r.underfitted,
            "budget": r.config.get("budget"),
        }
        for piece, r in results
    ]
    return Result(
        image=torch.from_numpy(blended)[None],
        iterations=sum(r.iterations for _, r in results),
        reason=_tiles_reason(
            len(results), count, results[-1][1].interrupted, tile, overlap, between
        ),
        interrupted=between or any(r.interrupted for _, r in results),
        seconds=sum(r.seconds for _, r in results),
        config=config,
        events=[e for _, r in results for e in r.events],
    )


def _tile_name(piece: Tile) -> str:
    """``'the tile at row 0, column 32 (32×32 pixels)'``: where a tile is, for messages."""
    return f"the tile at row {piece.top}, column {piece.left} ({piece.width}×{piece.height} pixels)"


def _tiles_reason(
    done: int, count: int, interrupted: bool, tile: int, overlap: int, between: bool = False
) -> str:
    """Why a tiled run ended: all ``count`` tiles restored, interrupted in tile ``done``, or
    (``between``) after tile ``done``, before the next one's first step.

    Examples
    --------
    >>> _tiles_reason(9, 9, False, 32, 8)
    'restored in 9 tiles of up to 32×32 pixels (overlap 8)'
    >>> _tiles_reason(1, 4, True, 24, 6)
    'interrupted in tile 1 of 4; the 3 tiles not run keep their input pixels'
    >>> _tiles_reason(2, 4, False, 24, 6, between=True)
    'interrupted after tile 2 of 4; the 2 tiles not run keep their input pixels'
    """
    if interrupted or between:
        left = count - done
        rest = f"the {left} tiles not run keep" if left != 1 else "the tile not run keeps"
        where = "after" if between else "in"
        return f"interrupted {where} tile {done} of {count}" + (
            f"; {rest} their input pixels" if left else ""
        )
    tiles = f"{count} tiles" if count != 1 else "1 tile"
    return f"restored in {tiles} of up to {tile}×{tile} pixels (overlap {overlap})"


def denoise(image: np.ndarray | torch.Tensor, **options: Any) -> Result:
    """Remove noise from ``image``: :func:`restore` with
    :class:`~autodip.physics.operators.Denoise`.

    Defaults: ``net="hourglass"`` at width 32 (64 from 3·128² pixels), 1500 iterations (adaptive),
    CIFS stopping with patience 300 (450 from 2·256² pixels), the mean of an ensemble of
    :data:`~autodip.defaults.DENOISE_ENSEMBLE` runs (``ensemble=1``: one run, in a fraction of
    the time; :data:`TASK_DEFAULTS`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(0.5 + 0.1 * rng.standard_normal((3, 32, 32)), 0, 1).astype(np.float32)
    >>> result = denoise(noisy, iters=3, width=8, device="cpu")
    >>> result.pixels.shape
    (3, 32, 32)
    """
    return restore(image, Denoise(), **options)


def inpaint(
    image: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor, **options: Any
) -> Result:
    """Fill the unknown pixels of ``image``: :func:`restore` with ``Inpaint(mask)``.

    ``mask`` is ``H×W`` or ``C×H×W`` with 1 (or > 0.5) where the pixel is known. Defaults: the
    original DIP paper's 3000 iterations and reg-noise 0.03, no early stopping.

    Examples
    --------
    >>> image, mask = np.full((1, 16, 16), 0.5, np.float32), np.ones((16, 16))
    >>> mask[4:8, 4:8] = 0
    >>> inpaint(image, mask, iters=2, width=8, device="cpu").pixels.shape
    (1, 16, 16)
    """
    return restore(image, Inpaint(mask), **options)


def super_resolve(image: np.ndarray | torch.Tensor, factor: int, **options: Any) -> Result:
    """Upsample ``image`` by ``factor``: :func:`restore` with ``SuperResolve(factor)``.

    The result is exactly ``factor`` times the input's height and width. Defaults: DIP's 2000
    iterations and reg-noise 0.03 (4000 and 0.05 for ×8), no early stopping.

    Examples
    --------
    >>> low = np.full((3, 8, 6), 0.5, np.float32)
    >>> super_resolve(low, 4, iters=2, width=8, device="cpu").pixels.shape
    (3, 32, 24)
    """
    return restore(image, SuperResolve(factor), **options)


def _auto_architecture(
    y: torch.Tensor, net_options: dict[str, Any]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Resolve ``net="auto"``: the predicted hourglass, its options and the evidence."""
    from autodip.analysis.width_predictor import choose_architecture

    clash = sorted(k for k in ("width", "depth", "upsample") if net_options.get(k) is not None)
    if clash:
        raise ValueError(
            f"net='auto' chooses {', '.join(clash)} itself; pass net='hourglass' to set them"
        )
    architecture = choose_architecture(y[0].detach().float().cpu().numpy())
    return architecture["net"], {**net_options, **architecture["options"]}, architecture
