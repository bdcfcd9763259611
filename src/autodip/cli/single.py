"""One image through ``autodip denoise | inpaint | sr``, in four phases that read top to bottom.

:func:`prepare` checks everything that can be checked before the long fit (destinations writable
and not an input, mask and reference sizes, criteria, memory) and reads the inputs into a
:class:`Job`; :func:`fit_job` runs it with a progress bar; :func:`settle_files` writes the result
atomically and keeps or removes the checkpoint; :func:`restore_one` then says what happened, builds
the :class:`~autodip.reporting.record.RunRecord` and writes the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autodip import defaults
from autodip.cli.common import (
    TERMINATION,
    Progress,
    RunError,
    UsageError,
    architecture_for,
    check_writable,
    criterion_options,
    describe_choice,
    read_input,
    resolve_also_confirm,
    resolve_stopping,
    torch_out_of_memory,
)
from autodip.cli.files import (
    check_checkpoint_kept,
    check_folder,
    check_no_clash,
    check_report_apart,
    checkpoint_path,
    interrupted_marker,
    report_of,
    write_result,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

DOING = {"denoise": "denoising", "inpaint": "inpainting", "sr": "super-resolving"}


class Console:
    """Informational lines on stderr, silenced by ``--quiet`` and ``--json``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, text: str) -> None:
        """Print ``text`` unless quiet."""
        if not self.quiet:
            print(f"autodip: {text}", file=sys.stderr)


@dataclass
class Job:
    """One image's restoration, read and checked, ready to fit."""

    args: argparse.Namespace
    input_path: Path
    output: Path
    report_dir: Path | None
    paths: dict[str, Path | None]
    ckpt: Path
    resuming: bool
    unfinished: bool
    image: Any = None
    info: Any = None
    operator: Any = None
    reference: Any = None
    stop: str | None = None
    monitor: list[str] | None = None
    also_confirm: str | None = None
    stop_note: str | None = None
    net: str = ""
    net_options: dict[str, Any] | None = None
    architecture: dict[str, Any] | None = None
    checkpoint: Any = None
    max_memory: int | None = None
    tile: int | None = None  # --tile, or the automatic tile of a large image (auto_tile)
    ensemble: int = 1  # the members: --ensemble, or the task's default (ensemble_size)
    started: float = 0.0

    @property
    def overwrite(self) -> bool:
        """Whether the output may be replaced (``--force``, a resumed or an unfinished run)."""
        return bool(self.args.force or self.resuming or self.unfinished)

    @property
    def mask_path(self) -> Path | None:
        """The mask file of an inpainting job (per file in a batch)."""
        return self.paths.get("mask", getattr(self.args, "mask", None))


def restore_one(
    args: argparse.Namespace,
    input_path: Path,
    output: Path,
    report_dir: Path | None,
    console: Console,
    paths: dict[str, Path | None] | None = None,
    *,
    batch: bool = False,
):
    """Restore one file; return its :class:`~autodip.reporting.record.RunRecord`.

    In a batch, ``--resume`` starts afresh the files that have no checkpoint yet.
    """
    from autodip.reporting.record import InputRecord, RunRecord

    job = prepare(args, input_path, output, report_dir, console, paths, batch=batch)
    result = fit_job(job, console)
    written = settle_files(job, result, console)
    _tell_outcome(job, result, console)
    terminated = result.interrupted and TERMINATION.received
    record = RunRecord(
        command=args.command,
        argv=list(sys.argv),
        input=InputRecord.read(input_path, job.image, job.info),
        output=str(Path(written).absolute()),  # a rerun from another folder still finds it
        reference=str(job.paths["reference"]) if job.paths.get("reference") else None,
        result=result,
        environment=_environment(),
        total_seconds=time.perf_counter() - job.started,
        metrics=_metrics(job.image, result.pixels, job.reference, args.command),
        architecture=job.architecture,
        reason=f"terminated by SIGTERM after step {result.iterations}"
        if terminated and result.reason.startswith("interrupted")
        else None,
    )
    _tell_written(job, result, record, written, console)
    if report_dir is not None:
        from autodip.reporting.record import write_report

        try:
            write_report(report_dir, record, job.image, result.pixels, job.reference, job.net)
        except OSError as error:  # the result is safe; only the report is missing
            raise RunError(
                f"wrote {written}, but not the report in '{report_dir}': {error}"
            ) from None
        except KeyboardInterrupt:  # a second Ctrl-C: say what is whole and what is not
            print(
                f"autodip: the report in '{report_dir}' was cut short and is incomplete; "
                f"{written} had been written in full before",
                file=sys.stderr,
            )
            raise
        console.say(f"report in {report_dir}/")
    console.say(record.summary())
    return record


