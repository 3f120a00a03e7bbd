"""pose_node's /diagnostics status: counts, rates and a level that says whether frames get through.

Levels (docs/ros.md): ERROR when an input has publishers but no frame arrives (for ``STALL_S``, and
either nothing arrived since they appeared or frames are being lost); WARN when more than
``LOSS_WARN`` of the frames sent in the last ``WINDOW_S`` were lost in transport, or after a
bad-input drop; else OK.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from . import message
from .accounting import Snapshot

WINDOW_S = 10.0   # loss rate and "bad input recently" look this far back
STALL_S = 5.0     # an input with publishers and no frame for this long may be ERROR
LOSS_WARN = 0.05  # more than this fraction lost in transport is WARN


@dataclass(frozen=True)
class InputState:
    """What diagnostics needs to know about one input topic."""

    topic: str
    reliable: bool
    publishers: int
    publishers_since: float  # monotonic; inf when there are none


class ServeTimes:
    """Timings of served frames (written by the worker, read by diagnostics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: deque[float] = deque(maxlen=30)
        self.latency_s = self.inference_s = float("nan")
        self.people = 0

    def record(self, latency_s: float, inference_s: float, people: int) -> None:
        with self._lock:
            self._done.append(time.monotonic())
            self.latency_s, self.inference_s, self.people = latency_s, inference_s, people

    def fps(self) -> float:
        with self._lock:
            times = list(self._done)
        if len(times) < 2 or times[-1] <= times[0] or time.monotonic() - times[-1] > 2.0:
            return 0.0  # nothing processed lately
        return (len(times) - 1) / (times[-1] - times[0])


class LossWindow:
    """Snapshots of the ledger over the last ``WINDOW_S``: what changed recently."""

    def __init__(self) -> None:
        self._history: deque[tuple[float, Snapshot]] = deque()

    def add(self, now: float, snap: Snapshot) -> Snapshot:
        """Record ``snap``; returns the oldest snapshot still inside the window."""
        self._history.append((now, snap))
        while len(self._history) > 1 and now - self._history[1][0] >= WINDOW_S:
            self._history.popleft()
        return self._history[0][1]


def level(now: float, snap: Snapshot, old: Snapshot, inputs: Sequence[InputState], active: bool) -> tuple[Any, str]:
    """(DiagnosticStatus level, message) for the ledger now and ``WINDOW_S`` ago."""
    if not active:
        return DiagnosticStatus.OK, "inactive"
    lost = snap.drops["lost"] - old.drops["lost"]
    for entry in inputs:
        last = snap.last_arrival.get(entry.topic, -float("inf"))
        stalled = entry.publishers > 0 and now - entry.publishers_since > STALL_S and now - last > STALL_S
        if stalled and (last < entry.publishers_since or lost > 0):
            more = f", {lost} lost in transport" if lost else ""
            return DiagnosticStatus.ERROR, (f"{entry.publishers} publisher(s) on {entry.topic} but no frame "
                                            f"arrives{more}")
    sent = (snap.received - old.received) + lost
    if sent and lost / sent > LOSS_WARN:
        return DiagnosticStatus.WARN, f"{lost} of {sent} frames lost in transport in {WINDOW_S:.0f} s"
    if now - snap.last_bad_input < WINDOW_S:
        return DiagnosticStatus.WARN, "dropping bad input frames"
    if snap.processed == 0:
        return DiagnosticStatus.OK, "waiting for images"
    return DiagnosticStatus.OK, "ok"


def status(name: str, info: Mapping[str, Any], state: str, snap: Snapshot, lvl: tuple[Any, str],
           times: ServeTimes, inputs: Sequence[InputState]) -> DiagnosticStatus:
    """The DiagnosticStatus message: level, message and every counter as a key/value."""
    values = {"state": state, "fps": f"{times.fps():.2f}", "latency_ms": f"{times.latency_s * 1000:.1f}",
              "inference_ms": f"{times.inference_s * 1000:.1f}", "frames_received": str(snap.received),
              "frames_processed": str(snap.processed), "people_last_frame": str(times.people),
              "device": str(info.get("device", "")), "model": message.model_description(info) if info else ""}
    if info.get("threads_in_use"):  # adaptive_threads: what the last frame ran on
        values["cpu_threads_in_use"] = str(info["threads_in_use"])
    for i, entry in enumerate(inputs):
        values[f"input_{i}"] = (f"{entry.topic} ({'reliable' if entry.reliable else 'best effort'}, "
                                f"{entry.publishers} publisher(s))")
    values.update({f"dropped_{r}": str(n) for r, n in snap.drops.items()})
    values["dropped_total"] = str(snap.dropped)
    values["ignored_lost_events"] = str(snap.ignored_lost_events)
    return DiagnosticStatus(level=lvl[0], message=lvl[1], name=f"{name}: pose estimation",
                            hardware_id=str(info.get("device", "")),
                            values=[KeyValue(key=k, value=v) for k, v in values.items()])
