"""``autodip serve``: start the local web page's server and print its address with the token.

The server itself is :mod:`autodip.serve`; this module checks the options, says where the page is
and what to watch out for, and turns the server's end into an exit code (0 after Ctrl-C, 143
after a SIGTERM, 2 when the ``serve`` extra is missing or the port is taken).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from autodip.cli.common import EXIT_OK, UsageError


def run_serve(args: argparse.Namespace) -> int:
    """Serve the page until Ctrl-C or SIGTERM; return the exit code."""
    from autodip.serve import require_extra

    try:
        require_extra()
    except ImportError as error:
        raise UsageError(str(error)) from None
    server = _server(args)
    if not _is_loopback(args.host):
        print(
            f"autodip: warning: listening on {args.host}: other machines can reach the page; "
            "anyone with the address and its token can run jobs and read results, and the "
            "traffic is not encrypted",
            file=sys.stderr,
        )

    def ready(url: str) -> None:
        print(f"autodip serve: the page is at\n\n    {url}\n", flush=True)
        print(
            "autodip: Ctrl-C stops the server and deletes its uploads and results",
            file=sys.stderr,
        )
        if args.open:
            import webbrowser

            webbrowser.open(url)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a server is stopped
        server.run(on_ready=ready)
    print("autodip: server stopped", file=sys.stderr)
    return EXIT_OK


def _is_loopback(host: str) -> bool:
    from autodip.serve.server import is_loopback

    return is_loopback(host)


def _server(args: argparse.Namespace):
    """The server for ``args``, its options checked (``UsageError`` when one is wrong)."""
    from autodip.core.hardware import placement
    from autodip.core.memory import parse_size
    from autodip.serve.server import LocalServer

    try:
        max_upload = parse_size(args.max_upload)
    except ValueError as error:
        raise UsageError(f"--max-upload: {error}") from None
    try:
        placement(args.device, args.precision)
    except (ValueError, RuntimeError) as error:
        raise UsageError(f"--device {args.device}: {error}") from None
    try:
        return LocalServer(
            args.host,
            args.port,
            device=args.device,
            precision=args.precision,
            max_upload=max_upload,
        )
    except OSError as error:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port} ({error.strerror or error}); "
            "choose another --port (0: any free one) or --host"
        ) from None
