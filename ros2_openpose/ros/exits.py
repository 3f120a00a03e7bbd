"""How the executables start and stop: ``--help``, and SIGINT / SIGTERM at any moment without a traceback.

``Signals().install()`` runs first thing in each executable's ``main``, before torch or rclpy are
imported.  While the program starts, a signal raises ``Interrupted`` wherever it lands (an import, the
model load) and main exits 130 with one line.  Once it serves (``serving()``), a signal only records
that a stop was asked for and sets ``stop``: rclpy's own handler, which ``rclpy.init`` installs on top
and which chains to this one, shuts the context down and wakes the executor, so the program leaves its
loop and cleans up, and no KeyboardInterrupt can land inside clean-up code.  SIGTERM is handled like
SIGINT (Python's default would kill the process before it writes what it promised).

Standard library only: importing this module must not itself be a long window for a signal.
"""
from __future__ import annotations

import importlib
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from .dds_profile import apply_fast_repair

EXIT_INTERRUPTED = 130
HELP_FLAGS = ("-h", "--help")


class Interrupted(BaseException):
    """A signal arrived before the program started serving (BaseException, like KeyboardInterrupt)."""


class Signals:
    """SIGINT and SIGTERM handling for one executable (see the module docstring)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.stop = threading.Event()
        self._serving = False

    def install(self) -> Signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)
        return self

    def serving(self) -> None:
        """From now on a signal asks the program to stop instead of interrupting it."""
        self._serving = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.received is None
        self.received = signum
        self.stop.set()
        if first and not self._serving:
            raise Interrupted(signum)


def run_program(program: str, args: list[str] | None, run: Callable[[list[str] | None, Signals], int],
                help_text: Callable[[], str]) -> int:
    """An executable's main: signal handling first, ``--help`` answered (exit 0), then
    ``run(args, signals)``; a signal before ``signals.serving()`` ends it with exit 130."""
    signals = Signals().install()
    try:
        if wants_help(sys.argv[1:] if args is None else args):
            print(help_text())
            return 0
        apply_fast_repair()  # before the program's rclpy.init creates its DDS participant
        return run(args, signals)
    except Interrupted:
        return interrupted(program)


def wants_help(argv: list[str]) -> bool:
    """True when ``-h`` / ``--help`` comes before any ``--ros-args`` (after it, arguments are ROS's)."""
    mine = argv[:argv.index("--ros-args")] if "--ros-args" in argv else argv
    return any(arg in HELP_FLAGS for arg in mine)


def interrupted(program: str) -> int:
    """What main returns after ``Interrupted``: one line on stderr, exit 130."""
    print(f"{program}: interrupted while starting", file=sys.stderr)
    return EXIT_INTERRUPTED


def run_main(module: str) -> int:
    """``module.main()`` with the signal handling in place before ``module`` is imported (the
    executables in scripts/, which ``ros2 run`` and ``ros2 launch`` start)."""
    Signals().install()
    program = module.rsplit(".", 1)[-1]
    try:
        main = importlib.import_module(module).main
    except Interrupted:
        return interrupted(program)
    return main()
