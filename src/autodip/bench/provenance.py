"""Where a benchmark result comes from, and the one writer of a result's ``X.md`` and ``X.json``.

Every script under ``benchmarks/`` ends with :func:`write_report`, so each committed result says the
same things in the same place: the exact command, the machine (CPU model, cores it could use,
torch threads), the versions of Python, PyTorch, NumPy and autodip, and the date. The Markdown
gets them as a short list under its title, the JSON beside it under ``"provenance"``.

Examples
--------
>>> record = provenance("python benchmarks/guard.py")
>>> record["command"], {"date", "cpu", "cores", "python", "torch", "numpy"} <= record.keys()
('python benchmarks/guard.py', True)
>>> provenance_lines(record)[0]
'- command: `python benchmarks/guard.py`'
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Environment variables that change how a benchmark runs (its threads), shown before the command.
COMMAND_ENVIRONMENT = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_model() -> str:
    """The CPU's model name as ``lscpu`` reports it (or what Python knows)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        out = ""
    for line in out.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def usable_cores() -> int:
    """The cores this process may run on (a taskset or container limit), not the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that is running, as it could be typed again (default: ``sys.argv``).

    A script path under the working directory is written relative to it, and the thread settings
    of :data:`COMMAND_ENVIRONMENT` that are set come first, e.g.
    ``OMP_NUM_THREADS=1 python benchmarks/memory.py --steps 3``.
    """
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]) if argv else Path("-")
    if script.is_absolute() and script.is_relative_to(Path.cwd()):
        script = script.relative_to(Path.cwd())
    words = ["python", str(script), *argv[1:]]
    settings = [f"{k}={os.environ[k]}" for k in COMMAND_ENVIRONMENT if k in os.environ]
    return " ".join([*settings, shlex.join(words)])


def provenance(command: str | None = None, **extra: Any) -> dict[str, Any]:
    """Command, date, machine and versions of the result being written, as plain data.

    Parameters
    ----------
    command
        The command to record; default :func:`command_line` of this process.
    **extra
        Further facts the result depends on (a placement, a library's version), kept under their
        own names and listed after the standard ones.

    Returns
    -------
    dict
        ``command``, ``date`` (UTC, to the minute), ``cpu`` (model), ``cores`` (usable),
        ``torch_threads``, and :func:`autodip.reporting.files.environment`'s ``autodip``,
        ``python``, ``torch``, ``numpy``, ``platform``, ``machine`` and ``cuda``; then ``extra``.
    """
    import torch

    from autodip.reporting.files import environment

    versions = environment()
    versions.pop("cpu_threads", None)  # the same as torch_threads, as an int below
    return {
        "command": command if command is not None else command_line(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "torch_threads": torch.get_num_threads(),
        **versions,
        **extra,
    }


#: The entries every :func:`provenance` record has; anything else in one is an ``extra``.
STANDARD = ("command", "date", "cpu", "cores", "torch_threads", "autodip", "python", "torch",
            "numpy", "platform", "machine", "cuda")  # fmt: skip


def machine_summary(record: dict[str, Any]) -> str:
    """One line for the machine and versions of a :func:`provenance` record."""
    gpu = f"; GPU: {record['cuda']}" if record.get("cuda") not in (None, "none") else ""
    return (
        f"{record['cpu']}, {record['cores']} cores ({record.get('machine', '?')}), "
        f"{record['torch_threads']} torch thread(s){gpu}; Python {record['python']}, torch "
        f"{record['torch']}, NumPy {record['numpy']}, autodip {record['autodip']}"
    )


def provenance_lines(record: dict[str, Any]) -> list[str]:
    """The Markdown list items that say where a result comes from (see :func:`provenance`)."""
    lines = [
        f"- command: `{record['command']}`",
        f"- machine: {machine_summary(record)}",
        f"- date: {record['date']}",
    ]
    return lines + [f"- {key}: {value}" for key, value in record.items() if key not in STANDARD]


def write_report(
    path: Path, markdown: str, data: dict[str, Any] | list[Any], record: dict[str, Any]
) -> tuple[Path, Path]:
    """Write ``path`` (``X.md``) and ``X.json`` beside it, both atomically, with ``record``.

    The Markdown gets :func:`provenance_lines` under its title (its first ``# `` line; at the top
    when it has none), as the first items of the list that follows the title, if one does. The
    JSON is ``{"provenance": record, **data}``, or ``{"provenance": record, "rows": data}`` for a
    list; non-finite floats become ``null``.

    Returns
    -------
    tuple of Path
        The Markdown and the JSON file.
    """
    from autodip.reporting.files import _atomic_write_bytes, write_json

    if isinstance(data, dict) and "provenance" in data:
        raise ValueError("data already holds a 'provenance' entry; the writer adds it")
    path, json_path = Path(path), Path(path).with_suffix(".json")
    _atomic_write_bytes(path, with_provenance(markdown, record).encode("utf-8"))
    body = dict(data) if isinstance(data, dict) else {"rows": data}
    write_json(json_path, {"provenance": record, **body})
    return path, json_path


def with_provenance(markdown: str, record: dict[str, Any]) -> str:
    """``markdown`` with :func:`provenance_lines` under its title (see :func:`write_report`)."""
    lines = markdown.rstrip("\n").splitlines()
    title = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    head, rest = (lines[: title + 1], lines[title + 1 :]) if title is not None else ([], lines)
    while rest and not rest[0].strip():
        rest.pop(0)
    gap = [] if not rest or rest[0].startswith("- ") else [""]  # one list with the script's own
    lines = [*head, *([""] if head else []), *provenance_lines(record), *gap, *rest]
    return "\n".join(lines) + "\n"
