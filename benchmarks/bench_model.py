"""A shipped model's speed on CPU at 640x480: offline (PyTorch, ONNX Runtime) and through pose_node.

    source tools/env.sh && python benchmarks/bench_model.py [--weights default] [--frames 60] [--threads 2]
    python benchmarks/bench_model.py --decode near_height=0.0   # every frame with a person looked at twice

Frames: the demo's real clip (ros2_openpose/data/walk_vtest.mp4, 640x480 pedestrians).  "offline" is
PoseEstimator.estimate per frame (what the CLI runs per frame, without its file writing).  "node,
lockstep" is the demo pipeline sending the next frame when the previous PersonArray arrived: its fps
includes image transport, decode and publishing, its latency is publish -> PersonArray.  "node, camera
at N Hz" streams like a camera faster than the node and lets pose_node drop what it cannot take: fps is
PersonArrays per second received, latency is stamp -> PersonArray.  Prints a markdown table with the
machine.  Targets of the default model (issue 8): >= 10 fps, latency < 150 ms through pose_node.
``--decode KEY=VALUE`` changes a decode setting on every path (the node's through a copy of
params/pose.yaml): ``near_height=0.0`` gives every frame with someone in it the default model's second
look (``near_scale``), the worst case for a camera that always has someone near.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # noqa: E402
from ros2_openpose.assets import resolve_weights  # noqa: E402
from ros2_openpose.estimator import PoseEstimator  # noqa: E402
from ros2_openpose.ros.demo import DEMO_CLIP  # noqa: E402
from ros2_openpose.sources import frames as frames_of  # noqa: E402
from training.config import parse_setting  # noqa: E402


def offline(estimator: PoseEstimator, frames: list) -> tuple[float, float, float]:
    """``(fps, median ms, mean people)`` of ``estimate`` over ``frames``."""
    estimator.warmup(frames[0].shape[:2])
    times, people = [], []
    for frame in frames:
        start = time.perf_counter()
        people.append(len(estimator.estimate(frame)))
        times.append(time.perf_counter() - start)
    return 1.0 / statistics.mean(times), statistics.median(times) * 1000, statistics.mean(people)


def through_node(weights: Path, frames: int, out: Path, extra: list[str]) -> dict:
    subprocess.run([sys.executable, "-m", "ros2_openpose.ros.demo", "--weights", str(weights), "--frames",
                    str(frames), "--out", str(out), *extra], check=True, capture_output=True)
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="default")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--camera-hz", type=float, default=30.0)
    parser.add_argument("--decode", action="append", default=[], metavar="KEY=VALUE",
                        help="a decode setting for every path, e.g. near_height=0.0")
    args = parser.parse_args()
    decode = dict(parse_setting(text) for text in args.decode)
    torch.set_num_threads(args.threads)
    weights = resolve_weights(args.weights)
    assert weights is not None
    frames = [bgr for _, _, bgr in frames_of(str(DEMO_CLIP))][: args.frames]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # backend onnxruntime: the weights' shipped or cached twin (what backend auto runs) after the parity
        # check, or an export into the cache; the checkpoint's own input size either way.
        for name, backend in (("PyTorch", "torch"), ("ONNX Runtime", "onnxruntime")):
            estimator = PoseEstimator(weights=weights, device="cpu", backend=backend)
            estimator.config = estimator.config.updated(**decode)
            fps, ms, people = offline(estimator, frames)
            rows.append((f"offline, {name}", fps, f"{ms:.1f} (median estimate)", people))
        params = []
        if decode:  # the shipped params with these settings added
            settings = yaml.safe_load((REPO / "params" / "pose.yaml").read_text())
            next(iter(settings.values()))["ros__parameters"].update(decode)
            (Path(tmp) / "pose.yaml").write_text(yaml.safe_dump(settings))
            params = ["--params", str(Path(tmp) / "pose.yaml")]
        lock = through_node(weights, len(frames), Path(tmp) / "lockstep", params)
        rows.append(("node, lockstep", lock["fps"], f"{lock['latency_ms_mean']:.1f} mean, "
                     f"{lock['latency_ms_p95']:.1f} p95", lock["people"] / max(lock["frames"], 1)))
        cam = through_node(weights, len(frames), Path(tmp) / "camera",
                           ["--realtime", "--fps", str(args.camera_hz), *params])
        rows.append((f"node, camera at {args.camera_hz:g} Hz ({cam['frames']} of {len(frames)} served)", cam["fps"],
                     f"{cam['latency_ms_mean']:.1f} mean, {cam['latency_ms_p95']:.1f} p95",
                     cam["people"] / max(cam["frames"], 1)))
    print(f"{weights.name}, input {estimator.input_size}, {len(frames)} frames of the real 640x480 clip, "
          f"{args.threads} torch threads, decode {estimator.config.as_dict()}; {describe()}\n")
    print("| path | fps | ms per frame | people per frame |")
    print("|---|---:|---|---:|")
    for name, fps, ms, people in rows:
        print(f"| {name} | {fps:.1f} | {ms} | {people:.2f} |")


if __name__ == "__main__":
    main()
