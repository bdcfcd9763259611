"""What the command line's commands share: exit codes, errors, reading, the progress bar, checks.

Every module of :mod:`autodip.cli` imports from here; this module imports none of them.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from autodip.errors import RunError as RunError
from autodip.errors import UsageError as UsageError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: Ended by SIGTERM (a batch scheduler, a container stop, ``timeout``): 128 + 15, as shells say.
EXIT_TERMINATED = 143
#: ``--strict``: the run finished but its result is under-fitted
#: (:mod:`autodip.stopping.fit_guard`).
EXIT_UNDERFITTED = 3


def torch_out_of_memory() -> type[BaseException]:
    """PyTorch's out-of-memory error class (imported lazily)."""
    import torch

    return torch.cuda.OutOfMemoryError


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Print a warning as ``autodip: warning: …``: no source path, line or Python class name."""
    print(f"autodip: warning: {message}", file=sys.stderr)


def check_writable(paths: list[Path], force: bool) -> None:
    """Refuse to write over a folder, or over an existing file without ``--force``."""
    for path in paths:  # first: --force cannot replace a folder, so never advise it for one
        if path.is_dir():
            raise UsageError(f"'{path}' is a folder, not a file; name a file to write")
    existing = [f"'{p}'" for p in paths if p.exists()]
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise UsageError(f"{', '.join(existing)} {verb}; pass --force to overwrite")


def read_input(
    path: Path, what: str, frame: int | None = None, allow_truncated: bool = False
) -> tuple[Any, Any]:
    """Read an image for the command line: any problem is a `UsageError` saying what to do."""
    from autodip.io import ImageDamagedError, ImageFramesError, ImageReadError, read_image

    try:
        return read_image(path, frame=frame, allow_truncated=allow_truncated)
    except ImageFramesError as error:
        last = error.frames - 1
        todo = (
            f"restore one of them with --frame N (0 = the first, {last} = the last)"
            if what == "input"
            else "save the frame you mean as an image of its own"
        )
        raise UsageError(
            f"{what}: '{error.path}' is an animation of {error.frames} frames; {todo}"
        ) from None
    except ImageDamagedError as error:
        hint = "; pass --allow-truncated to restore the partial image" if what == "input" else ""
        raise UsageError(f"{what}: {error}{hint}") from None
    except ImageReadError as error:
        raise UsageError(f"{what}: {error}") from None


#: The progress bar's fields, most important first: a narrow terminal drops them from the end.
PROGRESS_FIELDS = ("step", "left", "loss", "label", "bar", "rate", "elapsed")


def progress_columns(label: str, total: int, width: int) -> list[Any]:
    """The progress bar's rich columns that fit on one line of ``width`` characters.

    Fields are kept in the order of :data:`PROGRESS_FIELDS` while they fit (one space between
    fields, one column spare so the line never wraps); the bar takes the room left, 10 to 40
    characters. They are shown as: label, bar, step (``1500/1500``), loss, speed, elapsed, left.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    fields: dict[str, tuple[list[Any], int]] = {  # columns and their printed width at most
        "label": ([TextColumn(f"[bold]{label}")], len(label)),
        "bar": ([], 10),
        "step": ([MofNCompleteColumn()], 2 * len(str(total)) + 1),
        "loss": ([TextColumn("loss {task.fields[loss]:.2e}")], len("loss 1.23e-02")),
        "rate": ([TextColumn("{task.fields[rate]} it/s")], len("99999 it/s")),
        "elapsed": ([TextColumn("elapsed"), TimeElapsedColumn()], len("elapsed 0:00:00")),
        "left": ([TextColumn("left"), TimeRemainingColumn()], len("left 0:00:00")),
    }
    room, kept = width - 1, set()
    for name in PROGRESS_FIELDS:
        need = fields[name][1] + (1 if kept else 0)
        if need <= room:
            kept.add(name)
            room -= need
    if "bar" in kept:
        fields["bar"] = ([BarColumn(bar_width=min(40, 10 + room))], 0)
    return [column for name, (columns, _) in fields.items() if name in kept for column in columns]