def prepare(
    args: argparse.Namespace,
    input_path: Path,
    output: Path,
    report_dir: Path | None,
    console: Console,
    paths: dict[str, Path | None] | None = None,
    *,
    batch: bool = False,
) -> Job:
    """Check the destinations, read the inputs, choose the network: a :class:`Job`, or a
    ``UsageError`` before any time is spent fitting.
    """
    ckpt = checkpoint_path(output)
    job = Job(
        args,
        input_path,
        output,
        report_dir,
        paths or {"reference": args.reference},
        ckpt,
        resuming=bool(args.resume and any(p.exists() for p in checkpoint_files(args, ckpt))),
        unfinished=interrupted_marker(output).exists(),
        started=time.perf_counter(),
    )
    if args.resume and not job.resuming and not batch:
        raise UsageError(_no_checkpoint(args, ckpt))
    _check_destinations(job)
    _read_inputs(job, console)
    _choose_network(job, console)
    _describe_job(job, console)
    if args.force and not job.resuming:  # starting afresh: an old checkpoint must not outlive it
        for stale in existing_checkpoints(ckpt):
            stale.unlink(missing_ok=True)
    if args.checkpoint_every or args.resume:
        from autodip.core.checkpoint import Checkpointing

        job.checkpoint = Checkpointing(ckpt, every=args.checkpoint_every or 0, resume=job.resuming)
        if job.resuming:
            found = [str(p) for p in checkpoint_files(args, ckpt) if p.exists()]
            console.say(f"resuming from {', '.join(found)}")
    return job


def _check_destinations(job: Job) -> None:
    from autodip.reporting.files import ENSEMBLE_REPORT_FILES, REPORT_FILES

    args, report_dir = job.args, job.report_dir
    names = REPORT_FILES + (ENSEMBLE_REPORT_FILES if ensemble_size(args) > 1 else ())
    report_paths = [report_dir / name for name in names] if report_dir else []
    check_no_clash(
        {"output": job.output, **{f"report file {p.name}": p for p in report_paths}},
        {"input": job.input_path, "reference": job.paths.get("reference"), "mask": job.mask_path},
    )
    check_report_apart(job.output, report_dir, report_paths)
    # first: a refusal that asks for --force must not hide the one that says --resume
    check_checkpoint_kept(existing_checkpoints(job.ckpt), bool(args.resume), bool(args.force))
    check_writable([job.output], job.overwrite)
    # an interrupted run's own report may be replaced by its rerun; another run's needs --force
    own_report = (job.resuming or job.unfinished) and report_of(report_dir, job.output)
    check_writable(report_paths, bool(args.force or own_report))
    check_folder(job.output.parent, "output")
    if report_dir is not None:
        check_folder(report_dir, "report")
    if (args.checkpoint_every or args.resume) and job.ckpt.is_dir():
        raise UsageError(f"the checkpoint '{job.ckpt}' is a directory, not a file")


