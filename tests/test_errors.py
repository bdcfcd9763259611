"""The exceptions users see are defined once, in autodip.errors, and still found where raised."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from autodip import cli, errors
from autodip.bench import baselines
from autodip.core import checkpoint, memory
from autodip.io import read, write
from autodip.nets import registry
from autodip.serve import jobs, media

OLD_HOMES = {
    read: ("ImageReadError", "ImageFramesError", "ImageDamagedError"),
    write: ("ImageWriteError",),
    memory: ("InsufficientMemoryError",),
    checkpoint: ("CheckpointError",),
    baselines: ("OptionalDependencyError",),
    cli: ("UsageError", "RunError"),
    jobs: ("JobStateError", "JobCancelledError"),
    media: ("UploadError",),
    registry: ("UnknownNetOptionError",),
}


@pytest.mark.parametrize("module", OLD_HOMES, ids=lambda m: m.__name__)
def test_old_homes_re_export_the_same_classes(module):
    for name in OLD_HOMES[module]:
        assert getattr(module, name) is getattr(errors, name)


def test_every_public_exception_class_is_defined_in_errors():
    source = Path(errors.__file__).parent
    pattern = re.compile(r"^class (\w+)\(.*(?:Error|Exception)\):", re.MULTILINE)
    elsewhere = {
        f"{path.relative_to(source)}: {name}"
        for path in source.rglob("*.py")
        if path.name != "errors.py"
        for name in pattern.findall(path.read_text(encoding="utf-8"))
        if not name.startswith("_")  # io's decoders signal each other with private ones
    }
    assert not elsewhere
    assert sorted(errors.__all__) == sorted(n for names in OLD_HOMES.values() for n in names)


def test_path_errors_pickle_with_their_fields():
    error = pickle.loads(pickle.dumps(errors.ImageFramesError("a.gif", 3)))
    assert (type(error), error.path, error.frames) == (errors.ImageFramesError, "a.gif", 3)
    assert isinstance(error, errors.ImageReadError)
