"""A PoseNode under test over real rclpy and Fast DDS, with the shipped params/pose.yaml.

The node runs in the test process (its executor in a thread) with a test-double network (test/doubles.py:
ideal maps of real COCO annotations), and a separate client node publishes images and listens to every
output topic and to /rosout, so everything but the network is the code a robot runs.  ``camera_process``
starts test/camera.py, a camera in another process (Fast DDS delivers differently across processes).
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("rclpy")
pytest.importorskip("ros2_openpose.msg")

import rclpy
from rcl_interfaces.msg import Log
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from doubles import AnnotationNet, load_scene
from ros2_openpose.config import DecodeConfig
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.msg import PersonArray
from ros2_openpose.ros.image_io import to_compressed_msg, to_image_msg
from ros2_openpose.ros.node import PoseNode

INPUT_SIZE = 368
REPO = Path(__file__).resolve().parents[1]
SHIPPED = yaml.safe_load((REPO / "params" / "pose.yaml").read_text())["/**"]["ros__parameters"]
RELIABLE = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class GatedNet(AnnotationNet):
    """TEST DOUBLE (AnnotationNet) that can hold the node's worker inside ``forward`` until released,
    so a test decides which frames wait, and records the batch size of every forward pass."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []
        self.entered = threading.Event()
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        self.entered.clear()
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.entered.set()
        if not self._open.wait(30):
            raise RuntimeError("GatedNet was never released")
        self.batches.append(int(x.shape[0]))
        return super().forward(x)


class Harness:
    """A PoseNode plus a client node that publishes images and records every output, one executor thread."""

    def __init__(self, context, scene, transport: str = "raw", net_cls=GatedNet, own_camera: bool = True,
                 decode: DecodeConfig | None = None, **params: Any) -> None:
        self.context = context
        self.image = scene.image
        self.truth = scene.keypoints
        self.net = net_cls({self.image.shape[:2]: scene.keypoints}, INPUT_SIZE)
        # decode: the estimator's own settings, as a model card would give them (None: the originals).
        estimator = PoseEstimator(network=self.net, device="cpu", input_size=INPUT_SIZE, config=decode)
        values = {**SHIPPED, "input_transport": transport, **params}
        values.pop("weights")  # the estimator is injected
        self.ns = f"/t{os.getpid()}_{id(self) % 100000}"
        self.node = PoseNode(estimator=estimator, context=context, namespace=self.ns,
                             parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])
        self.client = Node("pose_test_client", context=context, namespace=self.ns)
        self.cond = threading.Condition()
        self.received: dict[str, list] = {"poses": [], "logs": []}
        compressed = transport == "compressed"
        topics = self.node.values["images"]
        # own_camera=False: the images come from elsewhere (test/camera.py), the client only listens.
        self.pubs = [self.client.create_publisher(CompressedImage if compressed else Image,
                                                  f"{t}/compressed" if compressed else t, RELIABLE)
                     for t in (topics if own_camera else [])]
        self.client.create_subscription(PersonArray, "poses", self._keep("poses"), RELIABLE)
        self.client.create_subscription(Log, "/rosout", self._keep_log, LATCHED)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.client)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        if self.node.state == "active":
            self.wait_matched()

    def wait_matched(self) -> None:
        self.wait(lambda: all(p.get_subscription_count() > 0 for p in self.pubs), "pose_node never subscribed")
        self.wait(lambda: self.node.outputs["poses"].get_subscription_count() > 0, "poses never matched")

    def _keep(self, key: str) -> Callable:
        def callback(msg) -> None:
            with self.cond:
                self.received[key].append(msg)
                self.cond.notify_all()
        return callback

    def _keep_log(self, msg: Log) -> None:
        if msg.name == self.node.get_logger().name:
            self._keep("logs")(msg)

    def listen(self, key: str, msg_type, topic: str, qos: QoSProfile | int = 10) -> None:
        self.received.setdefault(key, [])
        self.client.create_subscription(msg_type, topic, self._keep(key), qos)

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out: {what}")
                self.cond.wait(min(left, 0.05))

    def publish(self, image: np.ndarray | None = None, msg=None, frame_id: str = "camera_optical",
                camera: int = 0, stamp=None):
        stamp = stamp if stamp is not None else self.client.get_clock().now().to_msg()
        pub = self.pubs[camera]
        if msg is None:
            bgr = self.image if image is None else image
            msg = (to_compressed_msg(bgr, stamp, frame_id) if pub.msg_type is CompressedImage
                   else to_image_msg(bgr, stamp, frame_id))
        else:
            msg.header.stamp, msg.header.frame_id = stamp, frame_id
        pub.publish(msg)
        return msg.header

    def answer(self, header, timeout: float = 15.0) -> PersonArray:
        """The PersonArray of the frame with ``header`` (matched by stamp and frame_id)."""
        found: list[PersonArray] = []

        def match() -> bool:
            found[:] = [m for m in self.received["poses"]
                        if m.header.stamp == header.stamp and m.header.frame_id == header.frame_id]
            return bool(found)
        self.wait(match, f"PersonArray for stamp {header.stamp}", timeout)
        return found[0]

    def answered(self, header) -> bool:
        with self.cond:
            return any(m.header.stamp == header.stamp and m.header.frame_id == header.frame_id
                       for m in self.received["poses"])

    def roundtrip(self, image: np.ndarray | None = None) -> PersonArray:
        return self.answer(self.publish(image))

    def counts(self):
        return self.node.ledger.snapshot()

    def drops(self, reason: str) -> int:
        return self.counts().drops[reason]

    def settled(self, sent: int) -> None:
        """Wait until every one of ``sent`` frames is counted somewhere (served or dropped)."""
        self.wait(lambda: (lambda c: c.processed + c.dropped >= sent)(self.counts()),
                  f"{sent} frames accounted for")

    def logs(self, level: int | None = None) -> list[str]:
        with self.cond:
            return [m.msg for m in self.received["logs"] if level is None or m.level == level]

    def close(self) -> None:
        self.net.release() if isinstance(self.net, GatedNet) else None
        self.executor.shutdown()
        self.thread.join(timeout=5)
        self.node.destroy_node()
        self.client.destroy_node()


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


@pytest.fixture
def harness(context, scene):
    made: list[Harness] = []

    def make(**kw) -> Harness:
        made.append(Harness(context, scene, **kw))
        return made[-1]
    yield make
    for h in made:
        h.close()


def camera_process(h: Harness, *args: str) -> subprocess.Popen:
    """test/camera.py publishing on the harness's first image topic from another process."""
    topic = h.node.resolve_topic_name(h.node.values["images"][0])
    return subprocess.Popen([sys.executable, str(REPO / "test" / "camera.py"), "--topic", topic, *args],
                            cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out