def _read_inputs(job: Job, console: Console) -> None:
    """The input, the operator (with its mask), the reference; each checked against the others."""
    from autodip.core.memory import parse_size
    from autodip.io import ImageWriteError, check_output

    args = job.args
    image, info = read_input(job.input_path, "input", args.frame, args.allow_truncated)
    if info.damaged:  # said even with --quiet: part of the input was invented by the decoder
        print(
            f"autodip: warning: '{job.input_path}' is damaged ({info.damaged}); restoring the "
            "partial image as decoded, as --allow-truncated asks",
            file=sys.stderr,
        )
    if info.alpha is not None and args.drop_alpha:
        info = replace(info, alpha=None)
    job.image, job.info = image, info
    job.stop, job.monitor = resolve_stopping(args, image.shape[0])
    job.also_confirm = resolve_also_confirm(args, job.stop)
    used = job.stop or (job.monitor[0] if job.monitor else None)
    job.stop_note = _fallback_note(args, image.shape[0], used)
    if job.stop_note:
        console.say(job.stop_note)
    job.operator = _operator(args, image, job.mask_path)
    out_shape = (image.shape[0], *job.operator.estimate_size(*image.shape[1:]))
    if info.alpha is not None and info.alpha.shape != tuple(out_shape[1:]):
        console.say("the input's alpha plane is not resized with the image: the result has none")
    if job.paths.get("reference") is not None:
        job.reference, _ = read_input(job.paths["reference"], "reference")
        if job.reference.shape != out_shape:
            raise UsageError(
                f"reference '{job.paths['reference']}' has shape {job.reference.shape}, the "
                f"result will have {out_shape} (C×H×W); they must match"
            )
    try:
        fmt, depth = check_output(job.output, image.shape[0], info, bit_depth=args.bit_depth)
        job.max_memory = parse_size(args.max_memory) if args.max_memory else None
    except (ImageWriteError, ValueError) as error:
        hint = " (or pass --drop-alpha)" if "alpha (transparency)" in str(error) else ""
        raise UsageError(f"{error}{hint}") from None
    if args.bit_depth is None and info.bit_depth > depth:  # said even with --quiet: data lost
        keep = ".png, .tiff or .npy" if info.bit_depth == 16 else ".tiff or .npy"
        more = "--bit-depth 16 keeps 16 of them, " if fmt in ("png", "tiff") else ""
        print(
            f"autodip: warning: {job.output} keeps {depth} bits per sample, the input has "
            f"{info.bit_depth} ({more}{keep} keep all)",
            file=sys.stderr,
        )


def _choose_network(job: Job, console: Console) -> None:
    """The network for the job, checked to fit the image before anything is said about the run
    (an image too small for it is refused in one line).
    """
    from autodip.api import DEFAULT_NET, check_net_fits, check_tile

    job.tile = auto_tile(job.args, *job.operator.estimate_size(*job.image.shape[1:]))
    job.ensemble = ensemble_size(job.args, job.tile)
    size = _fitted_size(job)
    job.net, job.net_options = _network(job.args, size, job.image)
    if job.args.net == "auto":
        job.architecture = architecture_for(job.image, None)
        job.net, job.net_options = job.architecture["net"], job.architecture["options"]
        console.say(f"--net auto: {describe_choice(job.architecture)}")
    options = {key: value for key, value in job.net_options.items() if value is not None}
    try:
        if job.tile is not None:
            check_tile(job.tile)
        net = job.net or DEFAULT_NET  # as restore() reads net=None
        check_net_fits(net, job.image.shape[0], *size, options)
    except (KeyError, ValueError, TypeError) as error:
        raise UsageError(str(error.args[0] if isinstance(error, KeyError) else error)) from None


def _describe_job(job: Job, console: Console) -> None:
    args, image, info, operator = job.args, job.image, job.info, job.operator
    note = ""
    if args.command == "sr":
        height, width = operator.estimate_size(*image.shape[1:])
        note = f" ×{args.factor} to {width}×{height}"
    elif args.command == "inpaint":
        note = f" ({operator.known_fraction:.1%} of values known)"
    console.say(
        f"{DOING[args.command]} {job.input_path} ({image.shape[2]}×{image.shape[1]}, "
        f"{image.shape[0]} channel(s), {_samples(info)}){note} "
        f"with {describe_net(job.net, job.net_options)}"
    )
    if job.tile is not None and args.tile is None:
        height, width = image.shape[1:]
        console.say(
            f"{width}×{height} pixels: restored in tiles of {job.tile}² (the default from "
            f"{_side(defaults.AUTO_TILE_PIXELS)} pixels; --no-tile fits it whole)"
            + (", one run per tile" if ensemble_size(args) > 1 else "")
        )
    if job.ensemble > 1 and args.ensemble is None:
        console.say(
            f"the mean of {job.ensemble} runs, the default ensemble (about {job.ensemble}× "
            f"the time of one; --ensemble 1 runs once)"
        )
    large = large_image_note(args, *_fitted_size(job), tile=job.tile)
    if large:
        console.say(large)
    if info.value_range is not None:
        lo, hi = info.value_range
        console.say(
            f"{info.dtype} data in [{lo:.6g}, {hi:.6g}] scaled to [0, 1] and back on writing"
        )


