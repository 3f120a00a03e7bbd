"""COCO keypoint AP of a checkpoint (or any PoseEstimator) on a COCO-format set.

    python -m training.evaluate --weights runs/x/best.pt --images D --annotations F --out DIR

Writes ``DIR/metrics.json`` (AP, AP50, AP75, APm, APl, AR, ...) and ``DIR/results.json`` (the COCO
results list that was scored) and prints the metrics as a markdown table.  Person scores are the
decoder's, so AP measures the ranking too.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn
from tqdm import tqdm

from ros2_openpose.assets import resolve_weights
from ros2_openpose.config import DecodeConfig
from ros2_openpose.device import set_cpu_threads
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.people import to_coco_results

from .config import parse_setting
from .data import load_coco

log = logging.getLogger("training.evaluate")

#: COCOeval.stats order for iouType="keypoints".
METRIC_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def evaluate_results(coco_gt: COCO, results: list[dict], image_ids: Iterable[int] | None = None) -> dict[str, float]:
    """COCOeval(iouType='keypoints') of ``results`` (COCO results dicts) over ``image_ids`` (default all).

    No detections at all scores 0 everywhere (pycocotools cannot load an empty result list).
    """
    ids = sorted(coco_gt.getImgIds() if image_ids is None else image_ids)
    if not results:
        return {name: 0.0 for name in METRIC_NAMES}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools narrates every step
        coco_dt = coco_gt.loadRes(list(results))
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        ev.params.imgIds = ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # -1 means "no ground truth in this area range": report it as 0 rather than a negative AP.
    return {name: max(0.0, float(v)) for name, v in zip(METRIC_NAMES, ev.stats, strict=True)}


def on_canvas(bgr: np.ndarray, canvas: float) -> np.ndarray:
    """``bgr`` in the top-left corner of a grey canvas ``canvas`` times its size: the same people, as
    seen ``canvas`` times farther away once the estimator scales the frame to its input (keypoints keep
    their coordinates, so the labels hold unchanged)."""
    if canvas <= 1:
        return bgr
    h, w = bgr.shape[:2]
    out = np.full((round(h * canvas), round(w * canvas), 3), 114, np.uint8)
    out[:h, :w] = bgr
    return out


def predict(estimator: Any, images: str | Path, coco_gt: COCO, image_ids: Sequence[int],
            progress: bool = True, canvas: float = 1.0) -> list[dict]:
    """Run ``estimator.estimate`` on every image (placed on a ``canvas``, see ``on_canvas``); the people
    as COCO keypoint results."""
    results: list[dict] = []
    for image_id in tqdm(image_ids, desc="evaluate", disable=not progress, leave=False, dynamic_ncols=True):
        info = coco_gt.loadImgs(image_id)[0]
        path = Path(images) / info["file_name"]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image {path}")
        results += to_coco_results(estimator.estimate(on_canvas(bgr, canvas)), estimator.skeleton, image_id)
    return results


def pick_images(coco_gt: COCO, max_images: int | None) -> list[int]:
    """The first ``max_images`` image ids in id order (all by default): a stable subset across runs."""
    ids = sorted(coco_gt.getImgIds())
    return ids[:max_images] if max_images else ids


def evaluate_estimator(estimator: Any, images: str | Path, annotations: str | Path | COCO,
                       max_images: int | None = None, progress: bool = True,
                       canvas: float = 1.0) -> tuple[dict[str, float], list[dict]]:
    """``(metrics, results)`` of ``estimator`` (anything with ``estimate(bgr)`` and ``skeleton``)."""
    coco_gt = annotations if isinstance(annotations, COCO) else load_coco(annotations)
    ids = pick_images(coco_gt, max_images)
    results = predict(estimator, images, coco_gt, ids, progress, canvas)
    return evaluate_results(coco_gt, results, ids), results


def evaluate_network(net: nn.Module, images: str | Path, annotations: str | Path | COCO,
                     device: torch.device | str = "cpu", input_size: int = 368,
                     max_images: int | None = None, fp16: bool = True,
                     config: DecodeConfig | None = None) -> dict[str, float]:
    """AP of a network being trained (leaves it in eval mode; the caller switches back)."""
    estimator = PoseEstimator(network=net, skeleton=net.skeleton, device=device, fp16=fp16,
                              input_size=int(input_size), config=config or DecodeConfig())
    metrics, _ = evaluate_estimator(estimator, images, annotations, max_images, progress=False)
    return metrics


def format_table(metrics: dict[str, float], names: Sequence[str] = METRIC_NAMES[:6]) -> str:
    """Markdown table of the chosen metrics (AP .. AR by default)."""
    head = "| " + " | ".join(names) + " |"
    rule = "|" + "|".join("---:" for _ in names) + "|"
    row = "| " + " | ".join(f"{metrics[n]:.3f}" for n in names) + " |"
    return "\n".join((head, rule, row))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--weights", required=True,
                   help='checkpoint, any file load_model reads, a run folder (its best.pt), or "default"/"demo"')
    p.add_argument("--images", required=True, help="image folder of the COCO-format set")
    p.add_argument("--annotations", required=True, help="COCO keypoint json of the set")
    p.add_argument("--out", required=True, help="folder for metrics.json and results.json")
    p.add_argument("--input-size", type=int, help="network input height (default: the checkpoint's, else 368)")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0], help="multi-scale factors")
    p.add_argument("--flip", action="store_true", help="average each image's maps with its mirror image's")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-fp16", action="store_true", help="float32 on CUDA")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads of the network (0: torch's default); 1 beside a training on the same cores")
    p.add_argument("--max-images", type=int, help="first N images by id")
    p.add_argument("--canvas", type=float, default=1.0,
                   help="place each image on a canvas this many times its size: people as seen farther away")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="decode setting over the model's own, e.g. --set min_parts=2 (DecodeConfig fields)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:  # the same key=value reading as training's --set
        changes = dict(parse_setting(text) for text in args.set)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    DecodeConfig().updated(**changes)  # a bad name or value fails before the model loads
    try:
        weights = resolve_weights(args.weights)
    except FileNotFoundError as err:
        raise SystemExit(f"training.evaluate: error: {err}") from None
    if args.threads < 0:
        raise SystemExit(f"training.evaluate: error: --threads must be 0 or more, got {args.threads}")
    set_cpu_threads(args.threads)
    estimator = PoseEstimator(weights=weights, device=args.device, fp16=not args.no_fp16,
                              input_size=args.input_size, scales=tuple(args.scales), flip=args.flip)
    config = estimator.config = estimator.config.updated(**changes)  # on top of the model's own settings
    metrics, results = evaluate_estimator(estimator, args.images, args.annotations, args.max_images,
                                          canvas=args.canvas)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"weights": str(weights), "images": str(args.images), "annotations": str(args.annotations),
              "input_size": estimator.input_size, "scales": list(args.scales), "flip": args.flip, "canvas": args.canvas,
              "decode": config.as_dict(), "threads": torch.get_num_threads(),
              "detections": len(results), "metrics": metrics}
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "results.json").write_text(json.dumps(results) + "\n")
    print(format_table(metrics))
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
