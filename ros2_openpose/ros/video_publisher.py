"""video_publisher: streams a video file or a camera as sensor_msgs/Image on ``image``.

In lockstep mode it waits for the PersonArray of each frame (matched by stamp) before sending the
next, so every frame is processed even when inference is slower than the video; otherwise it streams
at ``fps`` and pose_node drops what it cannot keep up with, as with a real camera.  SIGINT or SIGTERM
stop it between frames (exit 0); ``--help`` lists the parameters.
"""
from __future__ import annotations

import sys
import threading
import time

import cv2
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from ros2_openpose.msg import PersonArray

from .exits import Signals, run_program
from .image_io import to_image_msg
from .param_table import Param, declare, usage
from .spin import spin_node

SUMMARY = "Streams a video file or a camera as sensor_msgs/Image on 'image' (the demo's camera)."
PARAMS = (
    Param("source", "", "Video file or camera index to stream."),
    Param("fps", 0.0, "Frames per second when not in lockstep; 0 = the video's own rate (else 10)."),
    Param("frames", 0, "Stop after this many frames; 0 = the whole video."),
    Param("frame_id", "camera", "frame_id of the published images."),
    Param("lockstep", False, "Wait for each frame's PersonArray (matched by stamp) before sending the next."),
    Param("lockstep_timeout", 10.0, "Seconds to wait for a PersonArray in lockstep before going on."),
    Param("wait_for_subscriber", 120.0, "Seconds to wait for pose_node to subscribe before streaming."),
    Param("poses_subscribers", 0, "Subscriptions on 'poses' to wait for before streaming (a listener that "
          "must see every frame; in lockstep this node's own subscription counts too)."),
)


class VideoPublisher(Node):
    def __init__(self, stop: threading.Event) -> None:
        super().__init__("video_publisher")
        self.stop = stop
        values = declare(self, PARAMS)
        self.source, self.fps, self.max_frames = str(values["source"]), float(values["fps"]), int(values["frames"])
        self.frame_id, self.lockstep = str(values["frame_id"]), bool(values["lockstep"])
        self.timeout, self.wait_for_subscriber = float(values["lockstep_timeout"]), float(values["wait_for_subscriber"])
        self.poses_subscribers = int(values["poses_subscribers"])
        if not self.source:
            raise ValueError("parameter 'source' is empty: give a video file or a camera index")
        self.capture = cv2.VideoCapture(int(self.source) if self.source.isdigit() else self.source)
        if not self.capture.isOpened():
            raise FileNotFoundError(f"cannot open video source {self.source!r}")
        if self.fps <= 0:
            self.fps = self.capture.get(cv2.CAP_PROP_FPS) or 10.0
        # Reliable so that no frame is lost on the wire; pose_node's qos_reliability: auto follows it.
        self.pub = self.create_publisher(Image, "image", QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE))
        self.answered = threading.Event()
        self.waiting_for = None
        if self.lockstep:
            self.create_subscription(PersonArray, "poses", self.on_poses, 10)

    def on_poses(self, msg: PersonArray) -> None:
        if self.waiting_for is not None and msg.header.stamp == self.waiting_for:
            self.answered.set()

    def _pause(self, seconds: float, until: threading.Event | None = None) -> bool:
        """Wait ``seconds`` (or until ``until`` is set); False when a stop was asked for."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and self.context.ok():
            left = deadline - time.monotonic()
            if left <= 0 or (until is not None and until.is_set()):
                return True
            (until or self.stop).wait(min(left, 0.1))
        return False

    def stream(self) -> int:
        """Publish frames until the source ends, ``frames`` were sent, or a stop; returns the count sent."""
        # pose_node loads and warms up its model before it subscribes: frames sent earlier are lost.
        deadline = time.monotonic() + self.wait_for_subscriber
        while (self.pub.get_subscription_count() == 0 or self.count_subscribers("poses") < self.poses_subscribers) \
                and time.monotonic() < deadline and self._pause(0.1):
            pass
        sent, period = 0, 1.0 / self.fps
        next_time = time.monotonic()
        while not self.stop.is_set() and self.context.ok() and (self.max_frames <= 0 or sent < self.max_frames):
            ok, bgr = self.capture.read()
            if not ok:
                break
            msg = to_image_msg(bgr, self.get_clock().now().to_msg(), self.frame_id)
            self.answered.clear()
            self.waiting_for = msg.header.stamp
            try:
                self.pub.publish(msg)
            except Exception:  # rcl's "context is invalid": a signal shut rclpy down between check and publish
                if self.stop.is_set() or not self.context.ok():
                    break
                raise
            sent += 1
            if self.lockstep:
                if self._pause(self.timeout, self.answered) and not self.answered.is_set():
                    self.get_logger().warning(f"no PersonArray for frame {sent} within {self.timeout}s")
            else:
                next_time += period
                self._pause(next_time - time.monotonic())
        self.get_logger().info(f"published {sent} frames from {self.source}")
        return sent


def main(args: list[str] | None = None) -> int:
    return run_program("video_publisher", args, _run, lambda: usage("video_publisher", SUMMARY, PARAMS))


def _run(args: list[str] | None, signals: Signals) -> int:
    rclpy.init(args=args)
    try:
        node = VideoPublisher(signals.stop)
    except (ValueError, FileNotFoundError) as err:
        print(f"video_publisher: error: {err}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    spin_node(node, work=node.stream, serving=signals.serving)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
