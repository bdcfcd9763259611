"""The ``autodip`` command line: parse, call the library, print. Nothing here computes.

``main(argv) -> int`` is callable from tests; exit codes: 0 success, 1 unexpected failure,
2 bad input or usage (one clear line, no traceback), 3 an under-fitted result with ``--strict``,
130 interrupted (the estimate so far is still written), 143 the same after a SIGTERM.

The package: :mod:`~autodip.cli.parser` (the argument parsers), :mod:`~autodip.cli.common` (exit
codes, errors, reading, the progress bar), :mod:`~autodip.cli.restore` (``denoise``, ``inpaint``,
``sr``), :mod:`~autodip.cli.bench`, :mod:`~autodip.cli.tools` (``list``, ``inspect``,
``calibrate-cifs``, ``train-width``) and :mod:`~autodip.cli.serve` (``serve``, the web page).
Dependencies point one way: this module -> the command modules -> ``common``.
"""

from __future__ import annotations

import sys
import warnings

from autodip.cli.bench import run_bench
from autodip.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_UNDERFITTED,
    EXIT_USAGE,
    TERMINATION,
    RunError,
    UsageError,
    show_warning,
)
from autodip.cli.parser import build_parser
from autodip.cli.restore import run_restore
from autodip.cli.serve import run_serve
from autodip.cli.tools import calibrate_cifs, inspect_image, list_components, train_width

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_UNDERFITTED",
    "EXIT_USAGE",
    "TERMINATION",
    "RunError",
    "UsageError",
    "build_parser",
    "main",
    "run",
]


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    A SIGTERM ends the command as Ctrl-C does (see :class:`~autodip.cli.common.Termination`),
    with exit code 143.
    """
    with TERMINATION as termination:
        code = _main(argv)
    if termination.received and code in (EXIT_OK, EXIT_INTERRUPTED):
        return EXIT_TERMINATED
    return code


def _main(argv: list[str] | None) -> int:
    """Parse ``argv`` and run its command; the errors users see become one line and a code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    handlers = {
        "denoise": run_restore,
        "inpaint": run_restore,
        "sr": run_restore,
        "bench": run_bench,
        "list": list_components,
        "calibrate-cifs": calibrate_cifs,
        "inspect": inspect_image,
        "train-width": train_width,
        "serve": run_serve,
    }
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return handlers[args.command](args)
    except UsageError as error:
        print(f"autodip: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RunError as error:
        print(f"autodip: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"autodip: {TERMINATION.what}", file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
