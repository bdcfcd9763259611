"""Run a sweep's jobs: skip the cached ones, run the rest serially, in local processes, or on Ray.

The cache is one gzip-compressed JSON file per job, named by :attr:`Job.key` and written
atomically, so a sweep can be killed at any moment and continued: rerunning skips what is done.
With ``workers = N > 1`` the jobs run in ``N`` spawned processes, each limited to
``cores // N`` torch threads so that the cores are not oversubscribed. ``backend="ray"`` sends
the same jobs to a Ray cluster (``pip install ray``; ``address`` of the cluster, or a local
instance when omitted).
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from autodip.bench.sweep import Job


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
        """Store ``result`` atomically."""
        from autodip.io import replace_atomically
        from autodip.reporting.files import _finite

        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(_finite(result), allow_nan=False)
        replace_atomically(self.path(job), gzip.compress(text.encode(), mtime=0), overwrite=True)


def _run_with_threads(job: Job, threads: int) -> dict[str, Any]:
    import torch

    from autodip.bench.run import run_job

    torch.set_num_threads(threads)
    return run_job(job)


def execute(
    jobs: list[Job],
    cache: Cache,
    *,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    log: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> dict[str, int]:
    """Run every job not yet in ``cache``; return counts of ``run``, ``cached`` and ``failed``.

    A failing job is logged and counted; the others go on.
    """
    pending = [job for job in jobs if not cache.has(job)]
    counts = {"run": 0, "cached": len(jobs) - len(pending), "failed": 0}
    if not pending:
        return counts
    # the cores this process may use (a taskset or container limit), not the machine's
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    threads = max(1, cores // max(1, workers))
    if backend == "ray":
        return _execute_ray(pending, cache, threads, address, counts, log)
    if backend != "local":
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    if workers <= 1:
        for index, job in enumerate(pending, 1):
            log(f"[{index}/{len(pending)}] {job.name}")
            try:
                cache.save(job, _run_with_threads(job, threads))
                counts["run"] += 1
            except KeyboardInterrupt:
                raise
            except Exception as error:
                counts["failed"] += 1
                log(f"failed: {job.name}: {type(error).__name__}: {error}")
        return counts
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_run_with_threads, job, threads): job for job in pending}
        for index, future in enumerate(as_completed(futures), 1):
            job = futures[future]
            try:
                cache.save(job, future.result())
                counts["run"] += 1
                log(f"[{index}/{len(pending)}] done: {job.name}")
            except Exception as error:
                counts["failed"] += 1
                log(f"failed: {job.name}: {type(error).__name__}: {error}")
    return counts


def _execute_ray(
    pending: list[Job],
    cache: Cache,
    threads: int,
    address: str | None,
    counts: dict[str, int],
    log: Callable[[str], None],
) -> dict[str, int]:
    try:
        import ray
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the Ray backend needs Ray: pip install 'ray>=2' (or autodip[ray])"
        ) from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=threads)(_run_with_threads)
        refs = {remote.remote(job, threads): job for job in pending}
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            job = refs[done[0]]
            try:
                cache.save(job, ray.get(done[0]))
                counts["run"] += 1
                log(f"done: {job.name}")
            except Exception as error:
                counts["failed"] += 1
                log(f"failed: {job.name}: {type(error).__name__}: {error}")
    finally:
        if started_here:
            ray.shutdown()
    return counts
