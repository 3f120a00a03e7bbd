"""Offline command line: run the estimator without ROS on an image, a folder, a video or a camera.

Writes, under ``--out``: annotated images (or ``annotated.mp4`` for a video/camera), one OpenPose-format
JSON per frame (``json/<name>_keypoints.json`` with ``people[].pose_keypoints_2d``), a COCO results
file (``coco_results.json``), the image ids it used (``image_ids.json``: name -> id; from
``--annotations`` when given, see sources.py) and ``summary.json``.

Bad arguments are one line and exit 2 before any work.  Ctrl-C (or SIGTERM) finishes the frame in hand,
writes every output for the frames done, says so and exits 130 (143); a second Ctrl-C stops at once.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from . import sources
from .assets import SYNTHETIC_WARNING, describe_model, is_synthetic_only, resolve_weights
from .config import DecodeConfig
from .console import Progress, stop_on_signals
from .draw import draw_people
from .image import as_bgr
from .people import to_coco_results, to_openpose_json
from .sources import frames, is_stream
from .video import open_video_writer

if TYPE_CHECKING:  # imported when needed: --help and argument errors stay fast without torch
    from .estimator import PoseEstimator

PROG = "ros2-openpose"
#: Network input heights the CLI accepts; pose_node's ``input_size`` parameter has the same bounds.
INPUT_SIZE_RANGE = (8, 1024)


class UsageError(ValueError):
    """An argument that cannot work, found before any frame is read."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = DecodeConfig()
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("source", help="image file, folder of images, video file, stream URL or camera index")
    parser.add_argument("--weights", default="default",
                        help='checkpoint (.pt/.pth), CMU body_pose_model.pth, .onnx, a training run folder, or a '
                             'shipped name: "default" (the default) or "demo" (synthetic people only)')
    parser.add_argument("--out", default="out", help="output folder (default: out)")
    parser.add_argument("--annotations", help="COCO json of the images: image ids are taken from it by file name")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument("--input-size", type=int, default=None,
                        help="network input height, a multiple of 8 (default: the size the model was trained for)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0])
    parser.add_argument("--flip", action="store_true",
                        help="also run each image mirrored and average the maps (twice the network's work)")
    parser.add_argument("--no-fp16", action="store_true", help="run float32 on CUDA")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads of the network (0: torch's default, one per core); 1 on a machine "
                             "whose cores are busy with other work, where more threads stall each other")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0 = all)")
    parser.add_argument("--no-images", action="store_true", help="write JSON only")
    parser.add_argument("--log-every", type=float, default=10.0, metavar="SECONDS",
                        help="when stderr is not a terminal, a progress line this often (0 = every frame)")
    # Decode settings: unset ones are the model's own (the original's unless its card changes them).
    for name in ("paf_threshold", "heatmap_threshold", "match_threshold", "min_person_score", "near_scale",
                 "near_height"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=None,
                            help=f"default: the model's own (original: {getattr(defaults, name)})")
    parser.add_argument("--min-parts", type=int, default=None,
                        help=f"default: the model's own (original: {defaults.min_parts})")
    parser.add_argument("--no-extra-pafs", action="store_true", help="ignore the redundant limbs")
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, int] | None]:
    """Everything that can be checked before the model loads: UsageError / FileNotFoundError, one line.

    Creates ``--out`` and proves it writable.  Returns the decode settings given (applied over the
    model's own once it loads) and, for images, the image ids.
    """
    if args.max_frames < 0:
        raise UsageError(f"--max-frames must be 0 (all) or more, got {args.max_frames}")
    lo, hi = INPUT_SIZE_RANGE
    if args.input_size is not None and not (lo <= args.input_size <= hi and args.input_size % 8 == 0):
        raise UsageError(f"--input-size must be a multiple of 8 in [{lo}, {hi}], got {args.input_size}")
    if any(not 0 < s <= 4 for s in args.scales):
        raise UsageError(f"--scales must lie in (0, 4], got {args.scales}")
    if args.threads < 0:
        raise UsageError(f"--threads must be 0 (torch's default) or more, got {args.threads}")
    if args.log_every < 0:
        raise UsageError(f"--log-every must be 0 or more seconds, got {args.log_every}")
    given = {"paf_threshold": args.paf_threshold, "heatmap_threshold": args.heatmap_threshold,
             "match_threshold": args.match_threshold, "min_person_score": args.min_person_score,
             "near_scale": args.near_scale, "near_height": args.near_height, "min_parts": args.min_parts,
             "use_extra_pafs": False if args.no_extra_pafs else None}
    changes = {name: value for name, value in given.items() if value is not None}
    try:
        DecodeConfig().updated(**changes)
    except ValueError as err:
        raise UsageError(str(err).replace("_", "-")) from None
    _check_device(args.device)
    sources.check_source(args.source)
    ids = None
    if args.annotations is not None:
        if is_stream(args.source):
            raise UsageError("--annotations applies to images and folders, not to a video or camera")
        ids = sources.image_ids(sources.image_files(args.source), args.annotations)
    _check_out(Path(args.out))
    return changes, ids


