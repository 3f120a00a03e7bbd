"""pose_node overhead: publish -> PersonArray received, minus the time spent inside the estimator.

    source tools/env.sh && python benchmarks/bench_node.py
    python benchmarks/bench_node.py --frames 50 --sizes 640x480 1920x1080

The node runs in this process with the test-double network (test/doubles.py: ideal maps of a real
COCO image's annotated people, resized to each frame size) and a client node publishes bgr8 Images over
Fast DDS in lockstep (next frame after the previous PersonArray arrived), so no frame is dropped.
For every frame: total = PersonArray arrival - publish (wall clock in this process), estimator = the
``estimate`` call (letterbox + network + decode), overhead = the difference: DDS both ways (the raw
image included), image decode, message conversion, executor hand-offs.  Prints the median per size
as markdown rows, with the machine.  Target: overhead < 5 ms at 640x480.

Each size runs twice: with only ``poses`` subscribed (what a robot's consumer costs), and with
``poses/annotated`` and ``poses/markers`` subscribed too (RViz open: skeletons drawn, a bgr8 image and a
MarkerArray published per frame); the second also reports publish -> annotated image received.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import rclpy
import torch
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from doubles import AnnotationNet, load_scene
from machine import describe
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.msg import PersonArray
from ros2_openpose.ros.image_io import to_image_msg
from ros2_openpose.ros.node import PoseNode

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ROS2_OPENPOSE_DATA", REPO.parent / "shared" / "data")) / "real-keypoints"


class TimedEstimator(PoseEstimator):
    """Records how long each ``estimate`` call takes (the part of the latency the node does not own)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seconds: list[float] = []

    def estimate(self, image):
        start = time.perf_counter()
        people = super().estimate(image)
        self.seconds.append(time.perf_counter() - start)
        return people


def bench_size(context, scene, size: tuple[int, int], frames: int, input_size: int, outputs: bool) -> dict:
    w, h = size
    src = scene.image
    image = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)
    kps = scene.keypoints.copy()
    kps[..., 0] *= w / src.shape[1]
    kps[..., 1] *= h / src.shape[0]
    estimator = TimedEstimator(network=AnnotationNet({(h, w): kps}, input_size), device="cpu", input_size=input_size)
    ns = f"/bench{os.getpid()}_{w}x{h}"
    node = PoseNode(estimator=estimator, context=context, namespace=ns)
    client = Node("bench_client", context=context, namespace=ns)
    arrived, drawn = threading.Event(), threading.Event()
    arrival: dict = {}

    def on_poses(msg: PersonArray) -> None:
        arrival["t"], arrival["stamp"], arrival["people"] = time.perf_counter(), msg.header.stamp, len(msg.people)
        arrived.set()

    reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    pub = client.create_publisher(Image, "image", reliable)
    client.create_subscription(PersonArray, "poses", on_poses, reliable)
    if outputs:
        def on_annotated(msg: Image) -> None:
            arrival["drawn_t"], arrival["drawn_stamp"] = time.perf_counter(), msg.header.stamp
            drawn.set()
        client.create_subscription(Image, "poses/annotated", on_annotated, reliable)
        client.create_subscription(MarkerArray, "poses/markers", lambda msg: None, reliable)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        deadline = time.monotonic() + 10
        while (pub.get_subscription_count() == 0 or client.count_publishers(node.resolve_topic_name("poses")) == 0
               or (outputs and node.outputs["annotated"].get_subscription_count() == 0)):
            if time.monotonic() > deadline:
                raise RuntimeError("discovery timed out")
            time.sleep(0.05)
        time.sleep(0.3)
        totals, inner, people, annotated = [], [], [], []
        for i in range(frames + 3):  # the first 3 warm DDS and the caches up
            msg = to_image_msg(image, client.get_clock().now().to_msg(), "camera")  # built before the clock starts
            arrived.clear()
            drawn.clear()
            n_before = len(estimator.seconds)
            start = time.perf_counter()
            pub.publish(msg)
            if not arrived.wait(10) or arrival["stamp"] != msg.header.stamp:
                raise RuntimeError(f"frame {i}: no PersonArray")
            if outputs and (not drawn.wait(10) or arrival["drawn_stamp"] != msg.header.stamp):
                raise RuntimeError(f"frame {i}: no annotated image")
            if i >= 3:
                totals.append(arrival["t"] - start)
                inner.append(estimator.seconds[n_before])
                people.append(arrival["people"])
                if outputs:
                    annotated.append(arrival["drawn_t"] - start)
            time.sleep(0.01)
    finally:
        executor.shutdown()
        spinner.join(timeout=5)
        node.destroy_node()
        client.destroy_node()
    overhead = [t - e for t, e in zip(totals, inner, strict=True)]
    return {"size": f"{w}x{h}", "outputs": "poses + annotated + markers" if outputs else "poses",
            "annotated_ms": statistics.median(annotated) * 1e3 if annotated else float("nan"),
            "frames": len(totals), "people": statistics.median(people),
            "total_ms": statistics.median(totals) * 1e3, "estimator_ms": statistics.median(inner) * 1e3,
            "overhead_ms": statistics.median(overhead) * 1e3,
            "overhead_p90_ms": float(np.percentile(overhead, 90)) * 1e3}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--sizes", nargs="+", default=["640x480", "1920x1080"])
    parser.add_argument("--input-size", type=int, default=368)
    parser.add_argument("--data", type=Path, default=DATA / "coco-mini-train2017")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    scene = load_scene(args.data)
    domain = 1 + os.getpid() % 200
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    try:
        rows = [bench_size(context, scene, tuple(int(v) for v in s.split("x")), args.frames, args.input_size, outputs)
                for s in args.sizes for outputs in (False, True)]
    finally:
        rclpy.try_shutdown(context=context)
    print(f"pose_node overhead ({scene.file.name}, {len(scene.keypoints)} annotated people, input {args.input_size}, "
          f"test-double network, bgr8 over Fast DDS in one process; median of {args.frames} frames)")
    print(f"machine: {describe()}\n")
    print("| image | subscribed | people | publish->PersonArray ms | estimator ms | node overhead ms (median) "
          "| overhead p90 ms | publish->annotated ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['outputs']} | {r['people']:.0f} | {r['total_ms']:.2f} | {r['estimator_ms']:.2f} | "
              f"{r['overhead_ms']:.2f} | {r['overhead_p90_ms']:.2f} | {r['annotated_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
