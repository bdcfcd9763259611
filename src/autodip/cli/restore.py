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
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autodip.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNDERFITTED,
    RunError,
    UsageError,
    criterion_options,
    resolve_also_confirm,
    resolve_stopping,
)
from autodip.cli.files import (
    check_folder,
    check_no_clash,
    checkpoint_path,
    interrupted_marker,
    same_file,
)
from autodip.cli.single import Console, checkpoint_files, ensemble_size, restore_one
from autodip.io.write import IMAGE_SUFFIXES

#: Extensions a folder is searched for.


@dataclass
class _Batch:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    underfitted: list[str] = field(default_factory=list)
    interrupted: bool = False


def run_restore(args: argparse.Namespace) -> int:
    """Entry point of the three restoration commands."""
    _check_options(args)
    console = Console(args.quiet or args.json)
    inputs = expand_inputs(args.input)
    if inputs is None:
        if args.output.is_dir():  # before "exists; pass --force": --force cannot replace a folder
            raise UsageError(
                f"-o '{args.output}' is a folder; name the file to write, e.g. "
                f"-o '{args.output / args.input.name}'"
            )
        record = restore_one(args, args.input, args.output, args.report, console)
        if args.json:
            print(json.dumps(_jsonable(record.to_dict()), indent=2))
        if record.interrupted:
            return EXIT_INTERRUPTED
        if args.strict and record.underfitted:
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
        files = [
            Path(p)
            for p in glob.glob(text)
            if Path(p).is_file() and Path(p).suffix.lower() in IMAGE_SUFFIXES
        ]
    else:
        return None
    if not files:
        raise UsageError(f"no images in '{text}' (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return sorted(files)


def _check_window(args: argparse.Namespace) -> None:
    """``--window``: denoising only, and not with ``--tile``."""
    if getattr(args, "window", None) is None:
        return
    if args.command != "denoise":
        raise UsageError("--window is for denoise (one step fits a window of the noisy image)")
    if args.tile is not None:
        raise UsageError("--window and --tile are two ways to restore a large image; pick one")


def _check_net(args: argparse.Namespace) -> None:
    """``--net``: a registered name, or ``auto`` (denoising, width and depth its own)."""
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


def _check_options(args: argparse.Namespace) -> None:
    from autodip.core.hardware import resolve_device

    try:
        resolve_device(args.device)
    except ValueError as error:
        raise UsageError(str(error)) from None
    _check_net(args)
    if args.two_stage is not None and args.tv <= 0:
        raise UsageError("--two-stage needs a TV weight for its first stage: add --tv WEIGHT")
    _check_window(args)
    if args.tile is not None and not getattr(args, "auto_tile", True):
        raise UsageError("--no-tile and --tile contradict each other; pick one")
    if args.tile is not None and args.command == "sr":
        raise UsageError("--tile is for denoise and inpaint (super-resolution inputs are small)")
    if args.tile is not None and (args.ensemble or 1) > 1:
        raise UsageError("--ensemble restores the whole image K times; not with --tile (yet)")
    if args.tile is not None and (args.checkpoint_every or args.resume):
        raise UsageError("--checkpoint-every and --resume work on whole runs, not with --tile")
    if args.tile is not None and args.tile_overlap is not None and args.tile_overlap >= args.tile:
        raise UsageError(f"--tile-overlap must be smaller than --tile ({args.tile})")
    if args.report is not None and args.report.exists() and not args.report.is_dir():
        raise UsageError(f"--report '{args.report}' exists and is not a directory")
    stop, monitor = resolve_stopping(args)
    also = resolve_also_confirm(args, stop)
    criterion_options(
        args.criterion_option, [*([stop] if stop else []), *([also] if also else []), *monitor]
    )
    _check_unused(args, stop, monitor)
    _check_batch_members(args)


def _check_batch_members(args: argparse.Namespace) -> None:
    """Refuse ``--batch-members on`` with what needs the members run one by one, before any run
    starts (the library would refuse it too, but after saying what it restores).
    """
    if getattr(args, "batch_members", None) != "on":
        return
    from autodip.stopping import list_criteria

    stop = getattr(args, "stop", None)
    changes = stop in list_criteria() and list_criteria()[stop].changes_objective
    conflicts = [
        ("--ensemble-transforms dihedral", args.ensemble_transforms == "dihedral"),
        ("--max-time", args.max_time is not None),
        ("--checkpoint-every or --resume", bool(args.checkpoint_every or args.resume)),
        ("--window", getattr(args, "window", None) is not None),
        ("--tv or --two-stage", bool(getattr(args, "tv", 0)) or args.two_stage is not None),
        (f"--stop {stop} (it changes the objective)", changes),
    ]
    for option, given in conflicts:
        if given:
            raise UsageError(
                f"--batch-members on runs the members together; {option} needs them one by one "
                "(drop one of the two)"
            )


def _check_unused(args: argparse.Namespace, stop: str | None, monitor: list[str]) -> None:
    """Refuse an option that would change nothing without the one it belongs to."""
    unused = [
        ("--tile-overlap", "--tile", args.tile_overlap is not None and args.tile is None),
        (
            "--stage-fraction",
            "--two-stage",
            args.stage_fraction is not None and args.two_stage is None,
        ),
        (
            "--ensemble-transforms",
            "--ensemble K (K > 1)",
            args.ensemble_transforms is not None and ensemble_size(args) == 1,
        ),
        (
            "--batch-members",
            "--ensemble K (K > 1)",
            getattr(args, "batch_members", None) is not None and ensemble_size(args) == 1,
        ),
        (
            "--patience",
            "--stop or --monitor",
            args.patience is not None and stop is None and not monitor,
        ),
    ]
    for option, needs, given_alone in unused:
        if given_alone:
            raise UsageError(f"{option} has no effect without {needs}; drop it or add {needs}")


def _restore_many(args: argparse.Namespace, inputs: list[Path], console: Console) -> int:
    _check_batch(args, inputs)
    batch, started = _Batch(), time.perf_counter()
    for index, path in enumerate(inputs, 1):
        if batch.interrupted:
            break
        _restore_in_batch(args, index, path, len(inputs), batch, console)
    _summarise(args, batch, len(inputs), time.perf_counter() - started, console)
    if batch.interrupted:
        return EXIT_INTERRUPTED
    if batch.failed:
        return EXIT_FAILURE
    if args.strict and batch.underfitted:
        return EXIT_UNDERFITTED
    return EXIT_OK


def _check_batch(args: argparse.Namespace, inputs: list[Path]) -> None:
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"with several inputs, -o must be a folder; '{args.output}' is a file")
    if not args.output.exists() and args.output.suffix.lower() in IMAGE_SUFFIXES:
        raise UsageError(
            f"with several inputs, -o must be a folder; '{args.output}' is named like an image "
            "(a folder of that name would be made): name a folder"
        )
    if any(same_file(path.parent, args.output) for path in inputs):
        raise UsageError(
            f"the output folder '{args.output}' holds the inputs, and each result would replace "
            "its input: write the results to another folder"
        )
    if args.report is not None and same_file(args.report, args.output):
        raise UsageError(
            f"the report folder '{args.report}' is the output folder: each image's report "
            "folder would take its result's name; put the reports elsewhere"
        )
    names = [p.name for p in inputs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise UsageError(f"several inputs share a file name ({', '.join(clashes)}); "
                         "their results would overwrite each other")  # fmt: skip
    check_folder(args.output, "output")
    if args.report is not None:
        check_folder(args.report, "report")
    args.output.mkdir(parents=True, exist_ok=True)


def _restore_in_batch(
    args: argparse.Namespace, index: int, path: Path, count: int, batch: _Batch, console: Console
) -> None:
    """Restore the batch's ``index``-th file, or skip it; a failure is recorded, not raised."""
    output = args.output / path.name
    try:
        check_no_clash({"output": output}, {"input": path})
    except UsageError as error:
        batch.failed.append({"input": str(path), "error": str(error)})
        return
    resuming = args.resume and any(
        p.exists() for p in checkpoint_files(args, checkpoint_path(output))
    )
    unfinished = interrupted_marker(output).exists()
    if output.exists() and not (args.force or resuming or unfinished):
        batch.skipped.append(str(path))
        console.say(f"[{index}/{count}] {path.name}: {output} exists; skipped")
        return
    console.say(f"[{index}/{count}] {path}")
    report = args.report / path.name if args.report is not None else None
    try:
        record = restore_one(args, path, output, report, console, _per_file(args, path), batch=True)
    except KeyboardInterrupt:
        batch.interrupted = True
        return
    except (UsageError, RunError) as error:
        _failed(batch, path, str(error))
        return
    except Exception as error:
        _failed(batch, path, f"unexpected {type(error).__name__}: {error}")
        return
    if record.interrupted:
        batch.interrupted = True
        return
    batch.done.append(str(path))
    if record.underfitted:
        batch.underfitted.append(str(path))


def _failed(batch: _Batch, path: Path, message: str) -> None:
    batch.failed.append({"input": str(path), "error": message})
    print(f"autodip: error: {path}: {message}", file=sys.stderr)


def _summarise(
    args: argparse.Namespace, batch: _Batch, count: int, seconds: float, console: Console
) -> None:
    summary = (
        f"{len(batch.done)} done, {len(batch.skipped)} skipped, {len(batch.failed)} failed "
        f"of {count} in {seconds:.1f} s"
        + (" (interrupted)" if batch.interrupted else "")
        + (f"; {len(batch.underfitted)} under-fitted" if batch.underfitted else "")
    )
    if batch.failed or not console.quiet:  # --quiet: errors only, and failures are errors
        print(f"autodip: {summary}", file=sys.stderr)
        for failure in batch.failed:
            print(f"autodip:   failed: {failure['input']}: {failure['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps({"done": batch.done, "skipped": batch.skipped, "failed": batch.failed,
                          "underfitted": batch.underfitted, "seconds": seconds,
                          "interrupted": batch.interrupted}, indent=2))  # fmt: skip


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


def _jsonable(value: Any) -> Any:
    from autodip.reporting.files import _finite

    return _finite(value)
