"""``python -m autodip``: the command line."""

from autodip.cli import run

if __name__ == "__main__":
    run()
