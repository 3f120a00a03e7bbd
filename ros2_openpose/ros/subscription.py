"""One image input topic: its subscription, a QoS that delivers, and the count of what arrives.

``qos_reliability: auto`` (the default) subscribes with the reliability of the publishers on the
topic and re-subscribes when they change: reliable while every publisher is reliable (or none is
there yet), best effort as soon as one publishes best effort (a reliable subscription would not match
it).  Reliable matters for large raw images: across processes Fast DDS loses most best-effort samples
bigger than its shared-memory segment (ros2/rmw_fastrtps#739), while a reliable camera delivers every
frame.  The history is keep-last 1 either way, so nothing queues behind a slow model.

Every message is taken with its ``MessageInfo`` (publisher id and sequence number) so that frames the
publisher sent but the node never got are counted too (``accounting.FrameLedger``).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

try:
    from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks, UnsupportedEventTypeError

from .accounting import FrameLedger
from .frames import Frame

if TYPE_CHECKING:  # a TypedDict in recent rclpy releases only: for the annotation, never imported
    from rclpy.subscription import MessageInfo

RELIABILITY_CHOICES = ("auto", "reliable", "best_effort")
POLL_S = 0.5  # how often auto looks at the publishers (a graph query, no traffic)


def choose_reliability(setting: str, offered: list[ReliabilityPolicy]) -> ReliabilityPolicy:
    """The reliability to subscribe with, given the setting and the publishers' reliabilities."""
    if setting == "reliable":
        return ReliabilityPolicy.RELIABLE
    if setting == "best_effort":
        return ReliabilityPolicy.BEST_EFFORT
    if any(policy == ReliabilityPolicy.BEST_EFFORT for policy in offered):
        return ReliabilityPolicy.BEST_EFFORT
    return ReliabilityPolicy.RELIABLE


class ImageInput:
    """Subscribes ``topic`` for camera ``camera`` and hands each message to ``deliver`` as a Frame."""

    def __init__(self, node: Node, topic: str, msg_type: type, setting: str, camera: int,
                 ledger: FrameLedger, deliver: Callable[[Frame], None]) -> None:
        self.node, self.msg_type, self.setting, self.camera = node, msg_type, setting, camera
        self.topic = node.resolve_topic_name(topic)
        self.ledger, self.deliver = ledger, deliver
        self.reliability: ReliabilityPolicy | None = None
        self.publishers = 0
        self.publishers_since = float("inf")  # monotonic time publishers appeared (inf: none now)
        self._subscription: Any = None
        self._timer: Any = None

    @property
    def reliable(self) -> bool:
        return self.reliability == ReliabilityPolicy.RELIABLE

    def start(self) -> None:
        self._poll()
        self._timer = self.node.create_timer(POLL_S, self._poll)

    def stop(self) -> None:
        if self._timer is not None:
            self.node.destroy_timer(self._timer)
            self._timer = None
        self._unsubscribe()

    def _unsubscribe(self) -> None:
        if self._subscription is not None:
            self.node.destroy_subscription(self._subscription)
            self._subscription = None

    def _poll(self) -> None:
        """Follow the publishers: count them and, with ``auto``, re-subscribe when they need it."""
        offered = [info.qos_profile.reliability for info in self.node.get_publishers_info_by_topic(self.topic)]
        if offered and not self.publishers:
            self.publishers_since = time.monotonic()
        elif not offered:
            self.publishers_since = float("inf")
        self.publishers = len(offered)
        wanted = choose_reliability(self.setting, offered)
        if wanted != self.reliability:
            self._subscribe(wanted)

    def _subscribe(self, reliability: ReliabilityPolicy) -> None:
        self._unsubscribe()
        if self.reliability is not None:
            self.node.get_logger().info(f"{self.topic}: publishers changed, subscribing "
                                        f"{reliability.name.lower()} (qos_reliability: {self.setting})")
        self.reliability = reliability
        self.ledger.forget(self.topic)
        qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=reliability,
                         durability=DurabilityPolicy.VOLATILE)
        events = SubscriptionEventCallbacks(message_lost=self._on_lost, incompatible_qos=self._on_incompatible)
        try:
            self._subscription = self.node.create_subscription(self.msg_type, self.topic, self._on_message, qos,
                                                               event_callbacks=events)
        except UnsupportedEventTypeError:  # an RMW without these events: serve without them
            self._subscription = self.node.create_subscription(self.msg_type, self.topic, self._on_message, qos)

    def _on_message(self, msg: Any, info: MessageInfo) -> None:
        gid = info.get("publisher_gid") or {}
        publisher = bytes(gid["data"]) if gid.get("data") is not None else None
        self.ledger.arrived(self.topic, publisher, info.get("publication_sequence_number"), self.reliable)
        self.deliver(Frame(msg, time.monotonic(), self.camera))

    def _on_lost(self, info: Any) -> None:
        change = int(info.total_count_change)
        counted = self.ledger.lost_reported(self.topic, change, self.reliable)
        if self.reliable:  # replaced in the keep-last queue, not lost: the sequence gaps count them
            return
        if counted:
            self.node.get_logger().warning(
                f"{self.topic}: {change} frame(s) lost in transport (best effort; a reliable camera with "
                "qos_reliability: auto or reliable loses none)", throttle_duration_sec=10.0)
        else:
            self.node.get_logger().warning(f"{self.topic}: ignored an implausible lost count from the middleware "
                                           f"({change})", throttle_duration_sec=10.0)

    def _on_incompatible(self, info: Any) -> None:
        if self.setting == "auto":
            self._poll()  # a best-effort publisher appeared: re-match now, not at the next poll
        else:
            self.node.get_logger().warning(
                f"{self.topic}: a publisher's QoS does not match qos_reliability: {self.setting}; "
                "its frames never arrive (qos_reliability: auto follows the publishers)",
                throttle_duration_sec=10.0)
