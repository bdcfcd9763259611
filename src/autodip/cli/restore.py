"""``autodip denoise | inpaint | sr``: one image, or every image of a folder or glob.

One image: read, check everything that can be checked before the long fit (output writable, mask
and reference sizes, criteria, memory), fit with a progress bar, write the result atomically,
print a one-paragraph summary, and optionally write ``report.json``, ``curves.png`` and a
self-contained ``report.html``.

Many images (the input is a folder or a glob; the output a folder): each is restored in turn as
above; results already in the output folder are skipped (unless ``--force``), a file that fails
is reported and the batch goes on, and a summary (done / skipped / failed, total time) ends it.
The exit code is 0 when nothing failed, 1 otherwise, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autodip.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNDERFITTED,
    TERMINATION,
    Progress,
    RunError,
    UsageError,
    architecture_for,
    check_writable,
    criterion_options,
    describe_choice,
    read_input,
    resolve_stopping,
    torch_out_of_memory,
)

#: Extensions a folder is searched for.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy"})
DOING = {"denoise": "denoising", "inpaint": "inpainting", "sr": "super-resolving"}


class _Console:
    """Informational lines on stderr, silenced by ``--quiet`` and ``--json``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"autodip: {text}", file=sys.stderr)


@dataclass
class _Batch:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    underfitted: list[str] = field(default_factory=list)


def run_restore(args: argparse.Namespace) -> int:
    """Entry point of the three restoration commands."""
    _check_options(args)
    console = _Console(args.quiet or args.json)
    inputs = expand_inputs(args.input)
    if inputs is None:
        if args.output.is_dir():  # before "exists; pass --force": --force cannot replace a folder
            raise UsageError(
                f"-o '{args.output}' is a folder; name the file to write, e.g. "
                f"-o '{args.output / args.input.name}'"
            )
        record = restore_one(args, args.input, args.output, args.report, console)
        if args.json:
            print(json.dumps(_jsonable(record), indent=2))
        if record["result"]["interrupted"]:
            return EXIT_INTERRUPTED
        if args.strict and record["result"]["underfitted"]:
            return EXIT_UNDERFITTED
        return EXIT_OK
    return _restore_many(args, inputs, console)


