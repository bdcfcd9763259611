"""Replace a file atomically, and say in a few words why the operating system refused."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = ["replace_atomically"]


def replace_atomically(target: Path, payload: bytes, overwrite: bool) -> None:
    """Write ``payload`` to a temporary file beside ``target``, then rename it onto it.

    The temporary file gets the umask's permissions (an overwritten file keeps its own) and is
    flushed to disk before the rename, so a reader never sees a partial file.
    """
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            if not overwrite:  # it appeared while we were writing
                raise _exists_error(target)
            with contextlib.suppress(OSError):  # keep the replaced file's permissions
                os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _exists_error(target: Path) -> FileExistsError:
    return FileExistsError(f"'{target}' already exists (pass overwrite=True to replace it)")


def _os_reason(exc: OSError) -> str:
    """Short lower-case reason for an OS error, e.g. ``permission denied``."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]
