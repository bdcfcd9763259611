"""Run a sweep's jobs on Ray: ``autodip bench run --backend ray [--address HOST:PORT]``.

Each job is one Ray task (Moritz et al., *Ray: A Distributed Framework for Emerging AI
Applications*, OSDI 2018). The cluster is ``address`` (``HOST:PORT``; ``auto``: the one started on
this machine with ``ray start``), else the one ``RAY_ADDRESS`` names, else a local instance that
is started for the sweep and stopped at its end. (Ray's own default would also look for a cluster
started here before, and keep retrying, over a minute here, on one that has gone.) A caller
already connected (:func:`ray.is_initialized`) keeps its connection.

What a task asks for: ``workers`` jobs run at once on each node, each with ``cpus // workers``
CPUs of the smallest node that has CPUs (so that every task fits on every node) and as many torch
threads; when the cluster has GPUs, a DIP job whose device is not ``cpu`` also asks for
``1 / workers`` of a GPU (Ray hides the GPUs from tasks that ask for none). Baselines never ask
for one.

Where the files are: every node reads the images at the paths the sweep names, so a cluster needs
them at the same absolute path on every node (a shared file system); a relative path is read from
the working folder of the command, wherever the worker was started. Results come back to the
command's machine, which alone writes the cache, one job at a time as each finishes.

Faults: a task whose worker dies (killed, or its node lost) is run again by Ray, up to
:data:`RETRIES` times; a job that still fails, or raises, is logged and counted as failed, and the
others go on. An interruption (:class:`KeyboardInterrupt`: Ctrl-C, or the SIGTERM the command line
turns into one) saves the results that have arrived, cancels the other tasks (ending the workers
that run them) and goes on to the caller; rerunning the sweep runs only what is not cached.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from autodip.bench.sweep import Job

if TYPE_CHECKING:
    from autodip.bench.execute import Cache

#: How many times Ray runs a task again after its worker died (Ray's own default).
RETRIES = 3


def task_resources(nodes: list[dict[str, Any]], workers: int = 1) -> tuple[int, float]:
    """CPUs per task, and the share of a GPU a task that may use one asks for.

    Parameters
    ----------
    nodes
        The cluster's nodes as :func:`ray.nodes` lists them (``"Alive"``, ``"Resources"``).
    workers
        Jobs to run at once on a node.

    Returns
    -------
    cpus, gpus
        ``cpus``: the smallest live node's CPUs (nodes without CPUs, such as a head started with
        ``--num-cpus 0``, left out) divided by ``workers``, at least 1. ``gpus``: ``1 / workers``
        of a GPU (at most 1) when a live node has a GPU, else 0.

    Raises
    ------
    ValueError
        When no live node has a CPU.

    Examples
    --------
    >>> laptop = {"Alive": True, "Resources": {"CPU": 8.0}}
    >>> task_resources([laptop], workers=3)
    (2, 0.0)
    >>> gpu = {"Alive": True, "Resources": {"CPU": 16.0, "GPU": 1.0}}
    >>> task_resources([laptop, gpu], workers=2)
    (4, 0.5)
    """
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive", True)]
    cpus = [r["CPU"] for r in alive if r.get("CPU", 0) >= 1]
    if not cpus:
        raise ValueError("the Ray cluster has no live node with a CPU")
    workers = max(1, workers)
    has_gpu = any(r.get("GPU", 0) > 0 for r in alive)
    return max(1, int(min(cpus)) // workers), min(1.0, 1 / workers) if has_gpu else 0.0


def run_task(job: Job, threads: int, root: str) -> dict[str, Any]:
    """On a Ray worker: run ``job`` with ``threads`` torch threads, reading from ``root``."""
    import torch

    from autodip.bench.run import run_job

    torch.set_num_threads(threads)
    return run_job(job, root)


def execute_on_ray(
    pending: list[Job],
    cache: Cache,
    counts: dict[str, int],
    log: Callable[[str], None],
    *,
    workers: int = 1,
    address: str | None = None,
) -> dict[str, int]:
    """Run ``pending`` as Ray tasks, saving each result in ``cache`` as it arrives.

    Parameters
    ----------
    pending
        The jobs not in the cache yet.
    cache
        Where each finished job's result is stored (by this process only).
    counts
        ``run``, ``cached`` and ``failed`` so far; updated and returned.
    log
        Receives one line per finished or failed job.
    workers
        Jobs at once on each node (see :func:`task_resources`).
    address
        The cluster (``HOST:PORT``, or ``auto``); ``None``: ``RAY_ADDRESS``, else a local
        instance for this sweep.

    Returns
    -------
    dict
        ``counts``, updated.
    """
    ray = _import_ray()
    with _connected(ray, address):
        cpus, gpus = task_resources(ray.nodes(), workers)
        remote, root = ray.remote(run_task), os.getcwd()
        refs = {
            remote.options(
                num_cpus=cpus, num_gpus=gpus if _may_use_gpu(job) else 0, max_retries=RETRIES
            ).remote(job, cpus, root): job
            for job in pending
        }
        waiting = list(refs)
        try:
            for index in range(1, len(refs) + 1):
                done, waiting = ray.wait(waiting, num_returns=1)
                job = refs[done[0]]
                if _store(ray, done[0], job, cache, counts, log):
                    log(f"[{index}/{len(refs)}] done: {job.name}")
        except BaseException:  # KeyboardInterrupt (Ctrl-C, SIGTERM) or a failure of this process
            _stop(ray, list(refs), refs, cache)
            raise
    return counts


def _import_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the Ray backend needs Ray: pip install 'ray>=2' (or autodip[ray])"
        ) from None
    return ray


@contextmanager
def _connected(ray: Any, address: str | None) -> Iterator[None]:
    """Inside: connected to Ray; a local instance started here is stopped on the way out.

    :func:`ray.init` replaces the SIGTERM handler (with one that exits at once); the caller's is
    put back, so that the command line still turns a SIGTERM into an orderly interruption.
    """
    if ray.is_initialized():  # the caller's own connection: used, left open
        yield
        return
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGTERM) if main else None
    try:
        ray.init(
            address=address or os.environ.get("RAY_ADDRESS") or "local",
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    except ConnectionError as error:  # a wrong --address, or no cluster where RAY_ADDRESS says
        raise ValueError(f"cannot reach the Ray cluster: {_reason(error)}") from None
    finally:
        if main:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if handler is None else handler)
    try:
        yield
    finally:
        ray.shutdown()


def _may_use_gpu(job: Job) -> bool:
    return job.kind != "baseline" and job.device != "cpu"


def _store(
    ray: Any,
    ref: Any,
    job: Job,
    cache: Cache,
    counts: dict[str, int],
    log: Callable[[str], None],
) -> bool:
    """Save the result of a finished task and say so, or count and log its failure."""
    try:
        result = ray.get(ref)
    except Exception as error:  # the job raised, or its worker died more than RETRIES times
        counts["failed"] += 1
        log(f"failed: {job.name}: {_reason(error)}")
        return False
    cache.save(job, result)
    counts["run"] += 1
    return True


def _reason(error: BaseException) -> str:
    """One line: the job's own exception where Ray wrapped one, without Ray's traceback."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    first = str(error).strip().splitlines()
    return f"{type(error).__name__}: {first[0] if first else ''}".rstrip(": ")


def _stop(ray: Any, tasks: list[Any], refs: dict[Any, Job], cache: Cache) -> None:
    """Keep the results that arrived and are not saved yet; cancel the other tasks.

    A forced cancel ends the worker that runs the task: a sweep's job can run for hours.
    """
    finished, running = ray.wait(tasks, num_returns=len(tasks), timeout=0)
    for ref in finished:
        job = refs[ref]
        try:
            result = ray.get(ref, timeout=0)
        except Exception:  # a failure: nothing to keep
            continue
        if not cache.has(job):
            cache.save(job, result)
    for ref in running:
        ray.cancel(ref, force=True)