def auto_tile(args: argparse.Namespace, height: int, width: int) -> int | None:
    """The tile side for an estimate of ``height × width``: ``--tile`` if given, else the task's
    (:meth:`~autodip.defaults.TaskDefaults.tile_for`: denoising from
    :data:`~autodip.defaults.AUTO_TILE_PIXELS` pixels), unless ``--no-tile`` or an option that
    works on whole runs only (``--window``, ``--ensemble`` above 1, ``--ensemble-transforms``,
    ``--checkpoint-every``, ``--resume``) is given; else ``None``. The default ensemble does not
    keep a large image whole: it falls back to one run per tile (:func:`ensemble_size`).
    """
    if args.tile is not None:
        return args.tile
    whole_only = (
        not getattr(args, "auto_tile", True)
        or args.command not in defaults.TASK_DEFAULTS
        or getattr(args, "window", None) is not None
        or (getattr(args, "ensemble", None) or 1) > 1
        or getattr(args, "ensemble_transforms", None) is not None
        or getattr(args, "checkpoint_every", None)
        or getattr(args, "resume", False)
    )
    return None if whole_only else defaults.TASK_DEFAULTS[args.command].tile_for(height, width)


def _side(pixels: int) -> str:
    """``1024²`` for a square count of pixels, else the count."""
    side = round(pixels**0.5)
    return f"{side}²" if side * side == pixels else f"{pixels}"


def large_image_note(
    args: argparse.Namespace, height: int, width: int, tile: int | None = None
) -> str | None:
    """What to expect of one network fitting a large image whole (``None`` below
    :data:`autodip.defaults.LARGE_IMAGE_PIXELS`, or when tiles or windows already split it).
    """
    from autodip.defaults import LARGE_IMAGE_PIXELS

    if height * width < LARGE_IMAGE_PIXELS or tile or getattr(args, "window", None):
        return None
    note = (
        f"note: one network fitting all {width}×{height} pixels at once learns slowly (at 1024², "
        "on a 2-core CPU, a step cost about 18× a 256² one, and 400 steps left the estimate "
        "below the noisy input)"
    )
    if args.command == "sr":
        return note
    return f"{note}; --tile 256 restores it in pieces, each its own network"


def fit_job(job: Job, console: Console):
    """Run the job's restoration with a progress bar; library errors become CLI errors."""
    from autodip.api import restore, task_defaults
    from autodip.core.checkpoint import CheckpointError
    from autodip.core.memory import InsufficientMemoryError

    args = job.args
    fit_options = {
        "lr": args.lr,
        "exp_weight": args.exp_weight,
        "monitor_every": args.monitor_every,
        "tv_weight": args.tv,
        "two_stage": args.two_stage,
        "stage_fraction": args.stage_fraction or defaults.STAGE_FRACTION,
        "fit_guard": args.fit_guard,
    }
    if args.reg_noise_std is not None:
        fit_options["reg_noise_std"] = args.reg_noise_std
    if getattr(args, "reg_noise_draw", None) is not None:
        fit_options["reg_noise_draw"] = str(args.reg_noise_draw)
    if getattr(args, "window", None) is not None:
        fit_options["window"] = args.window
    show_progress = not (args.quiet or args.json)
    iters = args.iters or task_defaults(job.operator).iters
    label = DOING[args.command]
    if job.tile is not None:
        bar: Any = TileProgress(iters, show_progress, label, args.monitor_every)
    elif job.ensemble > 1:
        bar = MemberProgress(iters, show_progress, label, args.monitor_every)
    else:
        bar = Progress(iters, show_progress, label=label, monitor_every=args.monitor_every)
    try:
        with bar as progress:
            return restore(
                job.image,
                job.operator,
                net=job.net,
                iters=args.iters,
                seed=args.seed,
                device=args.device,
                precision=args.precision,
                reference=job.reference,
                on_step=progress,
                fit_options=fit_options,
                stop=job.stop,
                monitor=job.monitor,
                patience=args.patience,
                also_confirm=job.also_confirm,
                criterion_options=criterion_options(args.criterion_option),
                checkpoint=job.checkpoint,
                max_memory=job.max_memory,
                tile=job.tile,
                overlap=args.tile_overlap,
                max_time=args.max_time,
                **({"on_tile": progress.tile} if job.tile is not None else {}),
                **_ensemble_options(args, job.ensemble, progress),
                **job.net_options,
            )
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None
    except (CheckpointError, FloatingPointError) as error:
        raise RunError(str(error)) from None
    except (InsufficientMemoryError, ValueError, TypeError) as error:  # a memory refusal comes
        raise UsageError(str(error)) from None  # before the run: ask for a smaller one
    except torch_out_of_memory() as error:
        raise RunError(
            f"out of GPU memory ({str(error).splitlines()[0]}); try a smaller --width, --tile "
            "or --device cpu"
        ) from None


