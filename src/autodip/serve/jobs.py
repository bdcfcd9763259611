"""The jobs of ``autodip serve``: what a job asks, its state and events, the queue that runs them.

A job runs through :func:`autodip.api.restore`, the call the command line makes, with three hooks
(:class:`RunWatch`): a *monitor* (handed each run as it sets up, then called at every monitored
step) that streams the history, the criteria's scores and, every few seconds, the current
estimate; an ``on_step`` callback that streams the step, speed and time left and, when the page
asks to stop, raises ``KeyboardInterrupt`` after the step, so the run ends as on Ctrl-C
(:meth:`autodip.core.run.Run.run`: the best estimate so far, ``interrupted=True``); and a
checkpoint (:class:`WatchedCheckpoint`) that writes the run's state at that step, so that
"continue" resumes it exactly where it stopped (:mod:`autodip.core.checkpoint`).

A large image is denoised in tiles as on the command line
(:meth:`autodip.defaults.TaskDefaults.tile_for`), one run per tile; the estimate shown is the
input with the tiles restored so far pasted in. A tiled job saves no state: stopping it keeps
the tiles done and the current tile's best estimate, and it cannot be continued.

One :class:`JobQueue` per server runs the jobs one at a time on the server's device, in a worker
thread; a job that fails (a bad option, out of memory, a bug) ends in the ``failed`` state with its
message, and the queue goes on.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autodip.core.checkpoint import Checkpointing
from autodip.defaults import SEED
from autodip.errors import JobCancelledError, JobStateError
from autodip.serve.media import Upload, masked_png, to_png

LOG = logging.getLogger("autodip.serve")

#: The tasks, as the command line names them.
TASKS = ("denoise", "inpaint", "sr")
#: Super-resolution factors the page offers.
SR_FACTORS = range(2, 9)
#: A job's states; the last four are final (a ``stopped`` job can be continued).
STATES = ("queued", "running", "stopping", "done", "stopped", "failed", "cancelled")
FINAL = frozenset(STATES[3:])
#: Seconds between two progress events, and between two estimates sent to the page.
PROGRESS_SECONDS = 0.25
PREVIEW_SECONDS = 2.0
#: Steps between two saves of an ensemble member's state (a single run saves only when stopped).
ENSEMBLE_CHECKPOINT_EVERY = 200


@dataclass(frozen=True)
class JobOptions:
    """What a job asks: the task and the command line's options (``None``: the task's default).

    ``stop`` is a criterion name, ``"none"`` (run the whole budget) or ``None`` (the task's
    default criterion, as without ``--stop``).
    """

    task: str
    factor: int = 2
    net: str | None = None
    width: int | None = None
    stop: str | None = None
    patience: int | None = None
    iters: int | None = None
    seed: int = SEED
    ensemble: int | None = None
    ensemble_transforms: str = "none"
    #: ``"auto"``: a large image is denoised in tiles as on the command line; ``"none"``: it is
    #: fitted whole (``--no-tile``).
    tiling: str = "auto"

    def check(self, channels: int) -> None:
        """Refuse (``ValueError``, one line) what the run would refuse, before it is queued."""
        from autodip.nets import list_nets

        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        if self.task == "sr" and self.factor not in SR_FACTORS:
            raise ValueError(f"the super-resolution factor must be 2 to 8, got {self.factor}")
        nets = list_nets()
        if self.net is not None and self.net != "auto" and self.net not in nets:
            raise ValueError(f"unknown network {self.net!r}; choose from auto, {', '.join(nets)}")
        if self.tiling not in ("auto", "none"):
            raise ValueError(f"tiling is 'auto' or 'none', got {self.tiling!r}")
        if self.net == "auto" and self.width is not None:
            raise ValueError("the network 'auto' chooses its width itself; leave width empty")
        if self.stop not in (None, "none"):
            _check_criterion(self.stop, self.task, channels)
        from autodip.core.ensemble import check_size

        check_size(1 if self.ensemble is None else self.ensemble, self.ensemble_transforms)

    def stop_argument(self) -> dict[str, Any]:
        """``restore``'s ``stop`` argument: absent for the task's default."""
        if self.stop is None:
            return {}
        return {"stop": None if self.stop == "none" else self.stop}

    def _default_ensemble(self) -> int:
        """The task's default members (the command line's without ``--ensemble``)."""
        from autodip.defaults import TASK_DEFAULTS

        return TASK_DEFAULTS[self.task].ensemble

    def tile_for(self, height: int, width: int) -> int | None:
        """The tile side a ``height × width`` upload is restored in, as on the command line:
        the task's (:meth:`~autodip.defaults.TaskDefaults.tile_for`) unless the job asks for the
        image whole (``tiling="none"``), for an ensemble of more than one run or for transforms,
        which fit the image whole.
        """
        from autodip.defaults import TASK_DEFAULTS

        if self.tiling == "none":
            return None
        if (self.ensemble or 1) > 1 or self.ensemble_transforms != "none":
            return None
        return TASK_DEFAULTS[self.task].tile_for(height, width)

    def members(self, tile: int | None = None) -> int:
        """How many runs the job averages: one per tile when it is ``tile``d."""
        if self.ensemble is None:
            return 1 if tile is not None else self._default_ensemble()
        return self.ensemble

    def argv(self, name: str) -> list[str]:
        """The command line that would run the same restoration (for the report)."""
        from autodip.defaults import TASK_DEFAULTS

        argv = ["autodip", self.task, name]
        if self.task == "inpaint":
            argv += ["--mask", "(painted in autodip serve)"]
        flags = {
            "--factor": self.factor if self.task == "sr" else None,
            "--net": self.net,
            "--width": self.width,
            "--stop": self.stop,
            "--patience": self.patience,
            "--iters": self.iters,
            "--seed": self.seed if self.seed != SEED else None,
            "--ensemble": self.ensemble if self.ensemble != self._default_ensemble() else None,
            "--ensemble-transforms": (
                self.ensemble_transforms if self.ensemble_transforms != "none" else None
            ),
        }
        for flag, value in flags.items():
            if value is not None:
                argv += [flag, str(value)]
        if self.tiling == "none" and TASK_DEFAULTS[self.task].auto_tile:
            argv.append("--no-tile")
        return argv


def _check_criterion(name: str, task: str, channels: int) -> None:
    from autodip.stopping import list_criteria

    known = list_criteria()
    if name not in known:
        raise ValueError(f"unknown criterion {name!r}; choose from none, {', '.join(known)}")
    criterion = known[name]
    if criterion.needs_reference:
        raise ValueError(f"the criterion {name} needs a clean reference image (benchmarks only)")
    if criterion.tasks is not None and task not in criterion.tasks:
        raise ValueError(f"the criterion {name} applies to {', '.join(criterion.tasks)} only")
    if criterion.channels is not None and channels not in criterion.channels:
        raise ValueError(
            f"the criterion {name} scores images of {' or '.join(map(str, criterion.channels))} "
            f"channels, not {channels}; choose emv or wmv"
        )


@dataclass(frozen=True)
class Event:
    """One message to the page: its number in the job's stream, kind and data."""

    index: int
    kind: str
    data: dict[str, Any]


