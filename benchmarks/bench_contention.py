"""Decode and whole-frame latency with and without two CPU hogs (busy-loop processes), as ratios.

    .venv/bin/python benchmarks/bench_contention.py
    .venv/bin/python benchmarks/bench_contention.py --weights ros2_openpose/data/demo_synthetic.pt --backends torch
    .venv/bin/python benchmarks/bench_contention.py --backends          # the decode rows only

A robot runs other nodes on the same cores.  This measures, on the same maps and the same frames:

* decode (maps -> people) as shipped, idle and with two busy-loop processes running, and the same
  decode with torch limited to one thread (the reference the issue set: "no slower under contention
  than on one thread");
* the whole frame (``PoseEstimator.estimate``: letterbox, forward, decode) idle and with the hogs, for
  each backend the estimator offers (``backend.py``), and for ONNX Runtime also as pose_node runs it
  by default (one thread, ``adaptive_threads``: ``threads.py``).

Prints medians and the ratios hogged / idle and, for the decode, hogged / the one-thread decode hogged (the
issue's "no slower under contention than on one thread"), with the machine's load.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runs from a checkout, uninstalled
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_decode import median_ms  # noqa: E402
from machine import describe  # noqa: E402
from mapsets import RENDERINGS, letterbox, load_split, pasted_crowds, scene_maps  # noqa: E402
from ros2_openpose import limbs  # noqa: E402
from ros2_openpose.assets import DEMO_WEIGHTS  # noqa: E402
from ros2_openpose.backend import cores  # noqa: E402
from ros2_openpose.config import DecodeConfig  # noqa: E402
from ros2_openpose.decode import decode  # noqa: E402
from ros2_openpose.skeletons import COCO17  # noqa: E402

DATA = Path(os.environ.get("ROS2_OPENPOSE_DATA", REPO.parent / "shared" / "data")) / "real-keypoints"


def hog(stop: mp.Event) -> None:
    """Busy loop until told to stop: one core's worth of someone else's work."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def measure(cases: dict, repeats: int, hogs: int) -> dict[str, float]:
    stop = mp.Event()
    workers = [mp.Process(target=hog, args=(stop,), daemon=True) for _ in range(hogs)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.5 if hogs else 0.0)
        return {name: median_ms(fn, repeats) for name, fn in cases.items()}
    finally:
        stop.set()
        for w in workers:
            w.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=str(DEMO_WEIGHTS))
    parser.add_argument("--people", type=int, default=10, help="crowd size of the decode maps")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--backends", nargs="*", default=["torch", "onnxruntime"],
                        help="whole-frame rows for these backends (none: the decode rows only)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import cv2

    from ros2_openpose.estimator import PoseEstimator

    scene = pasted_crowds(load_split(DATA, "tune"), [args.people], per_size=1).scenes[0]
    box = letterbox(scene, "368")
    heat, pafs = (np.ascontiguousarray(box.crop(m)) for m in scene_maps(scene, RENDERINGS[0], COCO17, box))
    photo = cv2.imread(str(next(s.path for s in load_split(DATA, "tune").scenes if len(s.keypoints) > 2)))
    threads = torch.get_num_threads()

    def one_thread_decode() -> None:
        torch.set_num_threads(1)
        try:
            decode(heat, pafs, COCO17, DecodeConfig())
        finally:
            torch.set_num_threads(threads)

    cases = {"decode": lambda: decode(heat, pafs, COCO17, DecodeConfig()), "decode, 1 torch thread": one_thread_decode}
    for backend in args.backends:
        try:
            estimator = PoseEstimator(weights=args.weights, device="cpu", backend=backend)
        except Exception as exc:  # e.g. no onnxruntime: say so and go on
            print(f"frame, {backend}: not measured ({type(exc).__name__}: {exc})")
            continue
        cases[f"frame, {backend} ({estimator.info['backend_reason'][:44]})"] = \
            lambda e=estimator: e.estimate(photo)
        if backend == "onnxruntime":  # pose_node's default: cpu_threads 1 with adaptive_threads
            adaptive = PoseEstimator(weights=args.weights, device="cpu", backend=backend, cpu_threads=1,
                                     adaptive_threads=True)
            cases[f"frame, {backend}, adaptive threads (1 or {cores()})"] = lambda e=adaptive: e.estimate(photo)
    limbs.warm_kernel()
    print(f"machine: {describe()}; torch threads {threads}; limb scoring {limbs.KERNEL}; "
          f"load average {os.getloadavg()[0]:.1f} at start")
    idle = measure(cases, args.repeats, 0)
    hogged = measure(cases, args.repeats, args.hogs)
    one = "decode, 1 torch thread"
    print(f"\n| case | idle ms | with {args.hogs} hogs ms | hogged / idle | / {one}, both hogged |")
    print("|---|---:|---:|---:|---:|")
    for name in cases:
        vs_one = f"{hogged[name] / hogged[one]:.2f}" if name.startswith("decode") else ""
        print(f"| {name} | {idle[name]:.2f} | {hogged[name]:.2f} | {hogged[name] / idle[name]:.2f} | {vs_one} |")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