def _check_device(device: str) -> None:
    if device == "auto" or device == "cpu":
        return
    from .device import device_problem  # torch: only when a GPU is asked for (--help stays fast)

    problem = device_problem(device)
    if problem is not None:
        raise UsageError(f"--device {device!r} {problem}")


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    try:
        (out / "json").mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"--out {out} is not a writable folder ({err.strerror or err})") from None


def build_estimator(args: argparse.Namespace, changes: dict[str, Any]) -> PoseEstimator:
    from .device import set_cpu_threads
    from .estimator import PoseEstimator

    set_cpu_threads(args.threads)  # before the model loads: ONNX Runtime sizes its pool from it
    estimator = PoseEstimator(weights=resolve_weights(args.weights), device=args.device, fp16=not args.no_fp16,
                              input_size=args.input_size, scales=tuple(args.scales), flip=args.flip)
    estimator.config = estimator.config.updated(**changes)
    return estimator


class Annotated:
    """Annotated outputs: ``annotated/<name>.jpg`` per image, or one ``annotated.mp4`` for a video."""

    def __init__(self, out: Path, video_fps: float | None) -> None:
        self.out, self.fps = out, video_fps
        self.writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, name: str, image: np.ndarray) -> None:
        if self.fps is None:
            (self.out / "annotated").mkdir(exist_ok=True)
            cv2.imwrite(str(self.out / "annotated" / f"{name}.jpg"), image)
        else:
            if self.writer is None:
                h, w = image.shape[:2]
                self.writer = open_video_writer(self.out / "annotated.mp4", self.fps, (w, h))
            self.writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()  # writes the container's index: without it the last frames are lost
            self.writer = None


def run(args: argparse.Namespace, changes: dict[str, Any], ids: dict[str, int] | None) -> dict:
    import torch  # here, not at the top: --help and argument errors stay fast

    estimator = build_estimator(args, changes)
    print(f"{PROG}: {describe_model(estimator.model)}", file=sys.stderr, flush=True)
    if is_synthetic_only(estimator.model):
        print(f"{PROG}: warning: {SYNTHETIC_WARNING}", file=sys.stderr, flush=True)
    out, skeleton = Path(args.out), estimator.skeleton
    capture, fps, total = None, None, None
    if is_stream(args.source):
        capture = sources.open_video(args.source)
        fps, total = sources.video_info(capture)
    else:
        total = len(ids) if ids is not None else len(sources.image_files(args.source))
    if args.max_frames:
        total = min(total or args.max_frames, args.max_frames)
    annotated = None if args.no_images else Annotated(out, fps)
    coco: list[dict] = []
    used_ids: dict[str, int] = {}
    counts = {"frames": 0, "unreadable": 0, "people": 0}
    progress = Progress(PROG, total, args.log_every)
    start = time.perf_counter()
    with stop_on_signals(PROG) as stop:
        try:
            for name, image_id, bgr in frames(args.source, ids, capture):
                if bgr is None or bgr.size == 0:
                    counts["unreadable"] += 1
                    progress.write(f"skipped unreadable image {name}")
                else:
                    people = estimator.estimate(bgr)
                    counts["frames"] += 1
                    counts["people"] += len(people)
                    used_ids[name] = image_id
                    coco += to_coco_results(people, skeleton, image_id)
                    (out / "json" / f"{name}_keypoints.json").write_text(json.dumps(to_openpose_json(people)))
                    if annotated is not None:
                        annotated.write(name, draw_people(as_bgr(bgr), people, skeleton))
                    progress.update(counts["frames"], counts["people"])
                if stop["signal"] is not None or (args.max_frames and counts["frames"] >= args.max_frames):
                    break
        finally:
            # Whatever ends the loop (the end, --max-frames, a signal, an error): the frames done are kept.
            progress.close()
            if annotated is not None:
                annotated.close()
            seconds = time.perf_counter() - start
            (out / "coco_results.json").write_text(json.dumps(coco))
            (out / "image_ids.json").write_text(json.dumps(used_ids, indent=1))
            interrupted = stop["signal"].name if stop["signal"] is not None else None
            summary = {**counts, "fps": round(counts["frames"] / seconds, 2) if seconds > 0 else 0.0,
                       "annotated_frames": annotated.frames if annotated is not None else 0,
                       "interrupted": interrupted, "out": str(out), "model": estimator.info,
                       "decode": estimator.config.as_dict(), "threads": torch.get_num_threads()}
            (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        changes, ids = check_args(args)
        summary = run(args, changes, ids)
    except KeyboardInterrupt:  # before the frame loop (loading the model) or a second Ctrl-C
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, ImportError) as err:  # WeightsError and MissingExtra included
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    line = (f"{summary['frames']} frames, {summary['people']} people, {summary['fps']} fps "
            f"({summary['unreadable']} unreadable) -> {summary['out']}")
    if summary["interrupted"]:
        print(f"{PROG}: stopped by {summary['interrupted']} after {line}; every output written for those frames")
        return 128 + signal.Signals[summary["interrupted"]].value
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