def expand_inputs(path: Path) -> list[Path] | None:
    """The images a folder or glob names (sorted), or ``None`` for a single file."""
    text = str(path)
    if path.is_file():
        return None  # a file, even one whose name holds glob characters such as [1]
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    elif any(char in text for char in "*?["):
        files = [Path(p) for p in glob.glob(text) if Path(p).is_file()]
    else:
        return None
    if not files:
        raise UsageError(f"no images in '{text}' (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return sorted(files)


def _check_options(args: argparse.Namespace) -> None:
    from autodip.nets import list_nets

    auto = args.net == "auto"
    if auto and args.command != "denoise":
        raise UsageError(
            "--net auto predicts a denoising network from the input's texture; it is for "
            "`autodip denoise` only"
        )
    if auto and (args.width is not None or args.depth is not None):
        raise UsageError(
            "--net auto chooses the width and depth itself; drop --width/--depth, or pick "
            "them with --net hourglass"
        )
    if not auto and args.net is not None and args.net not in list_nets():
        from difflib import get_close_matches

        close = get_close_matches(args.net, list_nets(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown network {args.net!r}{hint}; see `autodip list nets`")
    if args.two_stage is not None and args.tv <= 0:
        raise UsageError("--two-stage needs a TV weight for its first stage: add --tv WEIGHT")
    if args.tile is not None and args.command == "sr":
        raise UsageError("--tile is for denoise and inpaint (super-resolution inputs are small)")
    if args.tile is not None and (args.checkpoint_every or args.resume):
        raise UsageError("--checkpoint-every and --resume work on whole runs, not with --tile")
    if args.tile is not None and args.tile_overlap is not None and args.tile_overlap >= args.tile:
        raise UsageError(f"--tile-overlap must be smaller than --tile ({args.tile})")
    if args.report is not None and args.report.exists() and not args.report.is_dir():
        raise UsageError(f"--report '{args.report}' exists and is not a directory")
    stop, monitor = resolve_stopping(args)
    criterion_options(args.criterion_option, [stop, *monitor] if stop else monitor)


def _restore_many(args: argparse.Namespace, inputs: list[Path], console: _Console) -> int:
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"with several inputs, -o must be a folder; '{args.output}' is a file")
    names = [p.name for p in inputs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise UsageError(f"several inputs share a file name ({', '.join(clashes)}); "
                         "their results would overwrite each other")  # fmt: skip
    check_folder(args.output, "output")
    if args.report is not None:
        check_folder(args.report, "report")
    args.output.mkdir(parents=True, exist_ok=True)
    batch, started = _Batch(), time.perf_counter()
    interrupted = False
    for index, path in enumerate(inputs, 1):
        output = args.output / path.name
        try:
            check_no_clash({"output": output}, {"input": path})
        except UsageError as error:
            batch.failed.append({"input": str(path), "error": str(error)})
            continue
        resuming = args.resume and checkpoint_path(output).exists()
        unfinished = interrupted_marker(output).exists()
        if output.exists() and not (args.force or resuming or unfinished):
            batch.skipped.append(str(path))
            console.say(f"[{index}/{len(inputs)}] {path.name}: {output} exists; skipped")
            continue
        console.say(f"[{index}/{len(inputs)}] {path}")
        report = args.report / path.name if args.report is not None else None
        try:
            record = restore_one(
                args, path, output, report, console, _per_file(args, path), batch=True
            )
        except KeyboardInterrupt:
            interrupted = True
            break
        except (UsageError, RunError) as error:
            batch.failed.append({"input": str(path), "error": str(error)})
            print(f"autodip: error: {path}: {error}", file=sys.stderr)
            continue
        except Exception as error:
            message = f"unexpected {type(error).__name__}: {error}"
            batch.failed.append({"input": str(path), "error": message})
            print(f"autodip: error: {path}: {message}", file=sys.stderr)
            continue
        if record["result"]["interrupted"]:
            interrupted = True
            break
        batch.done.append(str(path))
        if record["result"]["underfitted"]:
            batch.underfitted.append(str(path))
    seconds = time.perf_counter() - started
    summary = (
        f"{len(batch.done)} done, {len(batch.skipped)} skipped, {len(batch.failed)} failed "
        f"of {len(inputs)} in {seconds:.1f} s"
        + (" (interrupted)" if interrupted else "")
        + (f"; {len(batch.underfitted)} under-fitted" if batch.underfitted else "")
    )
    if batch.failed or not console.quiet:  # --quiet: errors only, and failures are errors
        print(f"autodip: {summary}", file=sys.stderr)
        for failure in batch.failed:
            print(f"autodip:   failed: {failure['input']}: {failure['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps({"done": batch.done, "skipped": batch.skipped, "failed": batch.failed,
                          "underfitted": batch.underfitted, "seconds": seconds,
                          "interrupted": interrupted}, indent=2))  # fmt: skip
    if interrupted:
        return EXIT_INTERRUPTED
    if batch.failed:
        return EXIT_FAILURE
    if args.strict and batch.underfitted:
        return EXIT_UNDERFITTED
    return EXIT_OK


def _per_file(args: argparse.Namespace, path: Path) -> dict[str, Path | None]:
    """The reference and mask that go with ``path`` in a batch (folders are matched by name)."""
    paths: dict[str, Path | None] = {"reference": args.reference}
    if args.reference is not None and args.reference.is_dir():
        match = args.reference / path.name
        paths["reference"] = match if match.exists() else None
    mask = getattr(args, "mask", None)
    if mask is not None and mask.is_dir():
        candidates = sorted(mask.glob(f"{glob.escape(path.stem)}_mask.*")) or sorted(
            mask.glob(f"{glob.escape(path.stem)}.*")
        )
        if not candidates:
            raise UsageError(f"no mask for {path.name} in '{mask}' (looked for {path.stem}_mask.*)")
        paths["mask"] = candidates[0]
    return paths


def checkpoint_path(output: Path) -> Path:
    """Where the checkpoint of the run writing ``output`` lives: beside it."""
    return output.with_name(output.name + ".ckpt")


def interrupted_marker(output: Path) -> Path:
    """The file that says ``output`` holds an interrupted run's estimate, not a finished one."""
    return output.with_name(output.name + ".interrupted")


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file, however spelt.

    Resolved paths catch ``./``, ``..`` and symbolic links; :func:`os.path.samefile` (where both
    exist) also catches hard links and another case on a case-insensitive file system.
    """
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symbolic-link loop: leave it to samefile
        pass
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: then they are not one file
        return False


def check_no_clash(written: dict[str, Path], read: dict[str, Path | None]) -> None:
    """Refuse a run that would write over a file it reads, even with ``--force``.

    Parameters
    ----------
    written : dict of str to Path
        The files the run writes, by role (``"output"``, ``"report file"``).
    read : dict of str to Path or None
        The files it reads, by role (``"input"``, ``"reference"``, ``"mask"``); None is skipped.

    Raises
    ------
    UsageError
        Naming the two roles, when a written file is a read one (see :func:`same_file`).
    """
    for role, target in written.items():
        for source_role, source in read.items():
            if source is not None and same_file(target, source):
                raise UsageError(
                    f"the {role} '{target}' is the {source_role} '{source}' (the same file); "
                    f"writing it would destroy the {source_role}, even with --force: "
                    "write the result elsewhere"
                )


def restore_one(
    args: argparse.Namespace,
    input_path: Path,
    output: Path,
    report_dir: Path | None,
    console: _Console,
    paths: dict[str, Path | None] | None = None,
    *,
    batch: bool = False,
) -> dict[str, Any]:
    """Restore one file; return the run's record (what ``report.json`` holds).

    In a batch, ``--resume`` starts afresh the files that have no checkpoint yet.
    """
    from autodip.api import restore
    from autodip.core.checkpoint import CheckpointError, Checkpointing
    from autodip.core.memory import InsufficientMemoryError, parse_size
    from autodip.io import ImageWriteError, check_output
    from autodip.reporting.files import REPORT_FILES, environment
    from autodip.reporting.html import summary_paragraph

    started = time.perf_counter()
    paths = paths or {"reference": args.reference}
    ckpt = checkpoint_path(output)
    resuming = args.resume and ckpt.exists()
    if args.resume and not resuming and not batch:
        raise UsageError(f"--resume: no checkpoint at '{ckpt}' (written by --checkpoint-every)")
    report_paths = [report_dir / name for name in REPORT_FILES] if report_dir else []
    check_no_clash(
        {"output": output, **{f"report file {p.name}": p for p in report_paths}},
        {"input": input_path, "reference": paths.get("reference"),
         "mask": paths.get("mask", getattr(args, "mask", None))},
    )  # fmt: skip
    unfinished = interrupted_marker(output).exists()
    check_writable([output, *report_paths], args.force or resuming or unfinished)
    check_folder(output.parent, "output")
    if report_dir is not None:
        check_folder(report_dir, "report")
    if (args.checkpoint_every or args.resume) and ckpt.is_dir():
        raise UsageError(f"the checkpoint '{ckpt}' is a directory, not a file")
    image, info = read_input(input_path, "input", args.frame, args.allow_truncated)
    if info.damaged:  # said even with --quiet: part of the input was invented by the decoder
        print(
            f"autodip: warning: '{input_path}' is damaged ({info.damaged}); restoring the "
            "partial image as decoded, as --allow-truncated asks",
            file=sys.stderr,
        )
    if info.alpha is not None and args.drop_alpha:
        info = replace(info, alpha=None)
    stop, monitor = resolve_stopping(args, image.shape[0])
    stop_note = _fallback_note(args, image.shape[0], stop or (monitor[0] if monitor else None))
    if stop_note:
        console.say(stop_note)
    operator = _operator(args, image, paths.get("mask", getattr(args, "mask", None)))
    out_shape = (image.shape[0], *operator.estimate_size(*image.shape[1:]))
    if info.alpha is not None and info.alpha.shape != tuple(out_shape[1:]):
        console.say("the input's alpha plane is not resized with the image: the result has none")
    reference = None
    if paths.get("reference") is not None:
        reference, _ = read_input(paths["reference"], "reference")
        if reference.shape != out_shape:
            raise UsageError(
                f"reference '{paths['reference']}' has shape {reference.shape}, the result will "
                f"have {out_shape} (C×H×W); they must match"
            )
    try:
        check_output(output, image.shape[0], info, bit_depth=args.bit_depth)
        max_memory = parse_size(args.max_memory) if args.max_memory else None
    except (ImageWriteError, ValueError) as error:
        hint = " (or pass --drop-alpha)" if "alpha (transparency)" in str(error) else ""
        raise UsageError(f"{error}{hint}") from None
    net, net_options = _network(args)
    architecture = None
    if args.net == "auto":
        architecture = architecture_for(image, None)
        net, net_options = architecture["net"], architecture["options"]
        console.say(f"--net auto: {describe_choice(architecture)}")
    note = ""
    if args.command == "sr":
        note = f" ×{args.factor} to {out_shape[2]}×{out_shape[1]}"
    elif args.command == "inpaint":
        note = f" ({operator.known_fraction:.1%} of values known)"
    console.say(
        f"{DOING[args.command]} {input_path} ({image.shape[2]}×{image.shape[1]}, "
        f"{image.shape[0]} channel(s), {_samples(info)}){note} "
        f"with {describe_net(net, net_options)}"
    )
    if info.value_range is not None:
        lo, hi = info.value_range
        console.say(
            f"{info.dtype} data in [{lo:.6g}, {hi:.6g}] scaled to [0, 1] and back on writing"
        )
    checkpoint = None
    if args.checkpoint_every or args.resume:
        checkpoint = Checkpointing(ckpt, every=args.checkpoint_every or 0, resume=resuming)
        if resuming:
            console.say(f"resuming from {ckpt}")
    fit_options = {
        "lr": args.lr,
        "exp_weight": args.exp_weight,
        "monitor_every": args.monitor_every,
        "tv_weight": args.tv,
        "two_stage": args.two_stage,
        "stage_fraction": args.stage_fraction,
        "fit_guard": args.fit_guard,
    }
    show_progress = not (args.quiet or args.json or args.tile)
    from autodip.api import task_defaults

    defaults = task_defaults(operator)
    iters = args.iters or defaults.iters
    if args.reg_noise_std is not None:
        fit_options["reg_noise_std"] = args.reg_noise_std
    try:
        with Progress(
            iters, show_progress, label=DOING[args.command], monitor_every=args.monitor_every
        ) as progress:
            result = restore(
                image,
                operator,
                net=net,
                iters=args.iters,
                seed=args.seed,
                device=args.device,
                precision=args.precision,
                reference=reference,
                on_step=progress,
                fit_options=fit_options,
                stop=stop,
                monitor=monitor,
                patience=args.patience,
                criterion_options=criterion_options(args.criterion_option),
                checkpoint=checkpoint,
                max_memory=max_memory,
                tile=args.tile,
                overlap=args.tile_overlap,
                max_time=args.max_time,
                **net_options,
            )
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None
    except (InsufficientMemoryError, CheckpointError) as error:
        raise RunError(str(error)) from None
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None
    except FloatingPointError as error:
        raise RunError(str(error)) from None
    except torch_out_of_memory() as error:
        raise RunError(
            f"out of GPU memory ({str(error).splitlines()[0]}); try a smaller --width, --tile "
            "or --device cpu"
        ) from None

    written = _write_result(
        output, result.pixels, info, args.bit_depth, overwrite=args.force or resuming or unfinished
    )
    marker = interrupted_marker(output)
    if result.interrupted:  # the output is an estimate so far: say so on disk too
        marker.write_text(f"{TERMINATION.what} after {result.iterations} iterations\n")
    else:
        marker.unlink(missing_ok=True)
        timed_out = result.config.get("budget", {}).get("timed_out", False)
        if checkpoint is not None and ckpt.exists() and not timed_out:
            ckpt.unlink()  # the run is complete: its checkpoint has served
        elif timed_out and ckpt.exists():  # cut by --max-time: it may be continued
            console.say(f"kept the checkpoint {ckpt}: --resume with a larger --max-time continues")
    if stop_note:
        result.config.setdefault("task", {})["stop_note"] = stop_note
    if result.stop_step is not None:
        console.say(f"returning the estimate at step {result.stop_step}")
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
        if name != stop:
            console.say(
                f"{name}: candidate step {crit['candidate_step']}"
                f"{'' if crit['confirmed'] else ' (not confirmed)'}"
            )
    record = _record(
        args, input_path, image, info, written, paths.get("reference"), result, architecture,
        _metrics(image, result.pixels, reference, args.command), started, environment(),
    )  # fmt: skip
    if result.interrupted and TERMINATION.received and result.reason.startswith("interrupted"):
        record["result"]["reason"] = f"terminated by SIGTERM after step {result.iterations}"
    if result.interrupted:  # said even with --quiet: the output is not a finished result
        print(
            f"autodip: {TERMINATION.what} — wrote the estimate after {result.iterations} "
            f"iterations to "
            f"{written}"
            + (f"; continue with --resume (checkpoint {ckpt})" if ckpt.exists() else ""),
            file=sys.stderr,
        )
    else:
        console.say(f"wrote {written}")
    if result.underfitted:  # said even with --quiet: the result may be worse than its input
        advice = underfitted_advice(result.config["fit_guard"])
        print(f"autodip: warning: {advice}", file=sys.stderr)
    if record["metrics"] and not args.json:
        m = record["metrics"]
        print(
            f"PSNR {m['psnr']:.2f} dB (input {m['psnr_input']:.2f} dB), "
            f"SSIM {m['ssim']:.4f} (input {m['ssim_input']:.4f})"
            if "psnr_input" in m
            else f"PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f}"
        )
    if report_dir is not None:
        try:
            _write_report(report_dir, record, image, result.pixels, reference, net, architecture)
        except OSError as error:  # the result is safe; only the report is missing
            raise RunError(
                f"wrote {written}, but not the report in '{report_dir}': {error}"
            ) from None
        console.say(f"report in {report_dir}/")
    console.say(summary_paragraph(record))
    return record


def underfitted_advice(check: dict[str, Any]) -> str:
    """The fit guard's verdict on an under-fitted result, with what to try."""
    return (
        f"the result is {check['note']}. It may be worse than the input. Try a larger network "
        "(--width 64 or --net dip-skip), more steps (--iters N, or no --iters for the adaptive "
        "budget), or check the noise level"
    )


def check_folder(folder: Path, what: str) -> None:
    """Refuse (``UsageError``) a folder that cannot be created, or exists and cannot be written.

    Run before the fit, so that a finished run is never lost to a bad path. The test creates and
    removes a temporary file in the folder, or in its nearest existing ancestor when the folder
    is still to be made (creating it needs the same right); nothing is left behind.
    """
    import tempfile

    existing = Path(os.path.abspath(folder))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"cannot create the {what} folder '{folder}': '{existing}' is a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=".autodip-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise UsageError(
            f"cannot write the {what} folder '{folder}' ({existing}: {reason})"
        ) from None


def _write_result(
    output: Path, pixels: Any, info: Any, bit_depth: int | None, *, overwrite: bool
) -> Path:
    """Write the result to ``output``; if that fails after the run, save it elsewhere and say where.

    Raises
    ------
    RunError
        When ``output`` could not be written, naming the rescue copy (see :func:`rescue_result`).
    """
    from autodip.io import ImageWriteError, write_image

    try:
        return write_image(output, pixels, info, bit_depth=bit_depth, overwrite=overwrite)
    except (ImageWriteError, FileExistsError, OSError, ValueError) as error:
        saved = rescue_result(output, pixels, info, bit_depth)
        where = f"the result is saved in '{saved}' instead" if saved else "the result is lost"
        raise RunError(f"{error}; {where}") from None


def rescue_result(output: Path, pixels: Any, info: Any, bit_depth: int | None) -> Path | None:
    """Save a result that could not be written to ``output``; return where, or None.

    Tried in turn: ``<stem>.autodip-rescued<suffix>`` beside ``output``, the same as ``.npy``, then
    both in the temporary folder; a number is added rather than replace an earlier rescue.
    """
    import tempfile

    from autodip.io import ImageWriteError, write_image

    for folder in (output.parent, Path(tempfile.gettempdir())):
        for suffix, depth in ((output.suffix, bit_depth), (".npy", None)):
            target = folder / f"{output.stem}.autodip-rescued{suffix}"
            for number in range(2, 100):
                if not target.exists():
                    break
                target = folder / f"{output.stem}.autodip-rescued-{number}{suffix}"
            try:
                return write_image(target, pixels, info, bit_depth=depth)
            except (ImageWriteError, OSError, ValueError):
                continue
    return None


def _samples(info: Any) -> str:
    """How the input stores its samples: ``8-bit png``, ``16-bit tiff``, ``int64 npy`` ..."""
    if info.dtype in (None, "uint8", "uint16"):
        return f"{info.bit_depth}-bit {info.format}"
    return f"{info.dtype} {info.format}"


def _network(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The network ``--net/--width/--depth`` name, with the task's default width filled in.

    No ``--net``, or ``--net hourglass`` without ``--width``, runs the task's hourglass
    (:data:`autodip.api.TASK_DEFAULTS`: width 32 for denoising, 64 otherwise), so naming the
    default network builds the same one as not naming it.
    """
    from autodip.api import DEFAULT_NET, TASK_DEFAULTS

    net, options = args.net, {"width": args.width, "depth": args.depth}
    if net in (None, DEFAULT_NET) and args.width is None:
        net, options["width"] = DEFAULT_NET, TASK_DEFAULTS[args.command].width
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


def _record(
    args: argparse.Namespace,
    input_path: Path,
    image: Any,
    info: Any,
    written: Path,
    reference_path: Path | None,
    result: Any,
    architecture: dict[str, Any] | None,
    metrics: dict[str, float],
    started: float,
    environment: dict[str, str],
) -> dict[str, Any]:
    return {
        "command": args.command,
        "argv": sys.argv,
        "input": {
            "path": str(input_path),
            "shape_chw": list(image.shape),
            "format": info.format,
            "bit_depth": info.bit_depth,
            "mode": info.mode,
            "value_range": list(info.value_range) if info.value_range is not None else None,
            "dtype": info.dtype,
            "layout": info.layout,
            "frame": info.frame,
            "damaged": info.damaged,
        },
        "output": str(written),
        "reference": str(reference_path) if reference_path else None,
        "config": result.config,
        "environment": environment,
        "timings": {
            "total_seconds": time.perf_counter() - started,
            "fit_seconds": result.seconds,
            "iterations_per_second": result.iterations_per_second,
        },
        "result": {
            "iterations": result.iterations,
            "reason": result.reason,
            "interrupted": result.interrupted,
            "stop_step": result.stop_step,
            "confirmed": result.confirmed,
            "underfitted": result.underfitted,
            "fit_guard": result.config.get("fit_guard"),
            "budget": result.config.get("budget"),
            "monitor_seconds": result.monitor_seconds,
            "events": result.events,
        },
        "criteria": result.criteria,
        **({"architecture": architecture} if architecture is not None else {}),
        "metrics": metrics,
        "history": result.history,
    }


def _write_report(
    folder: Path,
    record: dict[str, Any],
    image: Any,
    pixels: Any,
    reference: Any,
    net: str,
    architecture: dict[str, Any] | None,
) -> None:
    from autodip.reporting.files import plot_curves, write_json
    from autodip.reporting.html import network_phrase, write_html_report

    write_json(folder / "report.json", record)
    plot_curves(
        folder / "curves.png",
        record["history"],
        title=f"{Path(record['input']['path']).name} — "
        + (network_phrase(record["config"].get("net", {})) or net)
        + (f" (auto, width {architecture['width']})" if architecture else ""),
        criteria=record["criteria"],
        stop_step=record["result"]["stop_step"],
        stage_boundary=record["config"].get("stage_boundary"),
    )
    write_html_report(
        folder / "report.html",
        record,
        image,
        pixels,
        reference,
        curves_png=(folder / "curves.png").read_bytes(),
    )


def _jsonable(value: Any) -> Any:
    from autodip.reporting.files import _finite

    return _finite(value)