def settle_files(job: Job, result: Any, console: Console) -> Path:
    """Write the result; mark an interrupted one on disk; drop a checkpoint that has served."""
    written = write_result(
        job.output, result.pixels, job.info, job.args.bit_depth, overwrite=job.overwrite
    )
    marker = interrupted_marker(job.output)
    if result.interrupted:  # the output is an estimate so far: say so on disk too
        marker.write_text(f"{TERMINATION.what} after {result.iterations} iterations\n")
        return written
    marker.unlink(missing_ok=True)
    timed_out = result.config.get("budget", {}).get("timed_out", False)
    for ckpt in (p for p in checkpoint_files(job.args, job.ckpt) if p.exists()):
        if job.checkpoint is not None and not timed_out:
            ckpt.unlink()  # the run is complete: its checkpoint has served
        elif timed_out:  # cut by --max-time: it may be continued
            console.say(f"kept the checkpoint {ckpt}: --resume with a larger --max-time continues")
    return written


def _window_story(config: dict[str, Any]) -> str:
    """What ``--window`` did: windows with their context, or the whole image where one covers it."""
    side, margin = config["window"], config.get("window_margin")
    if margin is None:
        return (
            f"a {side}×{side} window with the network's context around it covers the whole "
            "image: fitted the whole image at each step"
        )
    return (
        f"fitted a random {side}×{side} window per step (with {margin} pixels of context "
        f"around it); the whole image at every {config['monitor_every']}th step"
    )


def _tell_outcome(job: Job, result: Any, console: Console) -> None:
    """The run's story on stderr: the stop, recoveries, extensions, other criteria."""
    if job.stop_note:
        result.config.setdefault("task", {})["stop_note"] = job.stop_note
    if result.stop_step is not None:
        console.say(f"returning the estimate at step {result.stop_step}")
    if result.ensemble is not None:
        _tell_members(result.ensemble, console)
    if result.config.get("window") is not None:
        console.say(_window_story(result.config))
    if "thin_padding" in result.config:  # a 1- or 2-pixel-thin image: say how it was run
        console.say(result.config["thin_padding"]["note"])
    for event in result.events:
        console.say(f"step {event['step']}: {event['problem']}: {event['action']}")
    for extension in result.config.get("budget", {}).get("extensions", []):
        console.say(
            f"step {extension['step']}: budget extended to {extension['extended_to']} steps: "
            f"{extension['why']}"
        )
    for name, crit in result.criteria.items():
        if name != job.stop:
            role = " (may confirm the stop)" if crit.get("also_confirms") else ""
            console.say(
                f"{name}{role}: candidate step {crit['candidate_step']}"
                f"{'' if crit['confirmed'] else ' (not confirmed)'}"
            )