class Job:
    """One restoration: its upload, options, state, events and files.

    Events (kinds): ``status`` (the state changed), ``progress`` (step, speed, time left),
    ``point`` (a monitored step: loss, residual, new criterion scores), ``estimate`` (a new
    estimate to fetch), ``member`` (an ensemble's next member starts: its steps count from 1
    again), ``tile`` (a tiled job's next tile starts: the same, with where the tile is),
    ``done`` (the outcome) and ``error`` (why it failed).
    """

    def __init__(
        self, job_id: str, upload: Upload, options: JobOptions, mask: Any, folder: Path
    ) -> None:
        self.id = job_id
        self.upload = upload
        self.options = options
        self.mask = mask
        self.folder = folder
        self.state = "queued"
        self.message = ""
        self.events: list[Event] = []
        self.progress: dict[str, Any] = {}
        self.outcome: dict[str, Any] = {}
        self.stop_requested = threading.Event()
        self.cancel_requested = False
        self.resume = False
        self.tile = options.tile_for(*upload.pixels.shape[1:])
        self.input_png = (
            upload.preview if mask is None else masked_png(upload.pixels, upload.display, mask)
        )
        self.estimate_png: bytes | None = None
        self.result_png: bytes | None = None
        self.result_path: Path | None = None
        self.report_path: Path | None = None
        self._lock = threading.RLock()

    @property
    def checkpoint_path(self) -> Path:
        """Where the run's state is saved when the page stops it (for "continue"); an
        ensemble's members save beside it (``run.member2.ckpt``).
        """
        return self.folder / "run.ckpt"

    def drop_checkpoints(self) -> None:
        """Remove the run's (and its members') saved states."""
        for path in self.folder.glob("run*.ckpt"):
            path.unlink(missing_ok=True)

    @property
    def size(self) -> list[int]:
        """The result's width and height (super-resolution: the input's times the factor)."""
        factor = self.options.factor if self.options.task == "sr" else 1
        _, height, width = self.upload.pixels.shape
        return [width * factor, height * factor]

    @property
    def start_note(self) -> str:
        """What the page is told as the job starts running (empty: nothing to say)."""
        if self.resume:
            return "continuing"
        if self.tile is None:
            return ""
        width, height = self.size
        return (
            f"{width}×{height} pixels: denoised in tiles of {self.tile}², one run per tile "
            "(as on the command line)"
        )

    @property
    def finished(self) -> bool:
        """Whether the job is in a final state."""
        return self.state in FINAL

    @property
    def can_continue(self) -> bool:
        """Whether "continue" can resume the run: stopped from the page, its state saved."""
        return self.state == "stopped" and any(self.folder.glob("run*.ckpt"))

    def emit(self, kind: str, **data: Any) -> None:
        """Append an event for the page."""
        with self._lock:
            self.events.append(Event(len(self.events), kind, data))

    def events_after(self, index: int) -> list[Event]:
        """The events from number ``index`` on."""
        with self._lock:
            return self.events[max(index, 0) :]

    def set_state(
        self, state: str, message: str = "", only_from: frozenset[str] | None = None
    ) -> bool:
        """Change the state and tell the page; with ``only_from``, only from one of those states
        (checked and changed at once: the worker thread may be ending the job meanwhile).
        """
        with self._lock:
            if only_from is not None and self.state not in only_from:
                return False
            self.state, self.message = state, message
            self.emit("status", state=state, message=message, can_continue=self.can_continue)
            return True

    def set_estimate(self, png: bytes, step: int) -> None:
        """Keep the latest estimate's PNG and tell the page there is a new one."""
        self.estimate_png = png
        self.emit("estimate", step=step)

    def summary(self) -> dict[str, Any]:
        """The job as the page's queue lists it."""
        return {
            "id": self.id,
            "name": self.upload.name,
            "upload": self.upload.id,
            "task": self.options.task,
            "size": self.size,
            "state": self.state,
            "message": self.message,
            "step": self.progress.get("step"),
            "limit": self.progress.get("limit"),
            "can_continue": self.can_continue,
            "outcome": self.outcome,
        }


