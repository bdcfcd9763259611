"""Run a sweep's jobs: skip the cached ones, run the rest serially, in local processes, or on Ray.

The cache is one gzip-compressed JSON file per job, named by :attr:`Job.key` and written
atomically, so a sweep can be killed at any moment and continued: rerunning skips what is done.
With ``workers = N > 1`` the jobs run in ``N`` spawned processes, each limited to
``cores // N`` torch threads so that the cores are not oversubscribed. An interruption
(:class:`KeyboardInterrupt`: Ctrl-C, or the SIGTERM the command line turns into one) stops such a
sweep at once: the jobs not started are cancelled, the worker processes are ended, every job that
had finished is in the cache, and the interruption goes on to the caller. ``backend="ray"`` sends
the same jobs to a Ray cluster, ``workers`` at once on each node (:mod:`autodip.bench.ray_backend`:
``pip install 'autodip[ray]'``; ``address`` of the cluster, or a local instance when omitted).
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from autodip.bench.provenance import usable_cores
from autodip.bench.sweep import Job

#: How often (seconds) the parent of a local pool wakes while it waits for jobs, so that an
#: interruption is raised within that time (:func:`completed`).
WAKE_SECONDS = 0.5


class Cache:
    """Finished jobs on disk: ``folder/<key>.json.gz``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, job: Job) -> Path:
        """Where ``job``'s result lives."""
        return self.folder / f"{job.key}.json.gz"

    def has(self, job: Job) -> bool:
        """Whether ``job`` is done."""
        return self.path(job).exists()

    def load(self, job: Job) -> dict[str, Any]:
        """The stored result of ``job``."""
        with gzip.open(self.path(job), "rt", encoding="utf-8") as handle:
            return json.load(handle)

    def save(self, job: Job, result: dict[str, Any]) -> None:
        """Store ``result`` atomically; the job's partial checkpoint has then served."""
        from autodip.io import replace_atomically
        from autodip.reporting.files import _finite

        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(_finite(result), allow_nan=False)
        replace_atomically(self.path(job), gzip.compress(text.encode(), mtime=0), overwrite=True)
        self.partial(job).unlink(missing_ok=True)

    def partial(self, job: Job) -> Path:
        """Where an unfinished run of ``job`` keeps its checkpoint (``<key>.ckpt``), so that a
        sweep killed mid-run continues it instead of starting it again.
        """
        return self.folder / f"{job.key}.ckpt"


def _ignore_interrupts() -> None:
    """In a worker process: leave Ctrl-C to the parent, which ends the workers itself.

    A terminal sends SIGINT to the whole process group; a worker that took it would cut its job
    short and send back an interruption while the parent is already stopping.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def completed(futures: Iterable[Future[Any]], wake: float = WAKE_SECONDS) -> Iterator[Future[Any]]:
    """Yield ``futures`` as they finish, waking every ``wake`` seconds meanwhile.

    :func:`concurrent.futures.as_completed` blocks the main thread in a lock wait that a signal
    interrupts only when the kernel delivers the signal to that thread. A process-directed SIGINT
    or SIGTERM may go to any thread without it blocked (the pool's manager and feeder threads,
    torch's); Python then runs its handler, and so raises :class:`KeyboardInterrupt`, only when
    the main thread next runs bytecode — after the running job, hours in a sweep. Waking every
    ``wake`` seconds bounds that delay.
    """
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=wake, return_when=FIRST_COMPLETED)
        yield from done


def _run_with_threads(
    job: Job, threads: int, partial: Path | None = None, every: int = 0
) -> dict[str, Any]:
    import torch

    from autodip.bench.run import run_job

    torch.set_num_threads(threads)
    return run_job(job, partial=partial, checkpoint_every=every)


def execute(
    jobs: list[Job],
    cache: Cache,
    *,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    checkpoint_every: int = 0,
    log: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> dict[str, int]:
    """Run every job not yet in ``cache``; return counts of ``run``, ``cached`` and ``failed``.

    A failing job is logged and counted; the others go on. ``workers``: local processes, or with
    ``backend="ray"`` jobs at once on each node of the cluster. ``checkpoint_every`` (local
    backend): each DIP run saves its state every that many steps beside the cache
    (:meth:`Cache.partial`) and continues from it when the sweep is run again.
    """
    pending = []
    for job in jobs:
        if not cache.has(job):
            pending.append(job)
        else:  # perhaps cached by another route (a hard link, a GPU session): nothing to continue
            cache.partial(job).unlink(missing_ok=True)
    counts = {"run": 0, "cached": len(jobs) - len(pending), "failed": 0}
    if not pending:
        return counts
    if backend == "ray":
        from autodip.bench.ray_backend import execute_on_ray

        return execute_on_ray(pending, cache, counts, log, workers=workers, address=address)
    threads = max(1, usable_cores() // max(1, workers))
    if backend != "local":
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    if workers <= 1:
        for index, job in enumerate(pending, 1):
            log(f"[{index}/{len(pending)}] {job.name}")
            try:
                result = _run_with_threads(job, threads, cache.partial(job), checkpoint_every)
                cache.save(job, result)
                counts["run"] += 1
            except KeyboardInterrupt:
                raise
            except Exception as error:
                counts["failed"] += 1
                log(f"failed: {job.name}: {type(error).__name__}: {error}")
        return counts
    return _execute_pool(pending, cache, workers, threads, counts, log, checkpoint_every)


def _execute_pool(
    pending: list[Job],
    cache: Cache,
    workers: int,
    threads: int,
    counts: dict[str, int],
    log: Callable[[str], None],
    every: int = 0,
) -> dict[str, int]:
    """Run ``pending`` in ``workers`` spawned processes; an interruption ends them at once."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_ignore_interrupts
    )
    futures: dict[Future[dict[str, Any]], Job] = {}
    try:
        futures = {
            pool.submit(_run_with_threads, job, threads, cache.partial(job), every): job
            for job in pending
        }
        for index, future in enumerate(completed(futures), 1):
            job = futures[future]
            try:
                cache.save(job, future.result())
                counts["run"] += 1
                log(f"[{index}/{len(pending)}] done: {job.name}")
            except Exception as error:
                counts["failed"] += 1
                log(f"failed: {job.name}: {type(error).__name__}: {error}")
    except BaseException:  # KeyboardInterrupt (Ctrl-C, SIGTERM) or a failure of the parent
        _stop_pool(pool)
        _keep_finished(futures, cache)
        raise
    pool.shutdown()
    return counts


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the jobs not started and end the running ones, without waiting for them.

    :meth:`ProcessPoolExecutor.shutdown` waits for running jobs (hours, in a sweep), so the
    workers are terminated (SIGTERM, then SIGKILL after a grace period). Before Python 3.14's
    ``terminate_workers`` the pool has no public handle on its processes.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def _keep_finished(futures: dict[Future[dict[str, Any]], Job], cache: Cache) -> None:
    """Store the results that arrived but were not saved yet when the sweep was interrupted."""
    for future, job in futures.items():
        if not future.done() or future.cancelled() or future.exception() is not None:
            continue
        if not cache.has(job):
            cache.save(job, future.result())
