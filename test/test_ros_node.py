"""pose_node over real rclpy and Fast DDS, with the colcon-built messages and the shipped params/pose.yaml.

The data path, live parameters, bad input, diagnostics, the latched skeleton and what the node says
about its model.  Delivery, QoS and frame accounting: test_node_delivery.py; lifecycle and several
cameras: test_node_lifecycle.py; the executables as processes: test_node_process.py.
"""
from __future__ import annotations

import math
import struct
import time

import numpy as np
import pytest
import torch

pytest.importorskip("rclpy")  # before the imports below: without ROS 2 the module is skipped
pytest.importorskip("ros2_openpose.msg")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.msg import Log, Parameter as ParameterMsg, ParameterType, ParameterValue
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from visualization_msgs.msg import Marker, MarkerArray

from doubles import OomNet
from ros2_openpose.assets import SYNTHETIC_WARNING, describe_model
from ros2_openpose.config import DecodeConfig
from ros2_openpose.msg import PersonArray, SkeletonInfo
from ros2_openpose.ros import diagnostics
from ros2_openpose.ros.image_io import to_image_msg
from ros2_openpose.ros.node import PoseNode
from ros2_openpose.ros.startup import StartupError
from ros_harness import SHIPPED, Harness, context, harness, scene

pytestmark = pytest.mark.ros


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
    h.wait(lambda: h.node.outputs["markers"].get_subscription_count() > 0 and
           h.node.outputs["annotated"].get_subscription_count() > 0, "output subscriptions")
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


def test_nan_keypoints_survive_the_wire(harness):
    h = harness()
    msg = h.roundtrip()
    missing = [k for p in msg.people for k in p.keypoints if k.score == 0]
    assert missing, "the chosen scene should have unlabelled keypoints"
    assert all(math.isnan(k.x) and math.isnan(k.y) for k in missing)


# -------------------------------------------------------------------------------- parameters

def _remote(h: Harness) -> AsyncParameterClient:
    client = AsyncParameterClient(h.client, h.node.get_fully_qualified_name())
    assert client.wait_for_services(timeout_sec=10.0)
    return client


def _call(h: Harness, future, timeout: float = 10.0):
    h.wait(future.done, "a parameter service response", timeout)
    return future.result()


def test_live_threshold_change(harness):
    h = harness()
    assert len(h.roundtrip().people) == len(h.truth)
    remote = _remote(h)
    result = _call(h, remote.set_parameters([Parameter("heatmap_threshold", value=0.99)])).results[0]
    assert result.successful, result.reason
    assert h.node.estimator.config.heatmap_threshold == 0.99
    assert len(h.roundtrip().people) < len(h.truth)
    assert h.node.set_parameters([Parameter("heatmap_threshold", value=0.1),
                                  Parameter("min_parts", value=17)])[0].successful
    people = h.roundtrip().people
    assert all(sum(k.score > 0 for k in p.keypoints) >= 17 for p in people)
    assert len(people) < len(h.truth)


def test_decode_parameters_default_to_the_models_own(harness):
    """Unset decode parameters take the estimator's (the model card's) settings and show them; a -p or
    yaml value still wins; both stay live."""
    own = DecodeConfig(heatmap_threshold=0.05, min_parts=4)
    h = harness(decode=own)
    assert h.node.estimator.config == own
    assert h.node.get_parameter("heatmap_threshold").value == 0.05
    assert h.node.get_parameter("min_parts").value == 4
    assert h.node.get_parameter("paf_threshold").value == DecodeConfig().paf_threshold
    fixed = harness(decode=own, heatmap_threshold=0.3)
    assert fixed.node.estimator.config.heatmap_threshold == 0.3
    assert fixed.node.get_parameter("heatmap_threshold").value == 0.3
    assert fixed.node.estimator.config.min_parts == 4
    assert fixed.node.set_parameters([Parameter("heatmap_threshold", value=0.2)])[0].successful
    assert fixed.node.estimator.config.heatmap_threshold == 0.2


