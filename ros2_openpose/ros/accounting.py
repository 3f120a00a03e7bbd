"""Where every frame went: received, served, or dropped with one reason.  Thread-safe, no ROS.

Two kinds of frames are counted:

* frames that reached the node's callback (``received``): each ends exactly once as ``processed`` or
  as one drop reason (``superseded`` in the one-slot buffer, ``too_old``, a bad-input reason, ...);
* frames a publisher sent that never reached the callback.  The publisher numbers its samples
  (``publication_sequence_number`` per publisher), so a gap between two received frames says how
  many went missing.  On a reliable subscription the transport retransmits, so a missing frame was
  replaced in the reader's keep-last queue by a newer one: ``superseded``.  On a best-effort one it
  was either lost in transport or replaced.  The middleware's message-lost events say how many were
  lost, but they arrive before or after the gap shows, so the split is made on running totals per
  subscription: ``lost`` = the losses reported (L), ``superseded`` += max(0, missing (M) - L).  Every
  frame sent is then counted once, max(L, M) in all, whatever order the two reports come in; losses
  after the last frame that arrived (no gap yet) are counted as soon as they are reported.

The middleware's lost counts are not trusted blindly: Fast DDS has been seen reporting
``total_count_change`` values of 2**31 - 1 when lost and small samples alternate, so only changes
between 1 and ``MAX_LOST_PER_EVENT`` are counted.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Drop reasons.  ``superseded``, ``too_old`` and ``stopped`` are load shedding (normal under load),
#: ``lost`` is transport loss (best effort), the rest are bad input or failures.
DROP_REASONS = ("superseded", "too_old", "stopped", "lost", "bad_encoding", "corrupt", "empty", "too_large",
                "out_of_memory", "error")
BAD_INPUT = ("bad_encoding", "corrupt", "empty", "too_large", "out_of_memory", "error")
#: A larger lost count in one event is a middleware bug, not a measurement (see the module doc).
MAX_LOST_PER_EVENT = 1000


@dataclass
class _Topic:
    """Per subscription: the last sequence number seen from each publisher, the best-effort frames
    missing between arrivals (M), the losses the middleware reported (L), and the last arrival."""

    last_seq: dict[bytes, int] = field(default_factory=dict)
    missing: int = 0
    reported: int = 0
    last_arrival: float = -float("inf")

    @property
    def superseded(self) -> int:
        return max(0, self.missing - self.reported)


@dataclass(frozen=True)
class Snapshot:
    """The ledger at one moment (cumulative counts since the node started)."""

    received: int
    processed: int
    drops: dict[str, int]
    last_bad_input: float          # monotonic time of the last bad-input drop (-inf: never)
    last_arrival: dict[str, float]  # topic -> monotonic time of its last received frame
    ignored_lost_events: int        # implausible middleware lost counts that were not counted

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())


class FrameLedger:
    """Counts every frame once.  ``clock`` is monotonic seconds (injectable for tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._received = 0
        self._processed = 0
        self._drops = {reason: 0 for reason in DROP_REASONS}
        self._topics: dict[str, _Topic] = {}
        self._last_bad_input = -float("inf")
        self._ignored_lost = 0

    def _topic(self, topic: str) -> _Topic:
        return self._topics.setdefault(topic, _Topic())

    def arrived(self, topic: str, publisher: bytes | None, seq: int | None, reliable: bool) -> None:
        """A frame reached the callback; frames its publisher sent since the previous one did not."""
        with self._lock:
            self._received += 1
            state = self._topic(topic)
            state.last_arrival = self._clock()
            if publisher is None or seq is None:  # an RMW without sequence numbers: no gap accounting
                return
            previous = state.last_seq.get(publisher)
            state.last_seq[publisher] = seq
            # Frames before the first one seen may predate the subscription: not counted as missing.
            missing = 0 if previous is None else seq - previous - 1
            if missing <= 0:  # the first, a repeat, or a restarted sequence: nothing to count
                return
            if reliable:
                self._drops["superseded"] += missing
            else:
                state.missing += missing

    def lost_reported(self, topic: str, change: int, reliable: bool) -> int:
        """The middleware says ``change`` frames were lost on ``topic``; returns how many were counted.

        On a reliable subscription nothing is counted here (the gaps count those frames as superseded).
        """
        with self._lock:
            if not isinstance(change, int) or not 1 <= change <= MAX_LOST_PER_EVENT:
                self._ignored_lost += 1
                return 0
            if reliable:
                return 0
            self._topic(topic).reported += change
            return change

    def forget(self, topic: str) -> None:
        """A new subscription on ``topic``: sequence numbers start over (frames in between are unknown)."""
        with self._lock:
            state = self._topic(topic)
            self._drops["superseded"] += state.superseded
            self._drops["lost"] += state.reported
            self._topics[topic] = _Topic(last_arrival=state.last_arrival)

    def dropped(self, reason: str, n: int = 1) -> None:
        if reason not in self._drops:
            raise ValueError(f"unknown drop reason {reason!r}")
        with self._lock:
            self._drops[reason] += n
            if reason in BAD_INPUT:
                self._last_bad_input = self._clock()

    def processed(self, n: int = 1) -> None:
        with self._lock:
            self._processed += n

    def snapshot(self) -> Snapshot:
        with self._lock:
            drops = dict(self._drops)
            drops["superseded"] += sum(s.superseded for s in self._topics.values())
            drops["lost"] += sum(s.reported for s in self._topics.values())
            return Snapshot(self._received, self._processed, drops, self._last_bad_input,
                            {t: s.last_arrival for t, s in self._topics.items()}, self._ignored_lost)
