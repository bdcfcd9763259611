"""``autodip bench run --backend ray`` on a local Ray with 2 CPUs: the process pool's rows; a worker
killed mid-job and an interrupted sweep, each continued from the cache; a sweep stopped by SIGTERM.

The Ray tests skip, saying why, where Ray is not installed (``pip install -e '.[ray]'``; the
``dev`` extra has it). One local Ray serves the in-process tests; the SIGTERM test starts its own,
in the command it stops, as a user's ``autodip bench run --backend ray`` does.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autodip import cli
from autodip.bench import Sweep, ray_backend, run_sweep

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /proc")

SILENT = {"log": lambda text: None}
TIMINGS = ("seconds", "stop_seconds", "iterations_per_second")
SETTINGS = {
    "degradations": ["gaussian:25"],
    "networks": ["hourglass:width=8"],
    "criteria": ["wmv", "emv"],
    "iters": 40,
    "monitor_every": 2,  # EMV scores after 10 samples
    "patience": [10],
    "device": "cpu",
    "precision": "fp32",
}


def _image(path: Path, side: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    base = 0.5 + 0.3 * np.sin(2 * np.pi * (xx + rng.random() * yy))
    rgb = np.stack([base, base[::-1], base.T], axis=-1)
    Image.fromarray((rgb * 255).astype(np.uint8)).save(path)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ray") / "images"
    folder.mkdir()
    for seed, name in enumerate(("a", "b")):
        _image(folder / f"{name}.png", 24, seed)
    return folder


@pytest.fixture(scope="module")
def ray():
    """A local Ray with 2 CPUs for this module's in-process tests, shut down after them."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    handler = signal.getsignal(signal.SIGTERM)
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
        logging_level="warning",
    )  # fmt: skip
    signal.signal(signal.SIGTERM, handler)  # ray.init replaced it
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def pool_rows(images, tmp_path_factory) -> list[dict]:
    """The tiny sweep's rows from the local process pool, the reference for Ray's."""
    out = tmp_path_factory.mktemp("ray") / "pool"
    _, counts = run_sweep(Sweep(images=[str(images)], **SETTINGS), out, workers=2, **SILENT)
    assert counts == {"run": 2, "cached": 0, "failed": 0}
    return _rows(out)


def _rows(folder: Path) -> list[dict]:
    lines = (folder / "rows.jsonl").read_text().splitlines()
    rows = ({k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines)
    return sorted(rows, key=lambda r: (r["image"], r["criterion"], r.get("patience") or 0))


def _assert_same_rows(got: list[dict], expected: list[dict]) -> None:
    """Same jobs and criteria; every number within float32 arithmetic's reach of the pool's."""
    assert len(got) == len(expected) > 0
    for row, reference in zip(got, expected, strict=True):
        assert row.keys() == reference.keys()
        for key, value in reference.items():
            if isinstance(value, float) and isinstance(row[key], float):
                assert math.isclose(row[key], value, rel_tol=1e-6, abs_tol=1e-9), (key, row)
            else:
                assert row[key] == value, (key, row)


def _descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid`` (Linux ``/proc``), with their command lines."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = {}, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            found[child] = (Path(f"/proc/{child}/cmdline").read_bytes() or b"").decode(
                errors="replace"
            )
        except OSError:
            continue
        todo += children.get(child, [])
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_cli_backend_ray_gives_the_process_pool_rows(ray, images, pool_rows, tmp_path, capsys):
    out = tmp_path / "ray"
    argv = ["bench", "run", "--images", str(images), "-o", str(out), "--backend", "ray",
            "--workers", "2", "--noise", "gaussian:25", "--nets", "hourglass:width=8",
            "--criteria", "wmv,emv", "--iters", "40", "--monitor-every", "2", "--patience", "10",
            "--device", "cpu", "--precision", "fp32"]  # fmt: skip
    assert cli.main(argv) == cli.EXIT_OK
    assert "2 runs done, 0 cached, 0 failed" in capsys.readouterr().err
    _assert_same_rows(_rows(out), pool_rows)
    assert ray.available_resources().get("CPU") == 2  # every task returned its CPU