class Progress:
    """A rich progress bar on stderr: step, loss, iterations/s and time left, as the terminal's
    width allows (:func:`progress_columns`).
    """

    def __init__(
        self, total: int, enabled: bool, label: str = "denoising", monitor_every: int = 1
    ) -> None:
        self.enabled, self.started = enabled, False
        if not enabled:
            return
        import shutil

        from rich.console import Console
        from rich.progress import Progress

        width = shutil.get_terminal_size((80, 24)).columns
        self.progress = Progress(
            *progress_columns(label, total, width),
            console=Console(stderr=True, width=width),
            transient=False,
        )
        self.task = self.progress.add_task("fit", total=total, loss=float("nan"), rate="0.0")
        self.start = time.perf_counter()
        # the adaptive budget's step, as the runner takes it
        self.total, self.chunk = total, max(monitor_every, total // 2)

    def __enter__(self) -> Progress:
        # the bar appears with the first step: a refusal before it (a device, a size) then
        # stands on a line of its own
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled and self.started:
            self.progress.stop()

    def __call__(self, step: int, loss: float) -> None:
        """Show ``step`` and ``loss``; the total grows with an extended (adaptive) budget."""
        if self.enabled:
            if not self.started:
                self.progress.start()
                self.started = True
            rate = min(step / max(time.perf_counter() - self.start, 1e-9), 99999)
            shown = f"{rate:.1f}" if rate < 100 else f"{rate:.0f}"  # at most 5 characters
            while step > self.total:  # the adaptive budget went on, by half the budget at a time
                self.total += self.chunk
                self.progress.update(self.task, total=self.total)
            self.progress.update(self.task, completed=step, loss=loss, rate=shown)


def resolve_stopping(
    args: argparse.Namespace, channels: int | None = None
) -> tuple[str | None, list[str]]:
    """The stopping criterion and the monitored ones, checked; ``--stop`` unset means the
    task's default (for ``channels`` other than 1 or 3, the multi-channel fallback).
    """
    from autodip.defaults import MULTICHANNEL_STOP, TASK_DEFAULTS
    from autodip.stopping import list_criteria

    known = list_criteria()
    requested = args.stop
    if requested is None:
        requested = TASK_DEFAULTS[args.command].stop or "none"
        if requested != "none" and channels is not None and channels not in (1, 3):
            requested = MULTICHANNEL_STOP
    stop = None if requested in ("none", "") else requested
    monitor = [m.strip() for m in args.monitor.split(",") if m.strip()]
    for name in ([stop] if stop else []) + monitor:
        if name not in known:
            from difflib import get_close_matches

            close = get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"unknown criterion {name!r}{hint}; see `autodip list criteria`")
    for name in monitor:
        if known[name].changes_objective and name != stop:
            raise UsageError(
                f"{name} changes the objective (the network fits y + pseudo-noise), so it cannot "
                f"be monitored inside another criterion's run; use --stop {name}"
            )
    needs_ref = [n for n in ([stop] if stop else []) + monitor if known[n].needs_reference]
    if needs_ref and args.reference is None:
        raise UsageError(f"{', '.join(needs_ref)} needs a clean image: pass --reference")
    if args.no_early_stop:
        if stop and known[stop].changes_objective:
            raise UsageError(
                f"--no-early-stop cannot record {stop}: it changes the objective; "
                f"run --stop {stop} instead"
            )
        monitor = ([stop] if stop and stop not in monitor else []) + monitor
        stop = None
    return stop, monitor


