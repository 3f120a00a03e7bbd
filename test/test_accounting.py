"""Frame accounting and the diagnostics level at the function boundary: the cases DDS cannot be made
to produce on demand (a middleware reporting 2**31 - 1 lost frames, a loss rate of exactly 6 %)."""
from __future__ import annotations

import pytest

pytest.importorskip("diagnostic_msgs.msg")

from diagnostic_msgs.msg import DiagnosticStatus

from ros2_openpose.ros.accounting import MAX_LOST_PER_EVENT, FrameLedger
from ros2_openpose.ros.diagnostics import LOSS_WARN, STALL_S, WINDOW_S, InputState, level

pytestmark = pytest.mark.ros
PUB = b"camera-1"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_implausible_lost_counts_are_ignored():
    """Fast DDS reported total_count_change = 2**31 - 1 (and totals near 2**64) when lost and small
    frames alternated; the old node added them up.  Only 1..MAX_LOST_PER_EVENT is a count."""
    ledger = FrameLedger()
    for change in (2**31 - 1, 0, -1, MAX_LOST_PER_EVENT + 1, 2**64 - 1):
        assert ledger.lost_reported("/image", change, reliable=False) == 0
    assert ledger.lost_reported("/image", 1, reliable=False) == 1
    snap = ledger.snapshot()
    assert snap.drops["lost"] == 1 and snap.ignored_lost_events == 5


def test_gaps_on_a_reliable_subscription_are_superseded():
    """Reliable transport retransmits: a frame the callback never saw was replaced in the keep-last queue."""
    ledger = FrameLedger()
    assert ledger.lost_reported("/image", 3, reliable=True) == 0  # the queue's replacements, counted below
    for seq in (5, 6, 10, 11):
        ledger.arrived("/image", PUB, seq, reliable=True)
    snap = ledger.snapshot()
    assert snap.received == 4 and snap.drops["superseded"] == 3 and snap.drops["lost"] == 0


def test_gaps_on_best_effort_split_into_lost_and_superseded():
    ledger = FrameLedger()
    ledger.arrived("/image", PUB, 1, reliable=False)
    assert ledger.lost_reported("/image", 2, reliable=False) == 2  # counted when reported
    ledger.arrived("/image", PUB, 6, reliable=False)  # 4 missing: 2 lost (reported), 2 replaced in the queue
    ledger.arrived("/image", PUB, 9, reliable=False)  # 2 missing, nothing reported: replaced
    snap = ledger.snapshot()
    assert snap.drops["lost"] == 2 and snap.drops["superseded"] == 4 and snap.received == 3
    assert snap.received + snap.drops["lost"] + snap.drops["superseded"] == 9  # every frame sent, once


def test_loss_reports_after_the_gap_count_once():
    """The middleware's lost event may come after the next frame showed the gap: same totals."""
    ledger = FrameLedger()
    ledger.arrived("/image", PUB, 1, reliable=False)
    ledger.arrived("/image", PUB, 6, reliable=False)  # 4 missing, not yet known why
    assert ledger.snapshot().drops["superseded"] == 4
    ledger.lost_reported("/image", 3, reliable=False)  # 3 of them were lost in transport
    ledger.lost_reported("/image", 1, reliable=False)  # lost after the last arrival: no gap yet
    snap = ledger.snapshot()
    assert snap.drops["lost"] == 4 and snap.drops["superseded"] == 0
    ledger.arrived("/image", PUB, 8, reliable=False)  # the gap of that loss shows: nothing twice
    snap = ledger.snapshot()
    assert snap.drops["lost"] == 4 and snap.drops["superseded"] == 1 and snap.received == 3


def test_first_frame_and_restarts_count_nothing_missing():
    """Frames before the first one seen may predate the subscription; a new subscription starts over."""
    ledger = FrameLedger()
    ledger.lost_reported("/image", 2, reliable=False)  # lost before anything arrived
    ledger.arrived("/image", PUB, 40, reliable=False)
    ledger.arrived("/image", b"camera-2", 7, reliable=False)  # another publisher: its own numbering
    ledger.arrived("/image", PUB, 45, reliable=False)  # 4 missing, 2 of them reported lost
    ledger.forget("/image")  # a new subscription: the totals so far stay
    ledger.arrived("/image", PUB, 50, reliable=False)
    ledger.arrived("/image", PUB, 50, reliable=False)  # a repeat is not a gap
    ledger.arrived("/image", None, None, reliable=False)  # an RMW without sequence numbers
    snap = ledger.snapshot()
    assert snap.drops["superseded"] == 2 and snap.drops["lost"] == 2 and snap.received == 6


def test_drops_and_bad_input_time():
    clock = Clock()
    ledger = FrameLedger(clock)
    ledger.dropped("superseded", 3)
    assert ledger.snapshot().last_bad_input == -float("inf")
    ledger.dropped("corrupt")
    assert ledger.snapshot().last_bad_input == 100.0 and ledger.snapshot().dropped == 4
    with pytest.raises(ValueError, match="unknown drop reason"):
        ledger.dropped("nope")


def _inputs(publishers: int = 1, since: float = 0.0) -> list[InputState]:
    return [InputState("/image", True, publishers, since if publishers else float("inf"))]


def test_level_warns_above_the_loss_rate():
    clock = Clock()
    ledger = FrameLedger(clock)
    old = ledger.snapshot()
    for seq in range(1, 97):
        ledger.arrived("/image", PUB, seq, reliable=False)
    ledger.lost_reported("/image", 5, reliable=False)  # 5 of 101: just under 5 %
    assert 5 / 101 <= LOSS_WARN
    assert level(clock.now, ledger.snapshot(), old, _inputs(), True)[0] == DiagnosticStatus.OK
    ledger.lost_reported("/image", 2, reliable=False)  # 7 of 103
    lvl, text = level(clock.now, ledger.snapshot(), old, _inputs(), True)
    assert lvl == DiagnosticStatus.WARN and text == f"7 of 103 frames lost in transport in {WINDOW_S:.0f} s"


def test_level_error_when_publishers_exist_but_nothing_arrives():
    clock = Clock()
    ledger = FrameLedger(clock)
    snap = ledger.snapshot()
    assert level(clock.now, snap, snap, _inputs(since=clock.now - 1), True)[0] == DiagnosticStatus.OK  # just came
    lvl, text = level(clock.now, snap, snap, _inputs(since=clock.now - STALL_S - 1), True)
    assert lvl == DiagnosticStatus.ERROR and text == "1 publisher(s) on /image but no frame arrives"
    assert level(clock.now, snap, snap, _inputs(publishers=0), True)[1] == "waiting for images"
    assert level(clock.now, snap, snap, _inputs(since=0.0), False) == (DiagnosticStatus.OK, "inactive")
    # A camera that streamed and paused is not an error; one whose frames are being lost is.
    ledger.arrived("/image", PUB, 1, reliable=False)
    clock.now += STALL_S + 1
    paused = ledger.snapshot()
    assert level(clock.now, paused, snap, _inputs(since=0.0), True)[0] != DiagnosticStatus.ERROR
    ledger.lost_reported("/image", 3, reliable=False)
    lvl, text = level(clock.now, ledger.snapshot(), paused, _inputs(since=0.0), True)
    assert lvl == DiagnosticStatus.ERROR and text.endswith("no frame arrives, 3 lost in transport")
