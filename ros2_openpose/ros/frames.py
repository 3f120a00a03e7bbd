"""The hand-off from the subscription callbacks to the inference worker: the newest frame per camera.

Latency over throughput: a callback only stores its message in its camera's slot; a newer frame
replaces one the worker has not taken yet (the caller counts it ``superseded``), so a slow model
never builds a backlog.  The worker takes every filled slot at once, which batches cameras whose
frames wait together into one forward pass.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Frame:
    """A message as it arrived: ``arrival`` is monotonic seconds (what staleness is measured from)."""

    msg: Any
    arrival: float
    camera: int = 0


class LatestFrames:
    """One slot per camera, a condition to wait on, and a stop flag."""

    def __init__(self, cameras: int) -> None:
        self._slots: list[Frame | None] = [None] * cameras
        self._cond = threading.Condition()
        self._stopped = False

    def put(self, frame: Frame) -> bool:
        """Store ``frame`` in its camera's slot; True when it replaced a frame nobody took."""
        with self._cond:
            replaced = self._slots[frame.camera] is not None
            self._slots[frame.camera] = frame
            self._cond.notify()
            return replaced

    def take(self) -> list[Frame]:
        """Wait for at least one frame and take all waiting ones (camera order); [] once stopped."""
        with self._cond:
            while not self._stopped and not any(self._slots):
                self._cond.wait()
            if self._stopped:
                return []
            frames = [f for f in self._slots if f is not None]
            self._slots = [None] * len(self._slots)
            return frames

    def stop(self) -> list[Frame]:
        """Wake the worker for good; returns the frames still waiting (the caller counts them)."""
        with self._cond:
            self._stopped = True
            left = [f for f in self._slots if f is not None]
            self._slots = [None] * len(self._slots)
            self._cond.notify_all()
            return left
