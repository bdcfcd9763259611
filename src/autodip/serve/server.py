"""Running the page's server: a token, a temporary folder, a socket and uvicorn.

:class:`LocalServer` binds its socket before anything else (so a port in use is an error before
anything starts), serves :func:`~autodip.serve.app.create_app` with uvicorn until it is stopped
(Ctrl-C, SIGTERM or :meth:`LocalServer.stop`) and removes its temporary folder, the uploads,
results and reports in it, on the way out.
"""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import socket
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autodip.serve import DEFAULT_HOST, DEFAULT_PORT
from autodip.serve.app import MAX_UPLOAD_BYTES, create_app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port`` (port 0: any free one); ``OSError`` if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class LocalServer:
    """The page's server on one socket, with its own token and temporary folder.

    Parameters
    ----------
    host, port
        Where to listen (port 0: a free port, see :attr:`url`).
    device, precision
        Where and how jobs run.
    max_upload
        The largest upload accepted, in bytes.
    token
        The access token; a new random one when omitted.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        device: str = "auto",
        precision: str = "auto",
        max_upload: int = MAX_UPLOAD_BYTES,
        token: str | None = None,
    ) -> None:
        import uvicorn

        self.token = token or secrets.token_urlsafe(24)
        self.socket = bind(host, port)
        self.folder = Path(tempfile.mkdtemp(prefix="autodip-serve-"))
        # removed by close(); and, should that be skipped, when this object goes or Python exits
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)
        self.app = create_app(
            self.folder, self.token, device=device, precision=precision, max_upload=max_upload
        )
        config = uvicorn.Config(
            self.app, log_level="warning", timeout_graceful_shutdown=2, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.host = host

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self.socket.getsockname()[1])

    @property
    def url(self) -> str:
        """The page's address with its token, as ``autodip serve`` prints it."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{host}:{self.port}/?token={self.token}"

    def run(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until stopped, calling ``on_ready(url)`` once it answers; then clean up."""
        watcher = None
        if on_ready is not None:
            watcher = threading.Thread(target=self._announce, args=(on_ready,), daemon=True)
            watcher.start()
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.close()

    def _announce(self, on_ready: Callable[[str], None]) -> None:
        while not self.server.started and not self.server.should_exit:
            threading.Event().wait(0.05)
        if self.server.started:
            on_ready(self.url)

    def start_in_thread(self) -> threading.Thread:
        """Serve from a background thread (tests); returns once the server answers."""
        thread = threading.Thread(target=self.run, name="autodip-serve", daemon=True)
        thread.start()
        while not self.server.started and thread.is_alive():
            threading.Event().wait(0.05)
        return thread

    def stop(self) -> None:
        """Ask the server to shut down (it then cleans up in :meth:`run`)."""
        self.server.should_exit = True

    def close(self) -> None:
        """Stop the jobs, close the socket and remove the temporary folder."""
        state: Any = self.app.state.serve
        state.queue.close()
        self.socket.close()
        self._cleanup()
