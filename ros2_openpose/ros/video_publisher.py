"""video_publisher: streams a video file or a camera as sensor_msgs/Image on ``image``.

In lockstep mode it waits for the PersonArray of each frame (matched by stamp) before sending the
next, so every frame is processed even when inference is slower than the video; otherwise it streams
at ``fps`` and pose_node drops what it cannot keep up with, as with a real camera.
"""
from __future__ import annotations

import threading
import time

import cv2
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from ros2_openpose.msg import PersonArray

from .image_io import to_image_msg
from .spin import spin_node


class VideoPublisher(Node):
    def __init__(self) -> None:
        super().__init__("video_publisher")
        self.source = str(self.declare_parameter("source", "").value)
        self.fps = float(self.declare_parameter("fps", 0.0).value)
        self.max_frames = int(self.declare_parameter("frames", 0).value)
        self.frame_id = str(self.declare_parameter("frame_id", "camera").value)
        self.lockstep = bool(self.declare_parameter("lockstep", False).value)
        self.timeout = float(self.declare_parameter("lockstep_timeout", 10.0).value)
        self.wait_for_subscriber = float(self.declare_parameter("wait_for_subscriber", 120.0).value)
        # Subscriptions on `poses` to wait for (a listener that must see every frame; in lockstep this
        # node's own subscription counts too).
        self.poses_subscribers = int(self.declare_parameter("poses_subscribers", 0).value)
        if not self.source:
            raise ValueError("parameter 'source' is empty: give a video file or a camera index")
        self.capture = cv2.VideoCapture(int(self.source) if self.source.isdigit() else self.source)
        if not self.capture.isOpened():
            raise FileNotFoundError(f"cannot open video source {self.source!r}")
        if self.fps <= 0:
            self.fps = self.capture.get(cv2.CAP_PROP_FPS) or 10.0
        # Reliable so that no frame is lost on the wire in lockstep; a camera driver would use
        # sensor-data QoS, which pose_node's best-effort subscription also accepts.
        self.pub = self.create_publisher(Image, "image", QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE))
        self.answered = threading.Event()
        self.waiting_for = None
        if self.lockstep:
            self.create_subscription(PersonArray, "poses", self.on_poses, 10)

    def on_poses(self, msg: PersonArray) -> None:
        if self.waiting_for is not None and msg.header.stamp == self.waiting_for:
            self.answered.set()

    def stream(self) -> int:
        """Publish frames until the source ends or ``frames`` were sent; returns the count sent."""
        # pose_node loads and warms up its model before it subscribes: frames sent earlier are lost.
        deadline = time.monotonic() + self.wait_for_subscriber
        while (self.pub.get_subscription_count() == 0
               or self.count_subscribers("poses") < self.poses_subscribers) and time.monotonic() < deadline:
            time.sleep(0.1)
        sent, period = 0, 1.0 / self.fps
        next_time = time.monotonic()
        while rclpy.ok() and (self.max_frames <= 0 or sent < self.max_frames):
            ok, bgr = self.capture.read()
            if not ok:
                break
            msg = to_image_msg(bgr, self.get_clock().now().to_msg(), self.frame_id)
            self.answered.clear()
            self.waiting_for = msg.header.stamp
            self.pub.publish(msg)
            sent += 1
            if self.lockstep:
                if not self.answered.wait(self.timeout):
                    self.get_logger().warning(f"no PersonArray for frame {sent} within {self.timeout}s")
            else:
                next_time += period
                time.sleep(max(0.0, next_time - time.monotonic()))
        self.get_logger().info(f"published {sent} frames from {self.source}")
        return sent


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = VideoPublisher()
    except (ValueError, FileNotFoundError) as err:
        print(f"video_publisher: error: {err}")
        rclpy.try_shutdown()
        return 2
    spin_node(node, work=node.stream)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
