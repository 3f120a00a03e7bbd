"""pose_node over real rclpy and Fast DDS, with the colcon-built messages.

The node runs in this process (its executor in a thread) with a test-double network (test/doubles.py:
ideal maps of real COCO annotations), and a separate test node publishes images and listens to every
output topic, so everything but the network is the code a robot runs.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("ros2_openpose.msg")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from doubles import AnnotationNet, OomNet, load_scene  # noqa: E402
from ros2_openpose.estimator import PoseEstimator  # noqa: E402
from ros2_openpose.msg import PersonArray, SkeletonInfo  # noqa: E402
from ros2_openpose.ros.image_io import to_compressed_msg, to_image_msg  # noqa: E402
from ros2_openpose.ros.pose_node import PoseNode  # noqa: E402

pytestmark = pytest.mark.ros

INPUT_SIZE = 368
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def context():
    # A domain of our own, so parallel test runs (or a robot on this machine) never cross-talk.
    domain = 1 + os.getpid() % 200
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain)
    yield ctx
    rclpy.try_shutdown(context=ctx)


@pytest.fixture(scope="module")
def scene(real_data):
    return load_scene(real_data / "coco-mini-train2017")


class Harness:
    """A PoseNode plus a test node that publishes images and records every output, one executor thread."""

    def __init__(self, context, scene, transport: str = "raw", net_cls=AnnotationNet, **params: Any) -> None:
        self.image = scene.image
        self.truth = scene.keypoints
        self.net = net_cls({self.image.shape[:2]: scene.keypoints}, INPUT_SIZE)
        estimator = PoseEstimator(network=self.net, device="cpu", input_size=INPUT_SIZE)
        overrides = [Parameter("input_transport", value=transport)] + [Parameter(k, value=v) for k, v in params.items()]
        ns = f"/t{os.getpid()}_{id(self) % 100000}"
        self.node = PoseNode(estimator=estimator, context=context, namespace=ns, parameter_overrides=overrides)
        self.client = Node("pose_test_client", context=context, namespace=ns)
        self.cond = threading.Condition()
        self.received: dict[str, list] = {"poses": [], "annotated": [], "markers": [], "diagnostics": []}
        reliable = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
        compressed = transport == "compressed"
        self.pub = self.client.create_publisher(CompressedImage if compressed else Image,
                                                "image/compressed" if compressed else "image", reliable)
        self.client.create_subscription(PersonArray, "poses", self._keep("poses"), reliable)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.client)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        self.wait(lambda: self.pub.get_subscription_count() > 0, "pose_node never subscribed")
        self.wait(lambda: self.client.count_publishers(self.node.resolve_topic_name("poses")) > 0, "no poses publisher")

    def _keep(self, key: str) -> Callable:
        def callback(msg) -> None:
            with self.cond:
                self.received[key].append(msg)
                self.cond.notify_all()
        return callback

    def listen(self, key: str, msg_type, topic: str, qos: QoSProfile | int = 10) -> None:
        self.client.create_subscription(msg_type, topic, self._keep(key), qos)

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out: {what}")
                self.cond.wait(min(left, 0.05))

    def publish(self, image: np.ndarray | None = None, msg=None, frame_id: str = "camera_optical"):
        stamp = self.client.get_clock().now().to_msg()
        if msg is None:
            bgr = self.image if image is None else image
            msg = (to_compressed_msg(bgr, stamp, frame_id) if isinstance(self.pub.msg_type(), CompressedImage)
                   else to_image_msg(bgr, stamp, frame_id))
        else:
            msg.header.stamp, msg.header.frame_id = stamp, frame_id
        self.pub.publish(msg)
        return msg.header

    def answer(self, header, timeout: float = 10.0) -> PersonArray:
        """The PersonArray of the frame with ``header`` (matched by stamp)."""
        found: list[PersonArray] = []

        def match() -> bool:
            found[:] = [m for m in self.received["poses"] if m.header.stamp == header.stamp]
            return bool(found)
        self.wait(match, f"PersonArray for stamp {header.stamp}", timeout)
        return found[0]

    def roundtrip(self, image: np.ndarray | None = None) -> PersonArray:
        return self.answer(self.publish(image))

    def drops(self, reason: str) -> int:
        return self.node.stats()["dropped"][reason]

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(timeout=5)
        self.node.destroy_node()
        self.client.destroy_node()


@pytest.fixture
def harness(context, scene):
    made: list[Harness] = []

    def make(**kw) -> Harness:
        made.append(Harness(context, scene, **kw))
        return made[-1]
    yield make
    for h in made:
        h.close()


def assert_matches_annotations(msg: PersonArray, truth: np.ndarray, tol: float = 0.05) -> None:
    """Exactly the annotated people: one per annotation, each labelled keypoint found where it was
    labelled (``tol`` px: the double's ideal maps decode to the labels), nothing found that was not
    labelled, and NaN x/y with score 0 for those (never a fake pixel 0, 0)."""
    people = [np.array([[k.x, k.y, k.score] for k in p.keypoints], np.float32) for p in msg.people]
    assert len(people) == len(truth)
    unmatched = list(range(len(people)))
    for ann in truth:
        labelled = ann[:, 2] > 0
        errors = [float(np.abs(people[i][labelled, :2] - ann[labelled, :2]).max()) for i in unmatched]
        best = people[unmatched.pop(int(np.nanargmin(errors)))]
        found = best[:, 2] > 0
        assert np.array_equal(found, labelled)
        assert np.abs(best[found, :2] - ann[found, :2]).max() <= tol
        assert np.isnan(best[~found, :2]).all() and (best[~found, 2] == 0).all()


# -------------------------------------------------------------------------------- the data path

def test_image_in_people_out(harness):
    h = harness()
    h.listen("annotated", Image, "poses/annotated")
    h.listen("markers", MarkerArray, "poses/markers")
    h.wait(lambda: h.node.pub_markers.get_subscription_count() > 0 and
           h.node.pub_annotated.get_subscription_count() > 0, "output subscriptions")
    header = h.publish(frame_id="cam_front")
    msg = h.answer(header)
    assert msg.header.stamp == header.stamp and msg.header.frame_id == "cam_front"
    assert msg.skeleton == "coco17"
    assert (msg.image_width, msg.image_height) == (h.image.shape[1], h.image.shape[0])
    assert_matches_annotations(msg, h.truth)
    for person in msg.people:
        xs = [k.x for k in person.keypoints if k.score > 0]
        assert person.bbox_x == pytest.approx(min(xs), abs=1e-3)
        assert 0 < person.score <= 1

    h.wait(lambda: h.received["annotated"] and h.received["markers"], "annotated image and markers")
    annotated = h.received["annotated"][0]
    assert annotated.encoding == "bgr8" and annotated.header.stamp == header.stamp
    assert (annotated.width, annotated.height) == (h.image.shape[1], h.image.shape[0])
    markers = h.received["markers"][0].markers
    assert markers[0].action == Marker.DELETEALL
    assert [m.type for m in markers[1:]] == [Marker.LINE_LIST, Marker.SPHERE_LIST] * len(msg.people)
    assert all(m.header.frame_id == "cam_front" for m in markers)
    scale = h.node.values["marker_scale"]
    first = msg.people[0]
    found = [k for k in first.keypoints if k.score > 0]
    spheres = markers[2].points
    assert len(spheres) == len(found)
    assert spheres[0].x == pytest.approx(found[0].x * scale, rel=1e-5)


def test_compressed_input(harness):
    h = harness(transport="compressed")
    msg = h.roundtrip()
    assert_matches_annotations(msg, h.truth)


def test_empty_frame_still_publishes(harness):
    h = harness()
    msg = h.roundtrip(np.zeros((240, 320, 3), np.uint8))
    assert msg.people == [] and (msg.image_width, msg.image_height) == (320, 240)


# -------------------------------------------------------------------------------- parameters

def test_live_threshold_change(harness):
    h = harness()
    assert len(h.roundtrip().people) == len(h.truth)
    result = h.node.set_parameters([Parameter("heatmap_threshold", value=0.99)])[0]
    assert result.successful, result.reason
    assert h.node.estimator.config.heatmap_threshold == 0.99
    assert len(h.roundtrip().people) < len(h.truth)
    assert h.node.set_parameters([Parameter("heatmap_threshold", value=0.1),
                                  Parameter("min_parts", value=17)])[0].successful
    people = h.roundtrip().people
    assert all(sum(k.score > 0 for k in p.keypoints) >= 17 for p in people)
    assert len(people) < len(h.truth)


def test_refused_parameters(harness):
    h = harness()
    before = h.node.estimator.config
    bad = h.node.set_parameters([Parameter("paf_threshold", value=1.5)])[0]
    assert not bad.successful and "paf_threshold" in bad.reason
    assert h.node.estimator.config == before
    # DecodeConfig's own check also guards the callback (ranges beyond the descriptor's).
    direct = h.node._on_set_parameters([Parameter("min_person_score", value=-1.0)])
    assert not direct.successful and "min_person_score" in direct.reason
    ro = h.node.set_parameters([Parameter("weights", value="/other.pt")])[0]
    assert not ro.successful and "read-only" in ro.reason
    ro = h.node.set_parameters([Parameter("input_size", value=184)])[0]
    assert not ro.successful and "read-only" in ro.reason


@pytest.mark.parametrize("name, value", [("model_type", "cmu"), ("skeleton", "coco18")])
def test_model_expectation_mismatch_refused(harness, name, value):
    """A network of another type / layout than the parameters name stops the node at start."""
    from ros2_openpose.ros.pose_node import StartupError

    with pytest.raises(StartupError, match=f"{name}='{value}'"):
        harness(**{name: value})


# -------------------------------------------------------------------------------- load shedding

def test_burst_leaves_no_backlog(harness):
    h = harness()
    h.roundtrip()  # discovery done, node idle
    headers = [h.publish() for _ in range(100)]
    end = time.monotonic()
    last = h.answer(headers[-1], timeout=15)
    assert last.header.stamp == headers[-1].stamp
    assert time.monotonic() - end < 5.0
    time.sleep(0.5)  # anything still queued would show up now
    served = [m for m in h.received["poses"] if any(m.header.stamp == hd.stamp for hd in headers)]
    assert served[-1].header.stamp == headers[-1].stamp
    assert len(served) < 100
    assert h.drops("superseded") > 0


def test_too_old_frames_dropped(harness):
    h = harness(max_age=0.5)
    msg = to_image_msg(h.image, None, "camera")
    old = h.client.get_clock().now() - rclpy.duration.Duration(seconds=5)
    msg.header.stamp = old.to_msg()
    h.pub.publish(msg)
    h.wait(lambda: h.drops("too_old") == 1, "too_old drop")
    h.roundtrip()


def test_transport_losses_are_counted(harness):
    """DDS's message-lost event (best-effort large images over Fast DDS lose most frames across
    processes, docs/ros.md) is counted as a drop and shown on diagnostics; serving goes on."""
    from types import SimpleNamespace

    h = harness()
    h.node._on_lost(SimpleNamespace(total_count_change=3))
    h.node._on_lost(SimpleNamespace(total_count_change=0))
    assert h.drops("lost") == 3 and not h.node.stats()["bad_input_recently"]
    assert_matches_annotations(h.roundtrip(), h.truth)


# -------------------------------------------------------------------------------- bad input

def _bad_then_good(h: Harness, msg, reason: str) -> None:
    h.publish(msg=msg)
    h.wait(lambda: h.drops(reason) == 1, f"a '{reason}' drop")
    assert_matches_annotations(h.roundtrip(), h.truth)  # still serving


@pytest.mark.parametrize("encoding", ["32FC1", "16UC1"])
def test_unsupported_encoding(harness, encoding):
    h = harness()
    msg = Image(height=4, width=4, encoding=encoding, step=16, data=bytes(64))
    _bad_then_good(h, msg, "bad_encoding")


def test_zero_size_frame(harness):
    h = harness()
    _bad_then_good(h, Image(height=0, width=0, encoding="bgr8", step=0), "empty")


def test_truncated_raw_frame(harness):
    h = harness()
    _bad_then_good(h, Image(height=100, width=100, encoding="bgr8", step=300, data=bytes(1000)), "corrupt")


def test_huge_frame(harness):
    h = harness(max_pixels=2_000_000)
    _bad_then_good(h, to_image_msg(np.zeros((1500, 2000, 3), np.uint8)), "too_large")


def test_corrupt_jpeg(harness):
    h = harness(transport="compressed")
    msg = CompressedImage(format="jpeg", data=b"\xff\xd8\xff\xe0 this is not a jpeg" * 10)
    _bad_then_good(h, msg, "corrupt")


def test_simulated_cuda_oom(harness):
    h = harness(net_cls=OomNet)
    h.net.fail_next()
    h.publish()
    h.wait(lambda: h.drops("out_of_memory") == 1, "an out_of_memory drop")
    assert_matches_annotations(h.roundtrip(), h.truth)


def test_diagnostics(harness):
    h = harness()
    h.listen("diagnostics", DiagnosticArray, "/diagnostics")
    h.roundtrip()
    h.publish(msg=Image(height=2, width=2, encoding="32FC1", step=8, data=bytes(16)))
    h.wait(lambda: h.drops("bad_encoding") == 1, "bad_encoding drop")

    def mine() -> list:
        return [s for m in h.received["diagnostics"] for s in m.status
                if s.name.startswith(h.node.get_name()) and s.hardware_id == "cpu" and
                dict((kv.key, kv.value) for kv in s.values).get("dropped_bad_encoding") == "1"]
    h.wait(lambda: bool(mine()), "a diagnostics status counting the drop", timeout=5)
    status = mine()[-1]
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == DiagnosticStatus.WARN
    assert int(values["frames_processed"]) >= 1 and values["device"] == "cpu"
    assert int(values["people_last_frame"]) == len(h.truth)
    assert float(values["latency_ms"]) > 0 and float(values["fps"]) >= 0
    assert {"dropped_superseded", "dropped_too_old", "dropped_lost", "dropped_out_of_memory", "model"} <= set(values)


# -------------------------------------------------------------------------------- latched skeleton

def test_skeleton_info_reaches_late_subscriber(harness):
    h = harness()
    time.sleep(1.0)  # published long before anyone listens
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    h.received["skeleton"] = []
    h.listen("skeleton", SkeletonInfo, "poses/skeleton", latched)
    h.wait(lambda: bool(h.received["skeleton"]), "SkeletonInfo")
    info = h.received["skeleton"][0]
    skeleton = h.node.skeleton
    assert info.skeleton == "coco17" and list(info.keypoint_names) == list(skeleton.keypoint_names)
    assert list(zip(info.limb_a, info.limb_b)) == [tuple(limb) for limb in skeleton.limbs]
    assert list(info.limb_extra) == list(skeleton.extra)
    assert "AnnotationNet" in info.model


# -------------------------------------------------------------------------------- start-up errors

def _run_node(*ros_args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ros2_openpose.ros.pose_node", "--ros-args", *ros_args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60, env=dict(os.environ))


def test_missing_weights_exit_code():
    result = _run_node("-p", "weights:=/nonexistent.pt")
    assert result.returncode == 2, result.stderr
    assert "/nonexistent.pt" in result.stderr and "Traceback" not in result.stderr


def test_no_weights_exit_code():
    result = _run_node()
    assert result.returncode == 2
    assert "no weights configured: set the 'weights' parameter" in result.stderr


def test_incompatible_weights_exit_code(tmp_path):
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"not a checkpoint")
    result = _run_node("-p", f"weights:={bad}")
    assert result.returncode == 2 and str(bad) in result.stderr and "Traceback" not in result.stderr


def test_nan_keypoints_survive_the_wire(harness):
    h = harness()
    msg = h.roundtrip()
    missing = [k for p in msg.people for k in p.keypoints if k.score == 0]
    assert missing, "the chosen scene should have unlabelled keypoints"
    assert all(math.isnan(k.x) and math.isnan(k.y) for k in missing)