def _tell_members(ensemble: dict[str, Any], console: Console) -> None:
    """Where each member of an ensemble stopped, and what was returned."""
    count = ensemble["size"]
    for member in ensemble["members"]:
        turned = "" if member["transform"] == "identity" else f", {member['transform']}"
        stop = member["stop_step"] if member["stop_step"] is not None else member["iterations"]
        verdict = " (under-fitted)" if member["underfitted"] else ""
        console.say(
            f"member {member['member']}/{count} (seed {member['seed']}{turned}): estimate of "
            f"step {stop} of {member['iterations']}{verdict}"
        )
    spread = ensemble["uncertainty"]
    console.say(
        f"returning the mean of {ensemble['run']} members; they disagree by "
        f"{spread['mean']:.2f}/255 on average (95th percentile {spread['p95']:.2f}/255)"
    )


def _tell_written(job: Job, result: Any, record: Any, written: Path, console: Console) -> None:
    """Where the result went, whether it is finished and fitted, and its PSNR when known."""
    if result.interrupted:  # said even with --quiet: the output is not a finished result
        kept = [p for p in checkpoint_files(job.args, job.ckpt) if p.exists()]
        resume = (
            f"; continue with --resume (checkpoint {kept[0]})"
            if kept
            else "; the same command run again replaces it"
        )
        print(
            f"autodip: {TERMINATION.what} — wrote the estimate after {result.iterations} "
            f"iterations to {written}{resume}",
            file=sys.stderr,
        )
    else:
        console.say(f"wrote {written}")
    if result.underfitted:  # said even with --quiet: the result may be worse than its input
        advice = underfitted_advice(result.config["fit_guard"], job, result)
        print(f"autodip: warning: {job.input_path}: {advice}", file=sys.stderr)
    m = record.metrics
    if m and not job.args.json:
        print(
            f"PSNR {m['psnr']:.2f} dB (input {m['psnr_input']:.2f} dB), "
            f"SSIM {m['ssim']:.4f} (input {m['ssim_input']:.4f})"
            if "psnr_input" in m
            else f"PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f}"
        )


def ensemble_size(args: argparse.Namespace, tile: int | None = None) -> int:
    """The members of the job: ``--ensemble K``, else the task's default
    (:meth:`~autodip.defaults.TaskDefaults.ensemble_for`), which is one run when the job is tiled
    (``--tile``, or ``tile``, the automatic tile of a large image) or windowed (``--window``).
    """
    given = getattr(args, "ensemble", None)
    if given is not None:
        return int(given)
    tile = tile if tile is not None else getattr(args, "tile", None)
    return defaults.TASK_DEFAULTS[args.command].ensemble_for(tile, getattr(args, "window", None))


def _ensemble_options(args: argparse.Namespace, size: int, progress: Any) -> dict[str, Any]:
    """``restore``'s ensemble options for ``size`` members (one: a plain run)."""
    if size == 1:
        return {"ensemble": 1}
    batch = getattr(args, "batch_members", None) or "auto"
    return {
        "ensemble": size,
        "ensemble_transforms": args.ensemble_transforms or defaults.ENSEMBLE_TRANSFORMS,
        "batch_members": {"auto": None, "on": True, "off": False}[batch],
        "on_member": progress.member,
    }


def existing_checkpoints(ckpt: Path) -> list[Path]:
    """Every checkpoint of this output that exists, a single run's (``ckpt``) or an ensemble's
    members' (:func:`autodip.core.ensemble.member_checkpoint_path`), whatever the run's
    ``--ensemble`` is now: an unfinished run of another size must not be overwritten unasked.
    """
    import glob

    members = ckpt.parent.glob(f"{glob.escape(ckpt.stem)}.member*{ckpt.suffix}")
    return [path for path in (ckpt, *sorted(members)) if path.is_file()]


def _no_checkpoint(args: argparse.Namespace, ckpt: Path) -> str:
    """Why ``--resume`` has nothing to resume: no checkpoint, or one of another ensemble size."""
    where = checkpoint_files(args, ckpt)[0]
    found = existing_checkpoints(ckpt)
    if not found:
        return f"--resume: no checkpoint at '{where}' (written by --checkpoint-every)"
    if found[0] == ckpt:
        hint = "a single run's: resume it with --ensemble 1"
    else:
        hint = "an ensemble member's: resume it with the --ensemble K it was started with"
    return f"--resume: no checkpoint at '{where}', but '{found[0]}' holds {hint}"


