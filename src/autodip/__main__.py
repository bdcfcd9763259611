"""``python -m autodip`` and the ``autodip`` command: load the command line, then run it.

Loading :mod:`autodip.cli` imports PyTorch, which takes a second or more; a Ctrl-C in that time
ends the command as one during the run does (one line, exit code 130, nothing written) rather than
with a traceback. This module imports nothing heavy itself for that reason.
"""

import os
import sys

#: Exit code of a command ended by Ctrl-C (:data:`autodip.cli.common.EXIT_INTERRUPTED`).
EXIT_INTERRUPTED = 130
#: Exit code when the reader of the output went away (``autodip list nets | head``): 128 + SIGPIPE.
EXIT_BROKEN_PIPE = 141


def run() -> None:
    """Console-script entry point."""
    try:
        from autodip.cli import main

        code = main()
    except KeyboardInterrupt:  # before the command line could catch it: while loading
        print("autodip: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # nothing is left to say to a reader that has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        code = EXIT_BROKEN_PIPE
    sys.exit(code)


if __name__ == "__main__":
    run()