def _finite(value: float | None) -> float | None:
    """``value``, or ``None`` for NaN and infinities (JSON has neither)."""
    return value if value is not None and math.isfinite(value) else None


class RunWatch:
    """The hooks of one run of a job: stream its progress, stop it when asked.

    Parameters
    ----------
    job
        The job whose events receive the run's progress.
    preview_every, progress_every
        Seconds between two estimates sent, and between two progress events.
    """

    def __init__(
        self,
        job: Job,
        preview_every: float = PREVIEW_SECONDS,
        progress_every: float = PROGRESS_SECONDS,
    ) -> None:
        self.job = job
        self.preview_every = preview_every
        self.progress_every = progress_every
        self.run: Any = None
        self.sent_step = 0
        self.first_step: int | None = None
        self.started = time.perf_counter()
        self.last_progress = -math.inf
        self.last_preview = -math.inf
        self.canvas: np.ndarray | None = None  # a tiled job's image, restored tiles pasted in
        self.piece: Any = None  # the tile that runs

    def on_start(self, run: Any) -> None:
        """Called as a run has set up (each member of an ensemble and each tile is a run): the
        run whose criteria and budget the hooks read, fresh or resumed (``run.state.step``).
        """
        self.run, self.sent_step, self.first_step = run, run.state.step, None

    def on_member(self, member: Any, count: int) -> None:
        """Before each member of an ensemble: tell the page which one runs (or end the run
        here if asked: :meth:`next_run`).
        """
        self.next_run(first=member.index == 0)
        self.job.emit("member", **member.to_dict(), count=count)

    def next_run(self, first: bool) -> None:
        """Between two runs of a job (members, tiles): cancel, or stop (``KeyboardInterrupt``)
        with the runs done, if the page asked; the next run's first step is not awaited, since
        its estimate after one step would be noise. The first run always starts: a stop before
        it ends the run after its first step, as a stop does anywhere else.
        """
        if self.job.cancel_requested:
            raise JobCancelledError
        if self.stopping and not first:
            raise KeyboardInterrupt

    def on_tile(self, index: int, count: int) -> None:
        """Before each tile of a tiled job (``index`` from 1): tell the page which one runs and
        where; the estimates shown from now on paste this tile's into the image.
        """
        from autodip.core.tiling import default_overlap, plan_tiles

        self.next_run(first=index == 1)
        tile, size = self.job.tile, self.job.upload.pixels.shape[1:]
        assert tile is not None, "only a tiled job has tiles"
        piece = plan_tiles(*size, tile, default_overlap(tile))[index - 1]
        if self.canvas is None:
            self.canvas = self.job.upload.pixels.astype(np.float32).clip(0, 1)
        self.piece = piece
        where = {"top": piece.top, "left": piece.left, "height": piece.height, "width": piece.width}
        self.job.emit("tile", tile=index, count=count, **where)

    @property
    def stopping(self) -> bool:
        """Whether the page asked the run to stop (or to be cancelled)."""
        return self.job.stop_requested.is_set()

    def __call__(self, report: Any) -> None:
        """The monitor: at a monitored step send its history record, new criterion scores,
        maybe the estimate. Never stops the run (``None``).
        """
        history = self.run.state.history if self.run is not None else []
        record = history[-1] if history else {"step": report.step, "loss": report.loss}
        self.job.emit(
            "point",
            step=report.step,
            loss=_finite(record.get("loss")),
            residual=_finite(record.get("residual")),
            criteria=self._new_scores(),
        )
        self.sent_step = report.step
        now = time.perf_counter()
        if now - self.last_preview >= self.preview_every:
            self.last_preview = now
            pixels = report.estimate[0].detach().float().clamp(0, 1).cpu().numpy()
            if self.canvas is not None:  # a tile: shown in its place in the image
                piece = self.piece
                if pixels.shape[1:] == (piece.height, piece.width):  # not a padded thin tile
                    self.canvas[:, piece.rows, piece.cols] = pixels
                pixels = self.canvas
            self.job.set_estimate(to_png(pixels, self.job.upload.display), report.step)

    def _new_scores(self) -> dict[str, Any]:
        """Each criterion's scores since the last monitored step, its candidate step so far."""
        stopper = getattr(self.run, "stopper", None)
        if stopper is None:
            return {}
        found = {}
        for index, track in enumerate(stopper.tracks):
            start = len(track.steps)
            while start > 0 and track.steps[start - 1] > self.sent_step:
                start -= 1
            found[track.criterion.name] = {
                "steps": track.steps[start:],
                "scores": [_finite(s) for s in track.scores[start:]],
                "candidate": track.rule.best_step,
                "primary": index == 0 and stopper.primary is not None,
                "lower_is_better": track.criterion.lower_is_better,
            }
        return found

    def on_step(self, step: int, loss: float) -> None:
        """After every step: the progress event (now and then); stop or cancel when asked."""
        now = time.perf_counter()
        if self.first_step is None:  # the speed counts from here: setup and resuming are not steps
            self.first_step, self.started = step, now
            self.sent_step = max(self.sent_step, step - 1)
        limit = int(self.run.budget.limit) if self.run is not None else step
        if now - self.last_progress >= self.progress_every:
            self.last_progress = now
            self._send_progress(step, limit, loss, now)
        if self.job.cancel_requested:
            raise JobCancelledError
        if self.stopping and step < limit:
            raise KeyboardInterrupt  # the run ends as on Ctrl-C, with its best estimate so far

    def finish(self, iterations: int) -> None:
        """The last progress event, for the step the run ended at (progress is sent now and then,
        so the last one sent may be some steps earlier).
        """
        if self.run is not None:
            loss = self.run.state.loss_value
            self._send_progress(iterations, int(self.run.budget.limit), loss, time.perf_counter())

    def _send_progress(self, step: int, limit: int, loss: float, now: float) -> None:
        steps = step - (self.first_step or step)
        rate = steps / (now - self.started) if steps > 0 and now > self.started else None
        elapsed = now - self.run.start if self.run is not None else now - self.started
        self.job.progress = {
            "step": step,
            "limit": limit,
            "cap": int(getattr(self.run.budget, "cap", limit)) if self.run is not None else limit,
            "rate": rate,
            "elapsed": elapsed,
            "left": (limit - step) / rate if rate else None,
            "loss": _finite(loss),
        }
        self.job.emit("progress", **self.job.progress)


