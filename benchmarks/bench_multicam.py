"""Several cameras on CPU: one pose_node batching N image topics vs N pose_nodes, one per camera.

    source tools/env.sh && python benchmarks/bench_multicam.py [--cameras 2] [--hz 15] [--seconds 20] [--rounds 2]

This process plays N cameras (a real COCO picture at 640x480, reliable, ``--hz`` each) and counts the
PersonArrays that come back.  "batched" is one pose_node process with ``images: [cam0/image, ...]``;
"separate" is N pose_node processes with one camera each (``cpu_threads`` 1 each).  Batched runs twice: with
``cpu_threads`` 1 (one core's worth of torch) and with N (as many torch threads as the separate nodes
together).  All use the shipped params and ``--weights`` (default: the shipped demo model).  The runs
alternate ``--rounds`` times so that a change of background load hits all; ratios are taken round by round.
Prints a markdown table with the machine and the load average.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import Image

from machine import describe
from ros2_openpose.msg import PersonArray
from ros2_openpose.ros.image_io import to_image_msg

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ROS2_OPENPOSE_DATA", REPO.parent / "shared" / "data")) / "real-keypoints"
NS = "/multicam"


def start_nodes(mode: str, cameras: int, weights: str, threads: int) -> list[subprocess.Popen]:
    topics = [f"cam{i}/image" for i in range(cameras)]
    groups = [topics] if mode == "batched" else [[t] for t in topics]
    procs = []
    for k, group in enumerate(groups):
        cmd = [sys.executable, "-m", "ros2_openpose.ros.pose_node", "--ros-args", "--params-file",
               str(REPO / "params" / "pose.yaml"), "-p", f"weights:={weights}", "-p", f"cpu_threads:={threads}",
               "-p", f"images:=[{', '.join(group)}]", "-r", f"__ns:={NS}", "-r", f"__node:=pose_node_{k}"]
        procs.append(subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for proc in procs:  # each says "serving" once its model is warm and it subscribes
        for line in proc.stderr:
            if "serving" in line:
                break
        else:
            raise RuntimeError(f"a pose_node ({mode}) exited before serving")
        threading.Thread(target=lambda s: [None for _ in s], args=(proc.stderr,), daemon=True).start()
    return procs


def stop_nodes(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        proc.wait(timeout=60)


def measure(client: Node, pubs: list, frame, hz: float, seconds: float, answers: list) -> dict:
    """Stream every camera at ``hz`` for ``seconds`` after each camera was answered once."""
    stop = threading.Event()

    def stream() -> None:
        period, next_time = 1.0 / hz, time.monotonic()
        while not stop.is_set():
            stamp = client.get_clock().now().to_msg()
            for i, pub in enumerate(pubs):
                pub.publish(to_image_msg(frame, stamp, f"cam{i}"))
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))
    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    deadline = time.monotonic() + 120
    while {m[0] for m in answers} != {f"cam{i}" for i in range(len(pubs))}:
        if time.monotonic() > deadline:
            raise RuntimeError("not every camera was answered")
        time.sleep(0.05)
    time.sleep(2.0)  # past the first frames
    start, first = time.monotonic(), len(answers)
    time.sleep(seconds)
    window = answers[first:]
    stop.set()
    streamer.join()
    elapsed = time.monotonic() - start
    return {"fps": len(window) / elapsed, "latency_ms": statistics.median(m[1] for m in window) * 1000,
            "per_camera": [sum(m[0] == f"cam{i}" for m in window) / elapsed for i in range(len(pubs))]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--hz", type=float, default=15.0, help="frames per second of each camera")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--weights", default="demo")
    args = parser.parse_args()
    picture = sorted((DATA / "coco-mini-train2017").glob("*.jpg"))[0]
    frame = cv2.resize(cv2.imread(str(picture)), (640, 480))
    rclpy.init()
    client = Node("multicam_bench", namespace=NS)
    reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    pubs = [client.create_publisher(Image, f"cam{i}/image", reliable) for i in range(args.cameras)]
    answers: list[tuple[str, float]] = []
    client.create_subscription(PersonArray, "poses", lambda m: answers.append(
        (m.header.frame_id, (client.get_clock().now() - Time.from_msg(m.header.stamp)).nanoseconds / 1e9)),
        QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    threading.Thread(target=executor.spin, daemon=True).start()
    load_before = os.getloadavg()
    rows = []
    runs = [("separate", 1), ("batched", 1), ("batched", args.cameras)]
    for round_ in range(args.rounds):
        for mode, threads in runs:
            procs = start_nodes(mode, args.cameras, args.weights, threads)
            try:
                answers.clear()
                result = measure(client, pubs, frame, args.hz, args.seconds, answers)
            finally:
                stop_nodes(procs)
            rows.append((round_, mode, len(procs), threads, result))
            time.sleep(2.0)
    executor.shutdown()
    load_after = os.getloadavg()
    print(f"\n{describe()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"{args.cameras} cameras, 640x480 at {args.hz:g} Hz each, weights {args.weights}, "
          f"{args.seconds:g} s per run\n")
    print("| round | mode | processes | cpu_threads each | PersonArrays/s (all cameras) | per camera | "
          "median latency ms | / separate |")
    print("|---|---|---|---|---|---|---|---|")
    for i, (round_, mode, n, threads, r) in enumerate(rows):
        base = rows[i - i % len(runs)][4]["fps"]
        cams = ", ".join(f"{v:.1f}" for v in r["per_camera"])
        print(f"| {round_ + 1} | {mode} | {n} | {threads} | {r['fps']:.2f} | {cams} | {r['latency_ms']:.0f} | "
              f"{r['fps'] / base:.2f} |")


if __name__ == "__main__":
    main()
