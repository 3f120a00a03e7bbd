"""Offline command line: run the estimator without ROS on an image, a folder, a video or a camera.

Writes, under ``--out``: annotated images (or ``annotated.mp4`` for a video/camera), one OpenPose-format
JSON per frame (``json/<name>_keypoints.json`` with ``people[].pose_keypoints_2d``) and a COCO results
file (``coco_results.json``, image ids = frame index, or the number in an image's file name).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .assets import resolve_weights
from .config import DecodeConfig
from .draw import draw_people
from .image import as_bgr
from .people import Person, to_coco_results, to_openpose_json
from .video import open_video_writer

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def is_stream(source: str) -> bool:
    """True for a video file or camera index, False for an image or a folder of images."""
    path = Path(source)
    return source.isdigit() or not path.exists() or (
        path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES)


def frames(source: str) -> Iterator[tuple[str, int, np.ndarray | None]]:
    """Yield ``(name, image_id, bgr)`` from an image, a folder of images, a video or a camera index.

    An unreadable image yields ``bgr=None`` so the caller can count it and go on.
    """
    path = Path(source)
    if is_stream(source):
        capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
        if not capture.isOpened():
            raise FileNotFoundError(f"cannot open {source!r} as an image, folder, video or camera")
        index = 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            yield f"frame_{index:06d}", index, bgr
            index += 1
        capture.release()
        return
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() \
        else [path]
    for index, file in enumerate(files):
        digits = re.findall(r"\d+", file.stem)
        yield file.stem, int(digits[-1]) if digits else index, cv2.imread(str(file), cv2.IMREAD_UNCHANGED)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = DecodeConfig()
    parser = argparse.ArgumentParser(prog="ros2-openpose", description=__doc__.splitlines()[0])
    parser.add_argument("source", help="image file, folder of images, video file or camera index")
    parser.add_argument("--weights", required=True,
                        help='checkpoint (.pt/.pth), CMU body_pose_model.pth, .onnx, or "demo" for the '
                             "shipped demo model (synthetic people only)")
    parser.add_argument("--out", default="out", help="output folder (default: out)")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--input-size", type=int, default=None, help="network input height (368 or 184)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0])
    parser.add_argument("--no-fp16", action="store_true", help="run float32 on CUDA")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0 = all)")
    parser.add_argument("--no-images", action="store_true", help="write JSON only")
    for name in ("paf_threshold", "heatmap_threshold", "match_threshold", "min_person_score"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    parser.add_argument("--min-parts", type=int, default=defaults.min_parts)
    parser.add_argument("--no-extra-pafs", action="store_true", help="ignore the redundant limbs")
    return parser.parse_args(argv)


def build_estimator(args: argparse.Namespace):
    from .estimator import PoseEstimator

    config = DecodeConfig().updated(
        paf_threshold=args.paf_threshold, heatmap_threshold=args.heatmap_threshold,
        match_threshold=args.match_threshold, min_person_score=args.min_person_score,
        min_parts=args.min_parts, use_extra_pafs=not args.no_extra_pafs)
    weights = resolve_weights(args.weights)
    kwargs = {"device": args.device, "fp16": not args.no_fp16, "scales": tuple(args.scales),
              "config": config}
    if args.input_size:
        kwargs["input_size"] = args.input_size
    return PoseEstimator(weights=weights, **kwargs)


def run(args: argparse.Namespace) -> dict:
    from tqdm import tqdm

    estimator = build_estimator(args)
    stream = is_stream(args.source)
    skeleton = estimator.skeleton
    out = Path(args.out)
    (out / "json").mkdir(parents=True, exist_ok=True)
    writer, coco, unreadable, people_total, n = None, [], 0, 0, 0
    start = time.perf_counter()
    progress = tqdm(frames(args.source), unit="frame", disable=None)
    for name, image_id, bgr in progress:
        if args.max_frames and n >= args.max_frames:
            break
        if bgr is None or bgr.size == 0:
            unreadable += 1
            progress.write(f"skipped unreadable image {name}")
            continue
        people: list[Person] = estimator.estimate(bgr)
        n += 1
        people_total += len(people)
        coco += to_coco_results(people, skeleton, image_id)
        (out / "json" / f"{name}_keypoints.json").write_text(json.dumps(to_openpose_json(people)))
        if not args.no_images:
            writer = _write_image(out, name, draw_people(as_bgr(bgr), people, skeleton), writer,
                                  video=stream)
        progress.set_postfix(people=len(people))
    if writer is not None:
        writer.release()
    seconds = time.perf_counter() - start
    (out / "coco_results.json").write_text(json.dumps(coco))
    summary = {"frames": n, "unreadable": unreadable, "people": people_total,
               "fps": round(n / seconds, 2) if seconds > 0 else 0.0, "out": str(out),
               "model": estimator.info}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _write_image(out: Path, name: str, annotated: np.ndarray, writer, video: bool):
    if not video:
        (out / "annotated").mkdir(exist_ok=True)
        cv2.imwrite(str(out / "annotated" / f"{name}.jpg"), annotated)
        return writer
    if writer is None:
        h, w = annotated.shape[:2]
        writer = open_video_writer(out / "annotated.mp4", 10.0, (w, h))
    writer.write(annotated)
    return writer


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"ros2-openpose: error: {err}", file=sys.stderr)
        return 2
    print(f"{summary['frames']} frames, {summary['people']} people, {summary['fps']} fps "
          f"({summary['unreadable']} unreadable) -> {summary['out']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