@dataclass(frozen=True)
class WatchedCheckpoint(Checkpointing):
    """A :class:`~autodip.core.checkpoint.Checkpointing` that also serves a :class:`RunWatch`.

    It saves the run's state at the step where the page asked to stop, so that "continue"
    resumes from exactly that step.
    """

    watch: RunWatch | None = field(default=None, compare=False, repr=False)

    def due(self, step: int, max_iters: int) -> bool:
        """Save at the step where a stop was asked for, and as the settings say."""
        watch = self.watch
        return bool(watch is not None and watch.stopping and not watch.job.cancel_requested) or (
            super().due(step, max_iters)
        )


def describe_error(error: BaseException) -> str:
    """One line for the page about why a run failed."""
    from autodip.errors import CheckpointError, InsufficientMemoryError

    if isinstance(error, KeyError):
        return str(error.args[0]) if error.args else "KeyError"
    name = type(error).__name__
    if name == "OutOfMemoryError":  # torch.cuda's
        first = str(error).splitlines()[0] if str(error) else ""
        return f"out of GPU memory ({first}); try a smaller width or `autodip serve --device cpu`"
    known = (ValueError, TypeError, InsufficientMemoryError, CheckpointError, FloatingPointError)
    if isinstance(error, known):
        return str(error)
    return f"{name}: {error}"


