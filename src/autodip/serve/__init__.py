"""``autodip serve``: a local web page to restore an image, paint a mask and watch the run.

The page (``static/``: plain HTML, CSS and JavaScript, no build step, nothing from the network)
uploads an image, starts a job and follows it over Server-Sent Events. The server runs each job
through :func:`autodip.api.restore`, the call the command line makes, one at a time per device.

The package: :mod:`~autodip.serve.app` (the routes and the access token), :mod:`~autodip.serve.jobs`
(the queue, a job's state and events, the hooks that stream a run and stop it),
:mod:`~autodip.serve.media` (uploads read by :func:`autodip.io.read_image`, masks, the PNG
previews a browser can show). It needs the ``serve`` extra (FastAPI and uvicorn); importing this
package alone loads neither.
"""

from __future__ import annotations

from importlib.util import find_spec

#: What installs the web server's dependencies.
INSTALL_HINT = "pip install 'autodip[serve]'"
#: Where ``autodip serve`` listens without ``--host`` / ``--port``: this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: The largest upload accepted without ``--max-upload``.
DEFAULT_MAX_UPLOAD = "256M"


def require_extra() -> None:
    """Raise ``ImportError`` naming :data:`INSTALL_HINT` unless FastAPI and uvicorn are there."""
    missing = [name for name in ("fastapi", "uvicorn") if find_spec(name) is None]
    if missing:
        raise ImportError(
            f"autodip serve needs {' and '.join(missing)}, which are not installed: {INSTALL_HINT}"
        )