def test_refused_parameters(harness):
    h = harness()
    before = h.node.estimator.config
    remote = _remote(h)
    bad = _call(h, remote.set_parameters([Parameter("paf_threshold", value=1.5)])).results[0]
    assert not bad.successful and "paf_threshold" in bad.reason
    assert h.node.estimator.config == before
    ro = _call(h, remote.set_parameters([Parameter("weights", value="/other.pt")])).results[0]
    assert not ro.successful and "read-only" in ro.reason
    ro = h.node.set_parameters([Parameter("input_size", value=184)])[0]
    assert not ro.successful and "read-only" in ro.reason


def test_malformed_parameter_requests_refused(harness):
    """An empty name is refused (rclpy would create a parameter ''); the node keeps serving."""
    h = harness()
    remote = _remote(h)
    empty = _call(h, remote.set_parameters([ParameterMsg(name="", value=ParameterValue(
        type=ParameterType.PARAMETER_INTEGER, integer_value=5))])).results[0]
    assert not empty.successful and "no parameter named ''" in empty.reason
    assert not h.node.has_parameter("")
    assert_matches_annotations(h.roundtrip(), h.truth)


@pytest.mark.parametrize("name, value", [("model_type", "cmu"), ("skeleton", "coco18")])
def test_model_expectation_mismatch_refused(harness, name, value):
    """A network of another type / layout than the parameters name stops the node at start."""
    with pytest.raises(StartupError, match=f"{name}='{value}'"):
        harness(**{name: value})


def test_cpu_threads_sets_torch_threads(harness):
    before = torch.get_num_threads()
    try:
        harness(cpu_threads=2)
        assert torch.get_num_threads() == 2
        harness()  # the shipped default
        assert SHIPPED["cpu_threads"] == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# -------------------------------------------------------------------------------- bad input

def _bad_then_good(h: Harness, msg, reason: str) -> None:
    h.publish(msg=msg)
    h.wait(lambda: h.drops(reason) == 1, f"a '{reason}' drop")
    assert_matches_annotations(h.roundtrip(), h.truth)  # still serving
    h.settled(2)  # the worker counts a frame once its PersonArray is out: the reply can arrive first
    counts = h.counts()
    assert counts.dropped == 1 and counts.processed == 1 and counts.received == 2


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