def run_job(job: Job, device: str, precision: str) -> None:
    """Run ``job`` to its end: write the result and report, or record why it failed."""
    watch = RunWatch(job)
    started = time.perf_counter()
    try:
        result = _restore(job, watch, device, precision)
    except JobCancelledError:
        job.drop_checkpoints()
        job.set_state("cancelled", "cancelled while running")
        return
    except (Exception, KeyboardInterrupt) as error:  # the server outlives any failure of a run
        LOG.exception("job %s failed", job.id)
        message = describe_error(error).replace(str(job.folder), "<job>")
        job.emit("error", message=message)
        job.set_state("failed", message)
        return
    try:
        watch.finish(_last_run_steps(result))
        settle(job, result, time.perf_counter() - started)
    except Exception as error:
        LOG.exception("job %s: writing its files failed", job.id)
        message = f"the run ended but its files could not be written: {describe_error(error)}"
        job.emit("error", message=message)
        job.set_state("failed", message)


def _last_run_steps(result: Any) -> int:
    """The steps of the run that ended the job: the last member's, the last tile's, or its own."""
    if result.members:
        return int(result.members[-1].iterations)
    tiles = result.config.get("tiles")
    return int(tiles[-1]["iterations"]) if tiles else int(result.iterations)


def _operator(job: Job) -> Any:
    from autodip.physics.operators import Denoise, Inpaint, SuperResolve

    if job.options.task == "sr":
        return SuperResolve(job.options.factor)
    if job.options.task == "inpaint":
        return Inpaint(job.mask)
    return Denoise()


