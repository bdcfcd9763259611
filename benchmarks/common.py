"""Helpers shared by the benchmark scripts: result caching, the locks that share a sweep, the data.

What the scripts compute comes from the library: stop replay and peaks from
:mod:`autodip.bench.analyse`, degradations from :mod:`autodip.physics.noise`, and the command,
machine, versions and date of every result, with the writer of its ``X.md`` and ``X.json``, from
:mod:`autodip.bench.provenance`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The project's shared data folder (``../shared/data`` beside the repository).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def cached(path: Path, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Load ``path`` if a finished run left it there, else run ``make`` and store its result.

    The file is written atomically, so an interrupted benchmark never leaves a partial entry and
    a rerun resumes where it stopped.
    """
    if path.exists():
        return json.loads(path.read_text())
    from autodip.reporting.files import write_json

    data = make()
    write_json(path, data)
    return data


def claim(lock: Path) -> bool:
    """Take ``lock`` for this process (False if another benchmark instance holds it).

    Several instances can share one sweep: each runs the items it claims, the cache collects the
    results, and a last ``--analyse-only`` pass writes the report from all of them.
    """
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
