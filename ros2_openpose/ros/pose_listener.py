"""pose_listener: prints people per frame, writes the annotated video and a summary of the stream.

It exits by itself after ``expect`` PersonArrays, after ``idle_timeout`` seconds without one once the
first has come (``start_timeout`` before it: pose_node loads and warms up its model first), or on
SIGINT / SIGTERM, and always writes ``summary.json`` (frames, frames with people, people, fps, latency)
and ``poses.jsonl`` (one line per PersonArray) into ``out_dir`` first.  ``--help`` lists the parameters.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, ShutdownException
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import Image

from ros2_openpose.msg import PersonArray
from ros2_openpose.video import open_video_writer

from .exits import Signals, run_program
from .image_io import from_image_msg
from .param_table import Param, declare, usage
from .spin import guarded_executor

SUMMARY = ("Listens to 'poses' (and 'poses/annotated'), prints people per frame, writes summary.json, "
           "poses.jsonl and annotated.mp4.")
PARAMS = (
    Param("expect", 0, "Exit after this many PersonArrays; 0 = only on idle_timeout or a signal."),
    Param("idle_timeout", 30.0, "Exit after this many seconds without a PersonArray, once one has come."),
    Param("start_timeout", 120.0, "Exit after this many seconds when no PersonArray has come at all (pose_node "
          "loads and warms up its model before it answers)."),
    Param("out_dir", "out/demo", "Folder for summary.json, poses.jsonl and annotated.mp4."),
)


class PoseListener(Node):
    def __init__(self) -> None:
        super().__init__("pose_listener")
        values = declare(self, PARAMS)
        self.expect = int(values["expect"])
        self.idle_timeout = float(values["idle_timeout"])
        self.start_timeout = float(values["start_timeout"])
        self.out_dir = Path(str(values["out_dir"]))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.records: list[dict] = []
        self.latencies: list[float] = []
        self.first_time = self.last_time = time.monotonic()
        self.writer: cv2.VideoWriter | None = None
        self.log = (self.out_dir / "poses.jsonl").open("w")
        self.create_subscription(PersonArray, "poses", self.on_poses, 50)
        self.create_subscription(Image, "poses/annotated", self.on_annotated, 10)

    def on_poses(self, msg: PersonArray) -> None:
        now = self.get_clock().now()
        latency = (now - Time.from_msg(msg.header.stamp)).nanoseconds / 1e9
        self.latencies.append(latency)
        if not self.records:
            self.first_time = time.monotonic()
        self.last_time = time.monotonic()
        record = {"frame": len(self.records), "stamp": msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
                  "frame_id": msg.header.frame_id, "people": len(msg.people),
                  "scores": [round(float(p.score), 3) for p in msg.people], "latency_s": round(latency, 4)}
        self.records.append(record)
        self.log.write(json.dumps(record) + "\n")
        print(f"frame {record['frame']:4d}: {record['people']} people "
              f"scores={record['scores']} latency={latency * 1000:.0f} ms", flush=True)

    def on_annotated(self, msg: Image) -> None:
        try:
            bgr = from_image_msg(msg)
        except ValueError as err:
            self.get_logger().warning(f"annotated image not written: {err}")
            return
        if self.writer is None:
            h, w = bgr.shape[:2]
            self.writer = open_video_writer(self.out_dir / "annotated.mp4", 10.0, (w, h))
        self.writer.write(bgr)

    def done(self) -> bool:
        if self.expect and len(self.records) >= self.expect:
            return True
        # Before the first PersonArray last_time is the start: a slow start-up is not an idle stream.
        limit = self.idle_timeout if self.records else self.start_timeout
        return time.monotonic() - self.last_time > limit

    def summary(self) -> dict:
        n = len(self.records)
        span = self.last_time - self.first_time
        lat = np.array(self.latencies) if self.latencies else np.zeros(1)
        return {"frames": n, "frames_with_people": sum(r["people"] > 0 for r in self.records),
                "people": sum(r["people"] for r in self.records),
                "fps": round((n - 1) / span, 2) if n > 1 and span > 0 else 0.0,
                "latency_ms_mean": round(float(lat.mean()) * 1000, 1),
                "latency_ms_p95": round(float(np.percentile(lat, 95)) * 1000, 1),
                "annotated_video": str(self.out_dir / "annotated.mp4") if self.writer else None}

    def close(self) -> dict:
        if self.writer is not None:
            self.writer.release()
        self.log.close()
        summary = self.summary()
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        return summary


def main(args: list[str] | None = None) -> int:
    return run_program("pose_listener", args, _run, lambda: usage("pose_listener", SUMMARY, PARAMS))


def _run(args: list[str] | None, signals: Signals) -> int:
    rclpy.init(args=args)
    node = PoseListener()
    executor = guarded_executor(node)  # before serving(): see guarded_executor
    signals.serving()  # from here a signal ends the loop below and the summary is still written
    node.get_logger().info(f"listening on {node.resolve_topic_name('poses')}, writing to {node.out_dir}")
    try:
        while rclpy.ok() and not signals.stop.is_set() and not node.done():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException, ShutdownException):
        pass
    summary = node.close()
    print("summary: " + json.dumps(summary), flush=True)
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
    return 0 if summary["frames"] > 0 or signals.received else 1


if __name__ == "__main__":
    raise SystemExit(main())
