"""Training data pipeline throughput: augmented samples per second per DataLoader worker.

    .venv/bin/python benchmarks/bench_data.py --samples 40
    .venv/bin/python benchmarks/bench_data.py --images D --annotations F --input-size 184

Times ``PoseDataset.__getitem__`` (read + decode the JPEG, crowd/unlabelled mask, random affine,
colour jitter, target rendering) in one process with one OpenCV thread, which is what one loader
worker does; prints a markdown row with the per-stage split and the machine.  ``--workers N`` also
times a real DataLoader with N workers (wall-clock, including the collation and worker start).
Default set: the real COCO subset ``../shared/data/real-keypoints/coco-mini-train2017``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout, uninstalled
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model
from training.augment import AugmentConfig, color_jitter, transform_keypoints, warp_image, warp_mask
from training.data import PoseDataset, downsample_mask, worker_init

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SET = Path(os.environ.get("ROS2_OPENPOSE_DATA", REPO.parent / "shared" / "data")) \
    / "real-keypoints" / "coco-mini-train2017"


def time_stages(ds: PoseDataset, samples: int) -> dict[str, float]:
    """Median milliseconds of load / transform / targets, and samples/s of whole items."""
    load, augment, targets, whole = [], [], [], []
    for n in range(samples):
        index = n % len(ds)
        rng = np.random.default_rng([0, 0, n])
        t0 = time.perf_counter()
        raw = ds.load(index)
        t1 = time.perf_counter()
        matrix, flip = ds.transform(raw, rng)
        # the same steps as PoseDataset.sample, split so each part is timed on its own
        image = color_jitter(warp_image(raw.image, matrix, ds.input_size, ds.pad_bgr), rng, ds.augment)
        kps = transform_keypoints(raw.keypoints, matrix, flip, ds.skeleton)
        downsample_mask(warp_mask(raw.mask, matrix, ds.input_size), ds.stride)
        t2 = time.perf_counter()
        ds.make_targets(kps)
        t3 = time.perf_counter()
        ds[index]
        t4 = time.perf_counter()
        load.append(t1 - t0)
        augment.append(t2 - t1)
        targets.append(t3 - t2)
        whole.append(t4 - t3)
        del image
    def ms(xs: list[float]) -> float:
        return statistics.median(xs) * 1000

    return {"load_ms": ms(load), "augment_ms": ms(augment), "targets_ms": ms(targets),
            "samples_per_s": 1.0 / statistics.mean(whole)}


def time_loader(ds: PoseDataset, workers: int, batch: int, samples: int) -> float:
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                                         worker_init_fn=worker_init)
    seen, start = 0, time.perf_counter()
    while seen < samples:
        for b in loader:
            seen += b["image"].shape[0]
            if seen >= samples:
                break
    return seen / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", default=str(DEFAULT_SET))
    p.add_argument("--annotations", default=None, help="default: IMAGES/annotations.json")
    p.add_argument("--input-size", type=int, default=368)
    p.add_argument("--skeleton", default="coco17")
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--workers", type=int, default=0, help="also time a DataLoader with N workers")
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args(argv)

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    ann = args.annotations or str(Path(args.images) / "annotations.json")
    ds = PoseDataset(args.images, ann, skeleton=args.skeleton, input_size=args.input_size,
                     augment=AugmentConfig())
    ds[0]  # warm caches (first JPEG decode, imports)
    r = time_stages(ds, args.samples)
    people = np.mean([len(ds.load(i).keypoints) for i in range(len(ds))])
    host = f"{cpu_model()}, {os.cpu_count()} cores"
    print("| set | input | people/image | load ms | augment ms | targets ms | samples/s per worker "
          "| x8 workers (est.) | machine |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {Path(args.images).name} | {args.input_size} | {people:.1f} | {r['load_ms']:.1f} | "
          f"{r['augment_ms']:.1f} | {r['targets_ms']:.1f} | {r['samples_per_s']:.1f} | "
          f"{8 * r['samples_per_s']:.0f} | {host} |")
    if args.workers:
        rate = time_loader(ds, args.workers, args.batch_size, args.samples)
        print(f"\nDataLoader, {args.workers} workers, batch {args.batch_size}: {rate:.1f} samples/s "
              f"(wall clock, {args.samples} samples, worker start-up included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
