"""vecrecall: build, sweep and evaluate vector retrieval from the shell."""

__version__ = "0.1.0"


def _interrupted_while_starting(signum: int, frame: object) -> None:
    """Ctrl-C before the CLI's `main` runs (its imports take a moment): nothing has been written yet; no traceback."""
    import os

    os.write(2, b"interrupted while starting; nothing was written\n")
    os._exit(128 + signum)


def _guard_start() -> None:
    import os
    import signal
    import sys

    # the console script only (tests and library users import vecrecall in their own processes)
    if os.path.basename(sys.argv[0]) == "vecrecall" and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted_while_starting)


_guard_start()
