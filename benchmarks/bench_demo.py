"""Demo-model speed on CPU: offline (PyTorch and ONNX Runtime) and through pose_node over DDS.

    source tools/env.sh && python benchmarks/bench_demo.py [--frames 40] [--threads 2]

Prints a markdown table with the machine.  "offline" is PoseEstimator.estimate per frame (what the CLI
runs per frame, without its file writing); "node" is the demo pipeline in lockstep (publish -> people
-> next frame), so its fps includes image transport, decode and publishing.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe
from ros2_openpose.assets import DEMO_WEIGHTS
from ros2_openpose.cli import frames as frames_of
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.models import load_model
from ros2_openpose.onnx_export import export_onnx
from training.synthetic import render_clip

REPO = Path(__file__).resolve().parents[1]


def offline_fps(estimator: PoseEstimator, frames: list) -> tuple[float, float]:
    estimator.warmup()
    times = []
    for frame in frames:
        start = time.perf_counter()
        estimator.estimate(frame)
        times.append(time.perf_counter() - start)
    return 1.0 / statistics.mean(times), statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        clip = render_clip(Path(tmp) / "clip.mp4", args.frames, seed=90210)
        frames = [bgr for _, _, bgr in frames_of(str(clip))]
        onnx = export_onnx(load_model(DEMO_WEIGHTS)[0], Path(tmp) / "demo.onnx", input_size=184)
        rows = [("offline, PyTorch", *offline_fps(PoseEstimator(weights=DEMO_WEIGHTS, device="cpu"), frames)),
                ("offline, ONNX Runtime", *offline_fps(PoseEstimator(weights=onnx, device="cpu"), frames))]
        out = Path(tmp) / "demo"
        subprocess.run([sys.executable, "-m", "ros2_openpose.ros.demo", "--video", str(clip), "--frames",
                        str(args.frames), "--out", str(out)], check=True, capture_output=True)
        summary = json.loads((out / "summary.json").read_text())
        rows.append(("node (demo pipeline, lockstep)", summary["fps"], summary["latency_ms_mean"]))
    print(f"Demo model, 320x240 synthetic clip, {args.frames} frames, {args.threads} torch threads; {describe()}\n")
    print("| path | fps | ms per frame (offline: median estimate; node: mean latency) |")
    print("|---|---:|---:|")
    for name, fps, ms in rows:
        print(f"| {name} | {fps:.1f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
