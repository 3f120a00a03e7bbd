"""A camera in another process, for the node tests: publishes bgr8 frames of real pixels on one topic.

    python test/camera.py --topic /ns/image --size 640x480 --count 20 --hz 2 --reliability reliable

Waits for a subscriber, publishes ``count`` frames (cycling through ``--size`` values) with
frame_id ``--frame-id``, prints ``sent N`` and exits 0.  Fast DDS delivers differently across processes
(best-effort samples larger than its shared-memory segment are lost), which is why the node's
delivery tests need this process rather than a publisher in the test's own.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ros2_openpose.ros.image_io import to_image_msg


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", required=True)
    parser.add_argument("--image", required=True, help="picture to send (resized to each size)")
    parser.add_argument("--size", nargs="+", default=["640x480"], help="WxH, cycled frame by frame")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--hz", type=float, default=2.0, help="0 = as fast as possible")
    parser.add_argument("--reliability", choices=("reliable", "best_effort"), default="reliable")
    parser.add_argument("--frame-id", default="camera_process")
    parser.add_argument("--first-pause", type=float, default=0.0,
                        help="seconds to wait after the first frame (it then surely arrives: the baseline of "
                             "the publisher's sequence numbers)")
    args = parser.parse_args()
    picture = cv2.imread(args.image, cv2.IMREAD_COLOR)
    frames = [cv2.resize(picture, tuple(int(v) for v in size.split("x"))) for size in args.size]
    rclpy.init()
    node = Node("test_camera")
    reliability = ReliabilityPolicy.RELIABLE if args.reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT
    pub = node.create_publisher(Image, args.topic, QoSProfile(depth=1, reliability=reliability))
    deadline = time.monotonic() + 60
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # both sides of the match
    for i in range(args.count):
        msg = to_image_msg(frames[i % len(frames)], node.get_clock().now().to_msg(), args.frame_id)
        pub.publish(msg)
        if i == 0:
            time.sleep(args.first_pause)
        if args.hz > 0:
            time.sleep(1.0 / args.hz)
    if reliability == ReliabilityPolicy.RELIABLE:
        # Every frame acknowledged before the writer goes away: a loaded machine can take longer than
        # any fixed pause, and a frame lost at exit would be missing from the node's counts.
        pub.wait_for_all_acked(Duration(seconds=30))
    time.sleep(1.0)  # best effort has no acknowledgements: give the last frames time to arrive
    print(f"sent {args.count}", flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