def test_killed_worker_leaves_a_cache_that_a_rerun_completes(
    ray, images, pool_rows, tmp_path, monkeypatch
):
    """With no retry, a job whose worker is killed fails, the other finishes; a rerun runs
    only the failed one. With Ray's retries (the default) the same kill costs nothing."""
    out, sweep = tmp_path / "ray", Sweep(images=[str(images)], **{**SETTINGS, "iters": 300})
    monkeypatch.setattr(ray_backend, "RETRIES", 0)
    killed = _kill_first_task_soon()
    _, counts = run_sweep(sweep, out, backend="ray", workers=2, **SILENT)
    killed.join()
    assert counts == {"run": 1, "cached": 0, "failed": 1}
    (survivor,) = (out / "runs").iterdir()
    stamp = survivor.stat().st_mtime_ns
    _, counts = run_sweep(sweep, out, backend="ray", workers=2, **SILENT)
    assert counts == {"run": 1, "cached": 1, "failed": 0}
    assert survivor.stat().st_mtime_ns == stamp  # read from the cache, not run again

    monkeypatch.undo()
    retried = tmp_path / "retried"
    killed = _kill_first_task_soon()
    _, counts = run_sweep(sweep, retried, backend="ray", workers=2, **SILENT)
    killed.join()
    assert counts == {"run": 2, "cached": 0, "failed": 0}
    assert _rows(retried) == _rows(out)  # iters 300 here: compared with each other


def test_interrupted_sweep_keeps_its_finished_runs_and_a_rerun_completes_it(ray, images, tmp_path):
    """Ctrl-C (here: raised by the log at the first result) saves what arrived, cancels the other
    tasks, and leaves a cache that a rerun completes without running the saved jobs again."""
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes((images / name).read_bytes())
    _image(folder / "c.png", 24, 2)  # two at once: c waits for a or b, then is cancelled
    sweep, out = Sweep(images=[str(folder)], **SETTINGS), tmp_path / "results"

    def interrupt(text: str) -> None:
        if "done" in text:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out, backend="ray", workers=2, log=interrupt)
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU") != 2:  # no task left running
        assert time.monotonic() < deadline, ray.available_resources()
        time.sleep(0.1)
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    assert 1 <= len(kept) < 3
    _, counts = run_sweep(sweep, out, backend="ray", workers=2, **SILENT)
    assert counts == {"run": 3 - len(kept), "cached": len(kept), "failed": 0}
    assert {name: (out / "runs" / name).stat().st_mtime_ns for name in kept} == kept
    assert {r["image"] for r in _rows(out)} == {"a.png", "b.png", "c.png"}


