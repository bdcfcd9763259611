"""The exceptions autodip raises for problems a user can act on, in one module.

Each is also importable from the module that raises it (``autodip.io.read.ImageReadError``,
``autodip.core.memory.InsufficientMemoryError``, …), as before. Their messages are one line meant
for the user; the command line prints them as ``autodip: error: …``.

- :class:`ImageReadError` (an image cannot be read), with :class:`ImageFramesError` (an
  animation read without choosing a frame) and :class:`ImageDamagedError` (truncated or corrupt
  data); :class:`ImageWriteError` (an image cannot be written);
- :class:`InsufficientMemoryError` (a :class:`MemoryError`: the run would not fit);
- :class:`CheckpointError` (a :class:`ValueError`: missing, unreadable or another run's);
- :class:`OptionalDependencyError` (a :class:`ModuleNotFoundError` naming the ``pip install``);
- :class:`UnknownNetOptionError` (a :class:`TypeError`: a keyword the network does not have);
- :class:`UsageError` and :class:`RunError`: the command line's exit codes 2 and 1;
- :class:`UploadError`, :class:`JobStateError` and :class:`JobCancelledError`: ``autodip serve``'s
  refused uploads, actions a job's state does not allow, and a cancelled job.

Examples
--------
>>> from autodip.errors import ImageReadError
>>> error = ImageReadError("in.png", "no such file")
>>> str(error), error.path, error.reason
("cannot read 'in.png': no such file", 'in.png', 'no such file')
"""

from __future__ import annotations

import os

__all__ = [
    "CheckpointError",
    "ImageDamagedError",
    "ImageFramesError",
    "ImageReadError",
    "ImageWriteError",
    "InsufficientMemoryError",
    "JobCancelledError",
    "JobStateError",
    "OptionalDependencyError",
    "RunError",
    "UnknownNetOptionError",
    "UploadError",
    "UsageError",
]


class _PathError(Exception):
    """Base for errors whose message is ``cannot <verb> '<path>': <reason>``."""

    _verb = "use"

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot {self._verb} '{self.path}': {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.path, self.reason)


class ImageReadError(_PathError):
    """An image file could not be read.

    The message is one line meant for the user: ``cannot read '<path>': <reason>``.
    The two parts are also available as the attributes ``path`` and ``reason``.
    """

    _verb = "read"


class ImageFramesError(ImageReadError):
    """The file holds several frames (an animation) and no frame was chosen.

    The number of frames is the attribute ``frames``; read one with ``read_image(path,
    frame=N)``.
    """

    def __init__(self, path: str | os.PathLike[str], frames: int) -> None:
        self.frames = frames
        super().__init__(
            path,
            f"it holds {frames} frames (an animation); choose one with frame=N (0 to {frames - 1})",
        )

    def __reduce__(self) -> tuple[type, tuple[str, int]]:  # type: ignore[override]
        return type(self), (self.path, self.frames)


class ImageDamagedError(ImageReadError):
    """The file's image data is truncated or corrupt; the decoder would pad or guess the rest.

    ``read_image(path, allow_truncated=True)`` returns the partial image instead, with the
    reason in ``ImageInfo.damaged``.
    """


class ImageWriteError(_PathError):
    """An image file could not be written.

    The message is one line meant for the user: ``cannot write '<path>': <reason>``.
    The two parts are also available as the attributes ``path`` and ``reason``.
    """

    _verb = "write"


class InsufficientMemoryError(MemoryError):
    """A run that would not fit the memory available (or the limit given)."""


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or belongs to another run."""


class OptionalDependencyError(ModuleNotFoundError):
    """A baseline's optional dependency is not installed; the message says how to install it."""


class UnknownNetOptionError(TypeError):
    """A keyword option that network ``net`` does not have (``option``)."""

    def __init__(self, net: str, option: str) -> None:
        super().__init__(f"network {net!r} has no option {option!r}")
        self.net, self.option = net, option

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.net, self.option)


class UsageError(Exception):
    """A problem with the user's input that deserves one line and exit code 2."""


class RunError(Exception):
    """A run that failed for a reason worth one line (exit code 1), e.g. divergence."""


class UploadError(ValueError):
    """An upload ``autodip serve`` cannot use; the message is one line for the page."""


class JobStateError(ValueError):
    """An action that a job's state does not allow (e.g. continuing a finished job)."""


class JobCancelledError(Exception):
    """Raised inside a run whose job was cancelled: the run ends and nothing is kept."""