def resolve_also_confirm(args: argparse.Namespace, stop: str | None) -> str | None:
    """The criterion that also confirms a stop: ``--also-confirm``, else the task's beside its own
    criterion (denoising: ``discrepancy`` beside ``cifs``); ``none`` turns it off. Checked.
    """
    from autodip.defaults import TASK_DEFAULTS
    from autodip.stopping import list_criteria

    requested = getattr(args, "also_confirm", None)
    task = TASK_DEFAULTS[args.command]
    if requested is None:
        return task.also_confirm if stop is not None and stop == task.stop else None
    if requested == "none":
        return None
    known = list_criteria()
    if requested not in known:
        from difflib import get_close_matches

        close = get_close_matches(requested, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown criterion {requested!r}{hint}; see `autodip list criteria`")
    if stop is None:
        raise UsageError("--also-confirm needs a criterion that stops the run (--stop)")
    if requested == stop:
        raise UsageError(f"--also-confirm {requested} is already --stop; name another criterion")
    if known[requested].changes_objective:
        raise UsageError(
            f"{requested} changes the objective, so it cannot confirm a stop beside {stop}; "
            f"use --stop {requested}"
        )
    return requested


def architecture_for(image: Any, model: Path | None) -> dict[str, Any]:
    """The network ``--net auto`` chooses for ``image`` (a bad model file is a `UsageError`)."""
    from autodip.analysis.width_predictor import choose_architecture

    try:
        return choose_architecture(image, model_path=model)
    except ValueError as error:
        raise UsageError(str(error)) from None


def describe_choice(architecture: dict[str, Any]) -> str:
    """One line: the chosen hourglass, the probabilities and the noise level behind them."""
    options = architecture["options"]
    probabilities = "/".join(f"{p:.2f}" for p in architecture["probabilities"].values())
    return (
        f"{architecture['net']} width {options['width']} (depth {options['depth']}, "
        f"{options['upsample']}); P(width {'/'.join(architecture['probabilities'])}) = "
        f"{probabilities}; σ̂ = {architecture['features']['noise_sigma']:.1f}"
    )


def criterion_options(items: list[str], used: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Parse ``NAME.KEY=VALUE`` items into ``{name: {key: value}}``, each checked against the
    options its criterion declares (:func:`autodip.stopping.base.check_criterion_options`) and
    converted to their types; with ``used``, a criterion that is not in the run is refused too.
    """
    from autodip.stopping import list_criteria
    from autodip.stopping.base import check_criterion_options

    known = list_criteria()
    texts: dict[str, dict[str, str]] = {}
    for item in items:
        head, sep, text = item.partition("=")
        name, dot, key = head.partition(".")
        if not (sep and dot and name and key):
            raise UsageError(f"--criterion-option wants NAME.KEY=VALUE, got {item!r}")
        if name not in known:
            from difflib import get_close_matches

            close = get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"--criterion-option {item}: unknown criterion {name!r}{hint}")
        if used is not None and name not in used:
            raise UsageError(
                f"--criterion-option {item}: {name} is not in this run (stopping: "
                f"{', '.join(used) or 'none'}); add it with --stop {name} or --monitor {name}"
            )
        texts.setdefault(name, {})[key] = text
    try:
        return {name: check_criterion_options(name, given) for name, given in texts.items()}
    except ValueError as error:
        raise UsageError(f"--criterion-option: {error}") from None


class Termination:
    """SIGTERM handled as Ctrl-C while the CLI runs a command (a context manager).

    Batch schedulers (SLURM), container stops and ``timeout`` end a process with SIGTERM, which by
    default kills it on the spot and loses the run. Inside this context the first SIGTERM raises
    :class:`KeyboardInterrupt` in the main thread instead, so the run ends as on Ctrl-C: the
    estimate so far is written and marked interrupted, and the last checkpoint is kept. Further
    SIGTERMs are ignored so that they do not cut that writing short. On exit the previous handler
    is restored. Only the CLI installs it: the library leaves signals to its caller.
    """

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None
        self._installed = False

    @property
    def what(self) -> str:
        """How the command was stopped, for messages."""
        return "terminated (SIGTERM)" if self.received else "interrupted"

    def __enter__(self) -> Termination:
        self.received = False
        if threading.current_thread() is threading.main_thread():  # where Python runs handlers
            self._previous = signal.signal(signal.SIGTERM, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.received:
            self.received = True
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._installed:  # None: a handler not set from Python; the default is the best guess
            previous = signal.SIG_DFL if self._previous is None else self._previous
            signal.signal(signal.SIGTERM, previous)
            self._installed = False


#: The CLI's SIGTERM handling; ``TERMINATION.received`` says whether the running command got one.
TERMINATION = Termination()