def checkpoint_files(args: argparse.Namespace, ckpt: Path) -> list[Path]:
    """The run's checkpoint file, or an ensemble's: one per member beside ``ckpt``
    (:func:`autodip.core.ensemble.member_checkpoint_path`).
    """
    size = ensemble_size(args)
    if size == 1:
        return [ckpt]
    from autodip.core.ensemble import member_checkpoint_path

    return [member_checkpoint_path(ckpt, index) for index in range(size)]


class MemberProgress:
    """A progress bar per member of an ensemble, labelled ``denoising member 2/4 (seed 1)``;
    :meth:`member` (the ensemble's ``on_member``) closes one and opens the next.
    """

    def __init__(self, total: int, enabled: bool, label: str, monitor_every: int = 1) -> None:
        self.total, self.enabled, self.label, self.every = total, enabled, label, monitor_every
        self.bar: Progress | None = None

    def __enter__(self) -> MemberProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def member(self, member: Any, count: int) -> None:
        """Start the bar of ``member`` (an :class:`autodip.core.ensemble.Member`) of ``count``."""
        self._open(f"{self.label} {member.describe(count)}")

    def _open(self, label: str) -> None:
        self._close()
        self.bar = Progress(self.total, self.enabled, label=label, monitor_every=self.every)
        self.bar.__enter__()

    def __call__(self, step: int, loss: float) -> None:
        """Show the current member's ``step`` and ``loss``."""
        if self.bar is not None:
            self.bar(step, loss)


class TileProgress(MemberProgress):
    """A progress bar per tile of a ``--tile`` run, labelled ``denoising tile 2/6``:
    :meth:`tile` (``restore``'s ``on_tile``) closes one and opens the next.
    """

    def tile(self, index: int, count: int) -> None:
        """Start the bar of tile ``index`` (from 1) of ``count``."""
        self._open(f"{self.label} tile {index}/{count}")


def _environment() -> dict[str, str]:
    from autodip.reporting.files import environment

    return environment()


def underfitted_advice(check: dict[str, Any], job: Job, result: Any) -> str:
    """The fit guard's verdict on an under-fitted result, with what to try for this run: finish
    it when it was interrupted; otherwise a network larger than the one that ran, and more steps
    than it had.
    """
    verdict = f"the result is {check['note']}. It may be worse than the input."
    # a tiled run's or an ensemble's iterations are summed over its pieces: --iters is per piece
    pieces = result.ensemble is not None or "tiling" in result.config
    ran = "" if pieces else f" after {result.iterations} steps"
    if result.interrupted:
        return (
            f"{verdict} The run was stopped{ran}, before it had fitted the image: rerun it to let "
            "it finish (with --resume where a checkpoint was kept)"
        )
    more = "a larger --iters" if pieces else f"--iters above {result.iterations}"
    if job.args.iters is not None:  # else the adaptive budget already ran to its cap
        more += ", or no --iters for the adaptive budget"
    return f"{verdict} Try {_larger_network(job)}, more steps ({more}), or check the noise level"


def _larger_network(job: Job) -> str:
    """A network larger than the one that ran, as the options that name it."""
    from autodip.defaults import DEFAULT_NET, MAX_WIDTH

    chosen, width = job.args.net, job.net_options.get("width")
    if chosen in (None, DEFAULT_NET, "auto") and width and 2 * width <= MAX_WIDTH:
        wider = (
            f"--width {2 * width}"
            if chosen != "auto"
            else f"--net {DEFAULT_NET} --width {2 * width}"
        )
        return f"a larger network ({wider} or --net dip-skip)"
    return "a larger network (`autodip list nets` gives their sizes)"


def _samples(info: Any) -> str:
    """How the input stores its samples: ``8-bit png``, ``16-bit tiff``, ``int64 npy`` ..."""
    if info.dtype in (None, "uint8", "uint16"):
        return f"{info.bit_depth}-bit {info.format}"
    return f"{info.dtype} {info.format}"


