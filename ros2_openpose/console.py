"""Console behaviour of the offline tools: progress that shows in a log, and a graceful stop on signals."""
from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO


class Progress:
    """A tqdm bar on a terminal; elsewhere (a log, CI, a pipe) one line every ``every`` seconds."""

    def __init__(self, prog: str, total: int | None, every: float, stream: TextIO | None = None) -> None:
        self.prog, self.stream = prog, stream or sys.stderr
        self.total, self.every = total, every
        self.bar = None
        if hasattr(self.stream, "isatty") and self.stream.isatty():
            with contextlib.suppress(ImportError):  # no tqdm (a ROS install): the lines below instead
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="frame", file=self.stream)
        self.start = self.last = time.monotonic()

    def update(self, frames: int, people: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(people=people)
            return
        now = time.monotonic()
        if frames == 1 or now - self.last >= self.every:
            self.last = now
            fps = frames / (now - self.start) if now > self.start else 0.0
            of = f"/{self.total}" if self.total else ""
            print(f"{self.prog}: {frames}{of} frames, {people} people, {fps:.2f} fps", file=self.stream, flush=True)

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(f"{self.prog}: {text}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def stop_on_signals(prog: str) -> Iterator[dict[str, Any]]:
    """While inside, SIGINT/SIGTERM set ``state["signal"]`` (the caller's loop stops after its frame and
    writes what it has); a second one raises KeyboardInterrupt at once."""
    state: dict[str, Any] = {"signal": None}

    def handler(signum: int, frame: Any) -> None:
        if state["signal"] is not None:
            raise KeyboardInterrupt
        received = signal.Signals(signum)
        state["signal"] = received
        print(f"\n{prog}: {received.name}: finishing the current frame (again to stop at once)",
              file=sys.stderr, flush=True)

    # A signal the parent chose to ignore (a background job in a script ignores SIGINT) stays ignored.
    wanted = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {s: signal.signal(s, handler) for s in wanted}
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