def test_truncated_and_damaged_jpeg(harness, scene):
    """A truncated JPEG and a bit-flipped one (libjpeg warns while decoding) are corrupt, not people."""
    from test_image_io import damaged_jpeg

    h = harness(transport="compressed")
    data = scene.file.read_bytes()
    h.publish(msg=CompressedImage(format="jpeg", data=data[: len(data) // 2]))
    h.wait(lambda: h.drops("corrupt") == 1, "the truncated JPEG counted corrupt")
    h.publish(msg=CompressedImage(format="jpeg", data=damaged_jpeg(data)))
    h.wait(lambda: h.drops("corrupt") == 2, "the damaged JPEG counted corrupt")
    assert_matches_annotations(h.roundtrip(), h.truth)
    h.settled(3)
    assert h.counts().processed == 1 and h.counts().drops["error"] == 0


def test_png_with_a_fake_header_is_corrupt(harness):
    h = harness(transport="compressed")
    fake = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + struct.pack(">II", 64, 48) + bytes(range(40))  # pixels: none
    _bad_then_good(h, CompressedImage(format="png", data=fake), "corrupt")


def test_decompression_bomb_refused_by_its_header(harness):
    """A small PNG that would decode to 432 MB is refused as too_large from its IHDR: no decoding."""
    from test_image_io import png_bomb

    h = harness(transport="compressed")
    bomb = png_bomb(12000, 12000)
    assert len(bomb) < 1_000_000
    _bad_then_good(h, CompressedImage(format="png", data=bomb), "too_large")


def test_simulated_cuda_oom(harness):
    h = harness(net_cls=OomNet)
    h.net.fail_next()
    h.publish()
    h.wait(lambda: h.drops("out_of_memory") == 1, "an out_of_memory drop")
    assert_matches_annotations(h.roundtrip(), h.truth)


# -------------------------------------------------------------------------------- diagnostics

def _statuses(h: Harness) -> list:
    with h.cond:
        return [s for m in h.received["diagnostics"] for s in m.status
                if s.name == f"{h.node.get_name()}: pose estimation" and s.hardware_id == "cpu"]


def test_diagnostics(harness):
    h = harness()
    h.listen("diagnostics", DiagnosticArray, "/diagnostics")
    h.roundtrip()
    h.publish(msg=Image(height=2, width=2, encoding="32FC1", step=8, data=bytes(16)))
    h.wait(lambda: h.drops("bad_encoding") == 1, "bad_encoding drop")

    def counted() -> list:
        return [s for s in _statuses(h) if {kv.key: kv.value for kv in s.values}.get("dropped_bad_encoding") == "1"]
    h.wait(lambda: bool(counted()), "a diagnostics status counting the drop")
    status = counted()[-1]
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == DiagnosticStatus.WARN and status.message == "dropping bad input frames"
    assert values["frames_received"] == "2" and values["frames_processed"] == "1" and values["device"] == "cpu"
    assert values["state"] == "active" and values["input_0"].endswith("(reliable, 1 publisher(s))")
    assert int(values["people_last_frame"]) == len(h.truth)
    assert float(values["latency_ms"]) > 0 and float(values["fps"]) >= 0
    assert values["dropped_total"] == "1" and values["ignored_lost_events"] == "0"
    assert {f"dropped_{r}" for r in ("superseded", "too_old", "stopped", "lost", "out_of_memory")} <= set(values)
    # A network object runs as it is (no adaptive threads): no thread count to report. Where the estimator
    # chooses the threads per frame, the status says which ran the last frame.
    assert "cpu_threads_in_use" not in values
    snap = h.node.ledger.snapshot()
    info = {**h.node.estimator.info, "threads_in_use": 2}
    chosen = diagnostics.status("n", info, "active", snap, (DiagnosticStatus.OK, "ok"), h.node.times, h.node.inputs)
    assert {kv.key: kv.value for kv in chosen.values}["cpu_threads_in_use"] == "2"


# -------------------------------------------------------------------------------- what the node says

def test_skeleton_info_reaches_late_subscriber(harness):
    h = harness()
    time.sleep(1.0)  # published long before anyone listens
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    h.listen("skeleton", SkeletonInfo, "poses/skeleton", latched)
    h.wait(lambda: bool(h.received["skeleton"]), "SkeletonInfo")
    info = h.received["skeleton"][0]
    skeleton = h.node.skeleton
    assert info.skeleton == "coco17" and list(info.keypoint_names) == list(skeleton.keypoint_names)
    assert list(zip(info.limb_a, info.limb_b, strict=True)) == [tuple(limb) for limb in skeleton.limbs]
    assert list(info.limb_extra) == list(skeleton.extra)
    assert "GatedNet" in info.model


def test_start_log_names_the_model_and_warns_for_synthetic_weights(context):
    """With the shipped demo weights (card: synthetic_only) the node logs which model runs and what it
    was trained on, and a WARNING that it finds no real people; read back from /rosout over DDS."""
    from rclpy.node import Node

    from ros_harness import LATCHED

    node = PoseNode(context=context, namespace="/demo_card",
                    parameter_overrides=[Parameter("weights", value="demo"), Parameter("device", value="cpu")])
    client = Node("log_reader", context=context)
    logs: list[Log] = []
    client.create_subscription(Log, "/rosout", logs.append, LATCHED)
    try:
        from rclpy.executors import SingleThreadedExecutor

        executor = SingleThreadedExecutor(context=context)
        executor.add_node(client)
        deadline = time.monotonic() + 15
        mine = []
        while time.monotonic() < deadline and len(mine) < 2:
            executor.spin_once(timeout_sec=0.1)
            mine = [m for m in logs if m.name == node.get_logger().name and m.level in (Log.INFO, Log.WARN)]
        description = describe_model(node.estimator.model)
        assert "synthetic" in description
        assert any(m.level == Log.INFO and m.msg.startswith(description) for m in mine), [m.msg for m in mine]
        assert any(m.level == Log.WARN and m.msg == SYNTHETIC_WARNING for m in mine), [m.msg for m in mine]
    finally:
        executor.shutdown()
        client.destroy_node()
        node.destroy_node()


def test_real_trained_double_gets_no_synthetic_warning(harness):
    h = harness()
    h.wait(lambda: bool(h.logs()), "the start-up log")
    assert not any(SYNTHETIC_WARNING in text for text in h.logs())
    assert any(text.startswith(describe_model(h.node.estimator.model)) for text in h.logs(Log.INFO))