def _fitted_size(job: Job) -> tuple[int, int]:
    """Height and width of what one network fits: the estimate, or one tile of it."""
    height, width = job.operator.estimate_size(*job.image.shape[1:])
    tile = job.tile
    return (min(height, tile), min(width, tile)) if tile else (height, width)


def _network(
    args: argparse.Namespace, size: tuple[int, int], image: np.ndarray
) -> tuple[str, dict[str, Any]]:
    """The network ``--net/--width/--depth`` name, with the task's default width filled in.

    No ``--net``, or ``--net hourglass`` without ``--width``, runs the task's hourglass at the
    width :meth:`autodip.defaults.TaskDefaults.width_for` gives for ``size`` (the fitted image's
    height and width) and the noise level of ``image`` (denoising: 32 below 3·128² pixels and 64
    from there unless σ̂ ≥ 35; the other tasks 64), so naming the default network builds the same
    one as not naming it.
    """
    from autodip.api import DEFAULT_NET, TASK_DEFAULTS, measurement_sigma

    net, options = args.net, {"width": args.width, "depth": args.depth}
    if net in (None, DEFAULT_NET) and args.width is None:
        task = TASK_DEFAULTS[args.command]
        sigma = measurement_sigma(image) if task.needs_sigma(*size) else None
        net, options["width"] = DEFAULT_NET, task.width_for(*size, sigma=sigma)
    return net, options


def describe_net(net: str, options: dict[str, Any]) -> str:
    """``'hourglass (width 32)'``: a network and the options set on it, as the messages say it."""
    shown = ", ".join(f"{key} {value}" for key, value in options.items() if value is not None)
    return f"{net} ({shown})" if shown else net


def _fallback_note(args: argparse.Namespace, channels: int, used: str | None) -> str | None:
    """Why the task's default criterion was replaced, when it was (multi-channel images)."""
    from autodip.api import TASK_DEFAULTS

    default = TASK_DEFAULTS[args.command].stop
    if args.stop is not None or default is None or used == default:
        return None
    return (
        f"the default criterion {default} needs 1 or 3 channels (JPEG); {used} watches this "
        f"{channels}-channel image instead"
    )


def _operator(args: argparse.Namespace, image: Any, mask_path: Path | None) -> Any:
    """The task's operator, built and checked against the input (``UsageError`` if wrong)."""
    from autodip.physics.operators import Denoise, Inpaint, SuperResolve

    if args.command == "denoise":
        return Denoise()
    if args.command == "sr":
        try:
            return SuperResolve(args.factor)
        except ValueError as error:
            raise UsageError(f"--factor: {error}") from None
    mask, _ = read_input(mask_path, "mask")
    if mask.shape[1:] != image.shape[1:]:
        raise UsageError(
            f"mask '{mask_path}' is {mask.shape[2]}×{mask.shape[1]} pixels but the input is "
            f"{image.shape[2]}×{image.shape[1]}; they must match"
        )
    if mask.shape[0] not in (1, image.shape[0]) or (
        mask.shape[0] > 1 and bool((mask == mask[:1]).all())
    ):
        mask = mask.mean(axis=0, keepdims=True)  # gray mask stored as RGB (or RGBA): one plane
    if args.mask_invert:
        mask = 1.0 - mask
    try:
        operator = Inpaint(mask)
    except ValueError as error:
        raise UsageError(f"mask '{mask_path}': {error}") from None
    if operator.known_fraction == 1.0:  # a run would only re-fit the input: refuse, say why
        flip = "drop --mask-invert" if args.mask_invert else "add --mask-invert"
        raise UsageError(
            f"mask '{mask_path}' marks every pixel as known: there is nothing to fill (if its "
            f"white marks the missing pixels, {flip}; to remove noise, use `autodip denoise`)"
        )
    return operator


def _metrics(image: Any, pixels: Any, reference: Any, command: str) -> dict[str, float]:
    from autodip.metrics.full_reference import psnr, ssim

    if reference is None:
        return {}
    metrics = {"psnr": psnr(pixels, reference), "ssim": ssim(pixels, reference)}
    if command != "sr":  # the input has the reference's size
        metrics |= {"psnr_input": psnr(image, reference), "ssim_input": ssim(image, reference)}
    return metrics