def _kill_first_task_soon() -> threading.Thread:
    """A thread that SIGKILLs the first Ray worker of this process seen running a job."""

    def kill() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = [p for p, cmd in _descendants(os.getpid()).items() if "ray::run_task" in cmd]
            if busy:  # the title is set when the task starts: kill at once, or a quick job
                os.kill(busy[0], signal.SIGKILL)  # could end first (seen on an idle machine)
                return
            time.sleep(0.02)
        raise AssertionError("no Ray worker ran a job")

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow  # about 20 s: a fresh interpreter, torch and Ray started in the command
def test_sigterm_stops_a_ray_sweep_at_once_and_keeps_finished_runs(tmp_path):
    """The command starts its own Ray (``ray.init`` replaces the SIGTERM handler, the backend
    puts the command line's back); a SIGTERM ends it with 143, the two quick runs kept and no Ray
    process left behind."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    folder = tmp_path / "images"
    folder.mkdir()
    for seed, (name, side) in enumerate((("a", 16), ("b", 16), ("c", 512))):
        _image(folder / f"{name}.png", side, seed)  # c: still running at the signal
    out = tmp_path / "results"
    argv = [sys.executable, "-m", "autodip", "bench", "run", "--images", str(folder),
            "-o", str(out), "--backend", "ray", "--workers", "2", "--noise", "gaussian:25",
            "--nets", "hourglass:width=8", "--criteria", "wmv", "--iters", "150",
            "--monitor-every", "50", "--device", "cpu", "--precision", "fp32"]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.Popen(
        argv, stderr=subprocess.PIPE, text=True, start_new_session=True, env=environment
    )
    runs, deadline = out / "runs", time.monotonic() + 180  # a bound; about 15 s here
    while len(list(runs.glob("*.json.gz"))) < 2 and proc.poll() is None:
        assert time.monotonic() < deadline, "the two quick runs did not finish"
        time.sleep(0.05)
    ray_processes = _descendants(proc.pid)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)  # to the command alone, as a scheduler does
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == cli.EXIT_TERMINATED, stderr
    assert time.monotonic() - started < 20, "took too long to stop"
    assert "terminated (SIGTERM)" in stderr and "Traceback" not in stderr, stderr
    assert any("ray::run_task" in cmd for cmd in ray_processes.values()), ray_processes
    time.sleep(1)  # the raylet's last children may take a moment after it
    assert not [p for p in ray_processes if _alive(p)], "Ray processes outlived the sweep"
    kept = sorted(p.name for p in runs.iterdir())
    assert len(kept) == 2 and all(name.endswith(".json.gz") for name in kept)


class _FakeRay:
    """What ``_connected`` uses of Ray; ``init`` replaces the SIGTERM handler as Ray's does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def is_initialized(self) -> bool:
        return False

    def init(self, address: str | None = None, **options: object) -> None:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
        self.calls.append(("init", address))

    def shutdown(self) -> None:
        self.calls.append(("shutdown", None))


@pytest.mark.parametrize(
    ("given", "environment", "used"),
    [(None, None, "local"), (None, "10.0.0.1:6379", "10.0.0.1:6379"), ("auto", "x:1", "auto")],
)
def test_connecting_keeps_the_sigterm_handler_and_picks_the_cluster(
    given, environment, used, monkeypatch
):
    """Ray's ``init`` installs a SIGTERM handler that exits at once (under the command line,
    a crash with SIGABRT here); the caller's comes back. No address: ``RAY_ADDRESS``, else a
    new local Ray, never a stale cluster found on the machine."""
    if environment is None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("RAY_ADDRESS", environment)
    fake, handler = _FakeRay(), lambda signum, frame: None
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with ray_backend._connected(fake, given):
            assert signal.getsignal(signal.SIGTERM) is handler
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert fake.calls == [("init", used), ("shutdown", None)]


def test_missing_ray_is_a_usage_error_naming_the_install(images, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray: ModuleNotFoundError
    argv = ["bench", "run", "--images", str(images), "-o", str(tmp_path), "--backend", "ray"]
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "pip install 'ray>=2' (or autodip[ray])" in capsys.readouterr().err


def test_task_resources_fit_the_smallest_node_and_share_gpus():
    nodes = [
        {"Alive": True, "Resources": {"CPU": 0.0}},  # a head that runs no tasks
        {"Alive": True, "Resources": {"CPU": 16.0, "GPU": 2.0}},
        {"Alive": True, "Resources": {"CPU": 6.0}},
        {"Alive": False, "Resources": {"CPU": 1.0}},  # gone
    ]
    assert ray_backend.task_resources(nodes, 1) == (6, 1.0)
    assert ray_backend.task_resources(nodes, 4) == (1, 0.25)
    assert ray_backend.task_resources(nodes[2:], 2) == (3, 0.0)
    with pytest.raises(ValueError, match="no live node with a CPU"):
        ray_backend.task_resources(nodes[:1])
