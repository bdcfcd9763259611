"""Where a restoration's files go, and that none is lost: clashes between what is read and what is
written, writable folders, the checkpoint and interrupted-run markers beside the output, and the
rescue of a result whose destination failed after the run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from autodip.cli.common import RunError, UsageError


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


def check_report_apart(output: Path, report_dir: Path | None, report_files: list[Path]) -> None:
    """Refuse an output that the report would write over, or that names the report folder.

    ``--report DIR`` writes fixed names (``DIR/curves.png``, …): an output among them would be
    replaced by a plot after the run, and an output that is ``DIR`` (or holds it) makes the
    report impossible to write once the result exists.
    """
    if report_dir is None:
        return
    for path in report_files:
        if same_file(output, path):
            raise UsageError(
                f"the output '{output}' is the report's {path.name} (written by --report "
                f"'{report_dir}'); name the output otherwise or put the report elsewhere"
            )
    out, folder = output.resolve(), report_dir.resolve()
    if out == folder or out in folder.parents:
        where = "is" if out == folder else "is inside"
        raise UsageError(
            f"the report folder '{report_dir}' {where} the output '{output}'; "
            "put the report elsewhere"
        )


def report_of(report_dir: Path | None, output: Path) -> bool:
    """Whether ``report_dir`` holds the report of the run that wrote ``output``.

    An interrupted run writes its report too; resuming it (or rerunning it) may replace that
    report without ``--force``, but not one another run left there.
    """
    if report_dir is None:
        return False
    import json

    try:
        recorded = json.loads((report_dir / "report.json").read_text()).get("output")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(recorded, str) and same_file(Path(recorded), output)


def check_checkpoint_kept(checkpoints: list[Path], resume: bool, force: bool) -> None:
    """Refuse a run that would start afresh over an unfinished run's checkpoint.

    Rerunning an interrupted command without ``--resume`` would otherwise replace (and, once
    finished, delete) the checkpoint it could have continued from.
    """
    kept = [path for path in checkpoints if path.is_file()]
    if kept and not (resume or force):
        raise UsageError(
            f"'{kept[0]}' holds an unfinished run's checkpoint: continue it with --resume, "
            "or pass --force to start afresh (the checkpoint is then replaced)"
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


def write_result(
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
