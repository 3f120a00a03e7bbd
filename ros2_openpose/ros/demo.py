"""The demo: video_publisher -> pose_node -> pose_listener, three processes over real DDS.

Like a launch file, but runnable where the ``launch`` package is not installed.  By default it streams
the shipped real clip (``ros2_openpose/data/walk_vtest.mp4``: pedestrians, cut from OpenCV's
``vtest.avi``, see ros2_openpose/data/README.md) through pose_node with the shipped default model, in
lockstep so every frame is processed, and exits with the listener's summary.  ``--video`` takes any
video file or camera, ``--weights`` any checkpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from ros2_openpose.assets import DATA_DIR, SYNTHETIC_WARNING, describe_model, is_synthetic_only, resolve_weights

REPO = Path(__file__).resolve().parents[2]
#: The demo's real clip: 60 frames, 640x480, 10 fps (Apache-2.0/BSD-3-Clause, OpenCV's vtest.avi).
DEMO_CLIP = DATA_DIR / "walk_vtest.mp4"


def share_file(relative: str) -> Path:
    """A file installed to share/ros2_openpose, or the same file in the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory

        path = Path(get_package_share_directory("ros2_openpose")) / relative
        if path.exists():
            return path
    except (ImportError, LookupError, ValueError):
        pass
    return REPO / relative


def announce(weights: Path) -> None:
    """Say which model the demo runs and what it was trained on (read from the checkpoint's card)."""
    from ros2_openpose.models import WeightsError, load_model

    try:
        _, model = load_model(weights)
    except (WeightsError, FileNotFoundError, RuntimeError):
        print(f"demo: weights {weights} (pose_node will check them)")
        return
    print(f"demo: {describe_model(model)}")
    if is_synthetic_only(model):
        print(f"demo: WARNING: {SYNTHETIC_WARNING}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ros2_openpose.ros.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(DEMO_CLIP),
                        help="video file or camera index to stream (default: the shipped real clip)")
    parser.add_argument("--weights", default="default",
                        help='weights for pose_node ("default" = the shipped real-people model)')
    parser.add_argument("--frames", type=int, default=60, help="frames to stream (default 60)")
    parser.add_argument("--out", default="out/demo", help="output folder")
    parser.add_argument("--params", default=None, help="params file (default params/pose.yaml)")
    parser.add_argument("--realtime", action="store_true",
                        help="stream at the video's fps and let pose_node drop frames (default: lockstep)")
    parser.add_argument("--fps", type=float, default=0.0,
                        help="with --realtime: stream at this rate instead of the video's (a faster camera)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument("--rviz", action="store_true",
                        help="also open RViz with rviz/pose.rviz (a ROS system with a display)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        weights = resolve_weights(args.weights)
    except FileNotFoundError as err:
        print(f"demo: {err}", file=sys.stderr)
        return 2
    if weights is None:
        print("demo: no weights configured: pass --weights PATH (or 'default' for the shipped model)",
              file=sys.stderr)
        return 2
    announce(weights)
    video = args.video
    params = args.params or str(share_file("params/pose.yaml"))
    ns = ["-r", "__ns:=/demo"]
    py = [sys.executable, "-m"]
    procs = {
        "pose_node": subprocess.Popen([*py, "ros2_openpose.ros.pose_node", "--ros-args", "--params-file", params,
                                       "-p", f"weights:={weights}",
                                       # Fast DDS drops large best-effort samples across processes
                                       # (ros2/rmw_fastrtps#739); lockstep needs every frame.
                                       "-p", "qos_reliability:=reliable", *ns]),
        "video_publisher": subprocess.Popen([*py, "ros2_openpose.ros.video_publisher", "--ros-args",
                                             "-p", f"source:={video}", "-p", f"frames:={args.frames}",
                                             "-p", f"lockstep:={str(not args.realtime).lower()}",
                                             "-p", f"fps:={float(args.fps)}",
                                             # the listener, plus its own lockstep subscription
                                             "-p", f"poses_subscribers:={1 if args.realtime else 2}", *ns]),
    }
    if args.rviz:
        if shutil.which("rviz2") and os.environ.get("DISPLAY"):
            # The RViz config names /poses/...; the demo's topics live under /demo.
            procs["rviz2"] = subprocess.Popen(["rviz2", "-d", str(share_file("rviz/pose.rviz")), "--ros-args",
                                               "-r", "/poses/annotated:=/demo/poses/annotated",
                                               "-r", "/poses/markers:=/demo/poses/markers"])
        else:
            print("demo: --rviz needs rviz2 on PATH and a display (DISPLAY); running without it")
    # Streaming, the frames pose_node drops never come: the listener stops 5 s after the last one.
    idle = 5.0 if args.realtime else 60.0
    listener = subprocess.Popen([*py, "ros2_openpose.ros.pose_listener", "--ros-args", "-p", f"expect:={args.frames}",
                                 "-p", f"out_dir:={out}", "-p", f"idle_timeout:={idle}", *ns])
    try:
        code = listener.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        listener.kill()
        code = 1
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    summary_file = out / "summary.json"
    if summary_file.exists():
        summary = json.loads(summary_file.read_text())
        print(f"demo: {summary['frames']} frames, people in {summary['frames_with_people']}, "
              f"{summary['people']} people, {summary['fps']} fps, latency {summary['latency_ms_mean']} ms "
              f"mean -> {out}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