def _restore(job: Job, watch: RunWatch, device: str, precision: str) -> Any:
    """:func:`autodip.api.restore` with the job's options and the watch's hooks."""
    from autodip.api import restore

    options = job.options
    # an ensemble's members also save now and then, so that "continue" finds the finished ones
    # near their stop (they replay the last steps to it) instead of running them again
    every = ENSEMBLE_CHECKPOINT_EVERY if options.members(job.tile) > 1 else 0
    checkpoint = WatchedCheckpoint(job.checkpoint_path, every=every, resume=job.resume, watch=watch)
    tiling = {"tile": job.tile, "on_tile": watch.on_tile} if job.tile is not None else {}
    return restore(
        job.upload.pixels,
        _operator(job),
        net=options.net,
        iters=options.iters,
        seed=options.seed,
        device=device,
        precision=precision,
        patience=options.patience,
        monitors=[watch],
        on_step=watch.on_step,
        checkpoint=None if job.tile is not None else checkpoint,  # tiles save no state
        width=options.width,
        **options.stop_argument(),
        ensemble=options.ensemble,  # None: the task's default
        ensemble_transforms=options.ensemble_transforms,
        on_member=watch.on_member,
        **tiling,
    )


def settle(job: Job, result: Any, seconds: float) -> None:
    """Write the result (the input's format and bit depth), its preview and the report."""
    from autodip.io import ImageWriteError, write_image
    from autodip.reporting.files import environment
    from autodip.reporting.record import InputRecord, RunRecord, write_report

    upload, pixels = job.upload, result.pixels
    target = job.folder / upload.output_name
    note = ""
    try:
        written = write_image(target, pixels, upload.info, overwrite=True)
    except ImageWriteError as error:  # keep the result in a format that holds anything
        written = write_image(target.with_suffix(".npy"), pixels, upload.info, overwrite=True)
        note = f" (written as .npy: {error})"
    job.result_path = written
    job.result_png = to_png(pixels, upload.display)
    record = RunRecord(
        command=job.options.task,
        argv=job.options.argv(upload.name),
        input=InputRecord.read(Path(upload.name), upload.pixels, upload.info),
        output=written.name,
        reference=None,
        result=result,
        environment=environment(),
        total_seconds=seconds,
        architecture=result.config.get("architecture"),
    )
    net = result.config.get("net", {}).get("name", job.options.net or "hourglass")
    write_report(job.folder / "report", record, upload.pixels, pixels, None, net)
    job.report_path = job.folder / "report" / "report.html"
    if not result.interrupted:
        job.drop_checkpoints()
    job.outcome = _outcome(result, record, written.name)
    job.emit("done", **job.outcome)
    job.set_state("stopped" if result.interrupted else "done", result.reason + note)


def _outcome(result: Any, record: Any, name: str) -> dict[str, Any]:
    return {
        "reason": result.reason,
        "interrupted": result.interrupted,
        "iterations": result.iterations,
        "run_steps": _last_run_steps(result),  # the last member's or tile's, as the curves show
        "stop_step": result.stop_step,
        "seconds": result.seconds,
        "underfitted": result.underfitted,
        "summary": record.summary(),
        "result_name": name,
        "candidates": {n: c.get("candidate_step") for n, c in result.criteria.items()},
    }


