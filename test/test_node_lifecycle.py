"""pose_node as a managed (lifecycle) node, and one node serving several cameras.

The transitions are driven over real DDS through the lifecycle services (lifecycle_msgs), as a
lifecycle manager (Nav2's, launch_ros's) drives them.
"""
from __future__ import annotations

import os
import signal

import pytest

pytest.importorskip("rclpy")  # before the imports below: without ROS 2 the module is skipped
pytest.importorskip("ros2_openpose.msg")

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState

from ros2_openpose.ros.startup import StartupError
from ros_harness import Harness, context, harness, scene

pytestmark = pytest.mark.ros


class Manager:
    """A lifecycle manager's view of one node: its change_state and get_state services."""

    def __init__(self, h: Harness, node_name: str, timeout: float = 10.0) -> None:
        self.h = h
        self.change = h.client.create_client(ChangeState, f"{node_name}/change_state")
        self.get = h.client.create_client(GetState, f"{node_name}/get_state")
        assert self.change.wait_for_service(timeout_sec=timeout) and self.get.wait_for_service(timeout_sec=timeout)

    def _call(self, client, request):
        future = client.call_async(request)
        self.h.wait(future.done, f"{client.srv_name} answered", timeout=60)
        return future.result()

    def state(self) -> str:
        return self._call(self.get, GetState.Request()).current_state.label

    def transition(self, transition_id: int) -> bool:
        return self._call(self.change, ChangeState.Request(transition=Transition(id=transition_id))).success


def _subscribed(h: Harness) -> bool:
    return h.pubs[0].get_subscription_count() > 0


def test_managed_transitions_over_dds(harness):
    h = harness(managed=True)
    manager = Manager(h, h.node.get_fully_qualified_name())
    assert manager.state() == "unconfigured" and h.node.estimator is None and not _subscribed(h)

    assert manager.transition(Transition.TRANSITION_CONFIGURE)
    assert manager.state() == "inactive" and h.node.estimator is not None  # model loaded and warmed
    assert h.node.outputs["skeleton"].get_subscription_count() == 0 and not _subscribed(h)

    assert manager.transition(Transition.TRANSITION_ACTIVATE)
    assert manager.state() == "active"
    h.wait_matched()
    h.roundtrip()

    assert manager.transition(Transition.TRANSITION_DEACTIVATE)
    assert manager.state() == "inactive"
    h.wait(lambda: not _subscribed(h), "the image subscription gone")
    assert h.counts().processed == 1

    assert manager.transition(Transition.TRANSITION_ACTIVATE)
    h.wait_matched()
    h.roundtrip()
    assert h.counts().processed == 2

    assert manager.transition(Transition.TRANSITION_DEACTIVATE)
    assert manager.transition(Transition.TRANSITION_CLEANUP)
    assert manager.state() == "unconfigured" and h.node.estimator is None and h.node.outputs == {}
    assert manager.transition(Transition.TRANSITION_CONFIGURE)
    assert manager.transition(Transition.TRANSITION_INACTIVE_SHUTDOWN)
    assert manager.state() == "finalized" and h.node.estimator is None and not _subscribed(h)


def test_failed_configure_stays_unconfigured(harness):
    """A configure that cannot load what the parameters ask for fails the transition, says why, and
    leaves the node unconfigured (a manager may retry after fixing parameters)."""
    h = harness(managed=True, model_type="cmu")
    manager = Manager(h, h.node.get_fully_qualified_name())
    assert not manager.transition(Transition.TRANSITION_CONFIGURE)
    assert manager.state() == "unconfigured" and h.node.estimator is None
    h.wait(lambda: any("configure failed: model_type='cmu'" in t for t in h.logs()), "the reason logged")


def test_unmanaged_node_starts_active(harness):
    h = harness()
    assert h.node.state == "active" and _subscribed(h)
    with pytest.raises(StartupError):
        harness(skeleton="coco18")  # unmanaged, a failed configure is the constructor's error


@pytest.mark.slow
def test_managed_executable_waits_for_its_manager(harness):
    """``pose_node --ros-args -p managed:=true`` loads nothing until configured, serves once activated."""
    from test_node_process import PARAMS_FILE, Proc, _pose_node

    h = harness()  # a client on the same domain
    node = Proc(_pose_node("--params-file", PARAMS_FILE, "-p", "weights:=demo", "-p", "managed:=true",
                           "-r", "__ns:=/managed"), int(os.environ["ROS_DOMAIN_ID"]))
    try:
        manager = Manager(h, "/managed/pose_node", timeout=120)  # the process imports torch first
        assert manager.state() == "unconfigured" and not any("model " in line for line in node.err)
        assert manager.transition(Transition.TRANSITION_CONFIGURE)
        node.wait_for("model demo_synthetic")
        assert manager.transition(Transition.TRANSITION_ACTIVATE)
        node.wait_for("serving /managed/image")
        assert manager.state() == "active"
    finally:
        node.signal(signal.SIGINT)
    assert node.finish() == 0 and "Traceback" not in node.stderr, node.stderr


# -------------------------------------------------------------------------------- several cameras

def test_cameras_batched_each_answer_with_its_own_header(harness):
    """Frames of two cameras that wait together go through one forward pass (batch of 2); each
    PersonArray carries its own camera's header."""
    from test_ros_node import assert_matches_annotations

    h = harness(images=["front/image", "rear/image"])
    assert [i.topic for i in h.node.inputs] == [f"{h.ns}/front/image", f"{h.ns}/rear/image"]
    h.net.hold()
    h.publish(frame_id="front0", camera=0)
    assert h.net.entered.wait(10)
    front = h.publish(frame_id="front1", camera=0)
    rear = h.publish(frame_id="rear1", camera=1)
    h.wait(lambda: h.counts().received == 3, "both cameras' frames waiting")
    h.net.release()
    h.settled(3)
    assert h.net.batches[-2:] == [1, 2]  # the held frame alone, then both cameras at once
    for header in (front, rear):
        msg = h.answer(header)
        assert msg.header.frame_id == header.frame_id and msg.header.stamp == header.stamp
        assert_matches_annotations(msg, h.truth)
    assert h.counts().dropped == 0


def test_one_camera_does_not_supersede_another(harness):
    h = harness(images=["left/image", "right/image"], transport="compressed")
    assert [i.topic for i in h.node.inputs] == [f"{h.ns}/left/image/compressed", f"{h.ns}/right/image/compressed"]
    h.net.hold()
    h.publish(frame_id="left0", camera=0)
    assert h.net.entered.wait(10)
    headers = {}
    for i, frame_id in enumerate(["right0", "right1", "right2", "left1"], start=2):
        headers[frame_id] = h.publish(frame_id=frame_id, camera=0 if frame_id.startswith("left") else 1)
        h.wait(lambda i=i: h.counts().received == i, f"{frame_id} received")  # one by one: no DDS queue in between
    h.net.release()
    h.settled(5)
    counts = h.counts()
    assert counts.drops["superseded"] == 2 and counts.processed == 3  # right0 and right1 replaced by right2
    h.answer(headers["left1"]), h.answer(headers["right2"])
    assert not h.answered(headers["right0"]) and not h.answered(headers["right1"])


def test_images_must_name_distinct_topics(harness):
    with pytest.raises(StartupError, match="names a topic twice"):
        harness(images=["image", "image"])
    with pytest.raises(StartupError, match="images"):
        harness(images=["bad topic!"])