class JobQueue:
    """The server's jobs, run one at a time on ``device`` by a worker thread.

    Parameters
    ----------
    folder
        The server's temporary folder; each job gets a folder inside it.
    device, precision
        Where and how every job runs (:class:`autodip.core.run.FitConfig`).
    """

    def __init__(self, folder: Path, device: str = "auto", precision: str = "auto") -> None:
        self.folder = folder
        self.device = device
        self.precision = precision
        self.jobs: dict[str, Job] = {}
        self.running: Job | None = None
        self._pending: deque[Job] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._count = 0
        self._thread = threading.Thread(target=self._work, name="autodip-serve-jobs", daemon=True)
        self._thread.start()

    def submit(self, upload: Upload, options: JobOptions, mask: np.ndarray | None) -> Job:
        """Queue a new job (its options already checked) and return it."""
        with self._condition:
            if self._closed:
                raise JobStateError("the server is shutting down")
            self._count += 1
            job_id = f"{self._count}"
            folder = self.folder / f"job-{job_id}"
            folder.mkdir(parents=True)
            job = Job(job_id, upload, options, mask, folder)
            self.jobs[job_id] = job
            job.set_state("queued", self._waiting_message())
            self._pending.append(job)
            self._condition.notify_all()
        return job

    def _waiting_message(self) -> str:
        ahead = len(self._pending) + (self.running is not None)
        return f"{ahead} job(s) ahead" if ahead else ""

    def position(self, job: Job) -> int | None:
        """How many jobs run before ``job`` (0: it runs now), ``None`` when it is not waiting."""
        with self._condition:
            if job is self.running:
                return 0
            if job in self._pending:
                return self._pending.index(job) + 1
            return None

    def stop(self, job: Job) -> None:
        """Stop a running job with its best estimate so far (a queued one is cancelled)."""
        with self._condition:
            if job.state == "queued":
                self._cancel_queued(job)
            elif job.state in ("running", "stopping"):
                job.stop_requested.set()
                job.set_state("stopping", "stopping after this step", frozenset({"running"}))
            else:
                raise JobStateError(f"job {job.id} is {job.state}, not running")

    def cancel(self, job: Job) -> None:
        """Remove a queued job, or end a running one without keeping its result."""
        with self._condition:
            if job.state == "queued":
                self._cancel_queued(job)
            elif job.state in ("running", "stopping"):
                job.cancel_requested = True
                job.stop_requested.set()
            else:
                raise JobStateError(f"job {job.id} is {job.state}; there is nothing to cancel")

    def _cancel_queued(self, job: Job) -> None:
        self._pending.remove(job)
        job.set_state("cancelled", "cancelled before it started")

    def resume(self, job: Job) -> None:
        """Queue a job stopped from the page again: its run continues where it stopped."""
        with self._condition:
            if not job.can_continue:
                raise JobStateError(
                    f"job {job.id} is {job.state}; only a run stopped with 'stop now' can continue"
                )
            job.resume, job.cancel_requested = True, False
            job.stop_requested.clear()
            job.set_state("queued", self._waiting_message())
            self._pending.append(job)
            self._condition.notify_all()

    def close(self, timeout: float = 10.0) -> None:
        """Cancel what waits and what runs; wait up to ``timeout`` seconds for the worker."""
        with self._condition:
            self._closed = True
            while self._pending:
                self._cancel_queued(self._pending[0])
            if self.running is not None:
                self.running.cancel_requested = True
                self.running.stop_requested.set()
            self._condition.notify_all()
        self._thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                job = self.running = self._pending.popleft()
                job.set_state("running", job.start_note)
            try:
                run_job(job, self.device, self.precision)
            finally:
                with self._condition:
                    self.running = None
