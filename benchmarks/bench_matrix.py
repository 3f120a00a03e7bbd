"""Decode accuracy matrix: AP / connectivity ceiling per rendering, geometry and decoder, side by side.

    .venv/bin/python benchmarks/bench_matrix.py --peers /work/ext            # everything
    .venv/bin/python benchmarks/bench_matrix.py --splits held-out --geometries 368 184 --no-crowds
    .venv/bin/python benchmarks/bench_matrix.py --weights ros2_openpose/data/default.pt --no-crowds \\
        --renderings                                   # only the real model's own maps on real photos

Rows: split (``tune`` / ``held-out`` real sets, and their pasted crowds of 1-60 people) x geometry
(native, 368, 184) x rendering (``mapsets.RENDERINGS``) and, with ``--weights``, the model's own maps
of the real photos.  Columns: the decoders, each as AP / ceiling (COCO keypoint AP, OKS 0.50:0.95,
up to 100 people per image), where the ceiling is the AP of the ground truth split into the pieces the
skeleton's limbs connect (``ceiling.py``).  The peak bound is the same pieces drawn from our peaks
(a perfect grouping of the peaks found): what no grouping could beat on those maps.
All decoders get the same maps: ours on coco18 (the peers'
layout) and on coco17 (23 limbs; its own ceiling), the peers from ``--peers DIR`` (see ``peers.py``);
a peer that is absent is named with the reason.  The median decode time per image is printed beside
each cell (1 thread, the machine's load as it was).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runs from a checkout, uninstalled
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402
from mapsets import (  # noqa: E402
    GEOMETRIES,
    RENDERINGS,
    SPLITS,
    STRIDE,
    SceneSet,
    coco_ap,
    letterbox,
    load_split,
    pasted_crowds,
    scene_maps,
)
from peers import load_peers  # noqa: E402
from ros2_openpose import limbs  # noqa: E402
from ros2_openpose.ceiling import ceiling_people  # noqa: E402
from ros2_openpose.config import DecodeConfig  # noqa: E402
from ros2_openpose.decode import decode, unblurred_peaks  # noqa: E402
from ros2_openpose.estimator import to_image  # noqa: E402
from ros2_openpose.models import read_weights  # noqa: E402
from ros2_openpose.people import Person, keypoint_bbox, to_coco_results  # noqa: E402
from ros2_openpose.skeletons import COCO17, COCO18, Skeleton  # noqa: E402

DATA = Path(os.environ.get("ROS2_OPENPOSE_DATA", REPO.parent / "shared" / "data")) / "real-keypoints"


def ours(skeleton: Skeleton, config: DecodeConfig):
    def run(heat: np.ndarray, pafs: np.ndarray, box) -> list[Person]:
        people = decode(box.crop(heat), box.crop(pafs), skeleton, config)  # as the estimator crops
        return [to_image(p, box) for p in people]
    return run


def peer_people(found: list[tuple[np.ndarray, float]]) -> list[Person]:
    people = []
    for kps, score in found:
        kps = kps.copy()
        kps[kps[:, 2] <= 0, :2] = np.nan
        people.append(Person(kps, score, keypoint_bbox(kps)))
    return people


def score_cell(scenes: SceneSet, maps: dict, skeleton: Skeleton, run, raw_score: bool) -> tuple[float, float]:
    """(AP, median ms) of one decoder over one set's maps."""
    results, times = [], []
    for scene in scenes.scenes:
        heat, pafs, box = maps[scene.image_id]
        start = time.perf_counter()
        people = run(heat, pafs, box)
        times.append(1000 * (time.perf_counter() - start))
        if raw_score:  # a peer: its own person score ranks its people
            people = peer_people(people)
            found = to_coco_results(people, skeleton, scene.image_id)
            for result, person in zip(found, people, strict=True):
                result["score"] = person.score
            results += found
        else:
            results += to_coco_results(people, skeleton, scene.image_id)
    return coco_ap(scenes.coco, results), statistics.median(times)


def peak_bound(scenes: SceneSet, maps: dict, skeleton: Skeleton, config: DecodeConfig) -> float:
    """AP of the ceiling's pieces drawn from our peaks: each labelled keypoint moved to the nearest peak
    of its part within 1.5 cells (dropped when none), i.e. a perfect grouping of the peaks found.
    What no grouping can beat on these maps: the peaks' share of the gap to the ceiling."""
    results = []
    for scene in scenes.scenes:
        heat, pafs, box = maps[scene.image_id]
        peaks, _ = unblurred_peaks(box.crop(heat)[None], box.crop(pafs)[None], skeleton.num_keypoints, config,
                                   STRIDE)  # as the decode finds them
        pieces = ceiling_people(skeleton.from_coco17(scene.keypoints), skeleton, skeleton.limb_ids(True), 1)
        found = []
        for piece in pieces:
            kps = piece.keypoints.copy()
            for k in np.flatnonzero(kps[:, 2] > 0):
                xy = box.to_image(peaks.xy[0, k][peaks.valid[0, k]])
                d = np.hypot(*(xy - kps[k, :2]).T) if len(xy) else np.array([np.inf])
                kps[k] = (*xy[d.argmin()], 1.0) if d.min() <= 1.5 * STRIDE / box.scale_y else (np.nan, np.nan, 0.0)
            if (kps[:, 2] > 0).sum() >= config.min_parts:
                found.append(Person(kps, 1.0, keypoint_bbox(kps)))
        results += to_coco_results(found, skeleton, scene.image_id)
    return coco_ap(scenes.coco, results)


def ceiling(scenes: SceneSet, skeleton: Skeleton, min_parts: int) -> float:
    results = []
    for scene in scenes.scenes:
        pieces = ceiling_people(skeleton.from_coco17(scene.keypoints), skeleton, skeleton.limb_ids(True), min_parts)
        results += to_coco_results(pieces, skeleton, scene.image_id)
    return coco_ap(scenes.coco, results)


def rendered(scenes: SceneSet, rendering, skeleton: Skeleton, geometry: str) -> dict:
    """(heatmaps, PAFs, letterbox) per scene, drawn by ``rendering`` at ``geometry``."""
    out = {}
    for scene in scenes.scenes:
        box = letterbox(scene, geometry)
        out[scene.image_id] = (*scene_maps(scene, rendering, skeleton, box), box)
    return out


def model_maps(weights: str, scenes: SceneSet, geometry: str, skeleton: Skeleton) -> dict:
    """The model's own (heatmaps, PAFs, letterbox) per photo, at the geometry's input size."""
    import cv2

    from ros2_openpose.estimator import PoseEstimator
    from ros2_openpose.maps import infer_maps
    from ros2_openpose.tensor import to_tensor

    maps = {}
    for scene in scenes.scenes:
        box = letterbox(scene, geometry)
        size = box.resized_size[0]
        estimator = model_maps.cache.get(weights) or PoseEstimator(weights=weights, device="cpu", backend="torch")
        model_maps.cache[weights] = estimator
        if estimator.skeleton.name != skeleton.name:
            return {}
        tensor, box = to_tensor(cv2.imread(str(scene.path)), size, estimator.stride, estimator.input_format)
        pafs, heat = infer_maps(estimator.network, tensor)
        maps[scene.image_id] = (heat[0].numpy(), pafs[0].numpy(), box)
    return maps


model_maps.cache = {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", type=Path, default=None, help="folder with the peers' checkouts (peers.py)")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--geometries", nargs="+", default=list(GEOMETRIES), choices=list(GEOMETRIES))
    parser.add_argument("--renderings", nargs="*", default=[r.name for r in RENDERINGS])
    parser.add_argument("--no-crowds", action="store_true", help="skip the pasted crowds of 1-60 people")
    parser.add_argument("--slow-peer-max", type=int, default=10_000,
                        help="skip Hzzone (pure Python, minutes per cell here) on sets with more images than this")
    parser.add_argument("--weights", default=None, help="a model: add a row of its own maps on the real photos")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    peers, missing = load_peers(args.peers)
    config = DecodeConfig()
    decoders = {"ours coco18": (COCO18, ours(COCO18, config), False),
                "ours coco17": (COCO17, ours(COCO17, config), False),
                **{name: (COCO18, run, True) for name, run in peers.items()}}
    epoch = ""
    if args.weights:
        saved = read_weights(Path(args.weights))  # the package's reader: weights_only, one-line errors
        epoch = f" (epoch {saved['epoch']})" if isinstance(saved, dict) and "epoch" in saved else ""
    print(f"machine: {describe()}, limb scoring {limbs.KERNEL}, load average {os.getloadavg()[0]:.1f} at start")
    for name, why in missing.items():
        print(f"peer {name}: ABSENT ({why})")
    print("\ncells: AP / ceiling (median decode ms per image); ceiling AP per skeleton in the last columns\n")
    names = list(decoders)
    print("| split | geometry | maps | " + " | ".join(names) + " | peak bound coco18 | peak bound coco17 | "
          "ceiling coco18 | ceiling coco17 |")
    print("|---|---|---|" + "---:|" * (len(names) + 4))
    renderings = [r for r in RENDERINGS if r.name in args.renderings]
    for split in args.splits:
        base = load_split(args.data, split)
        sets = [base] + ([] if args.no_crowds else [pasted_crowds(base)])
        for scenes in sets:
            ceilings = {s.name: ceiling(scenes, s, config.min_parts) for s in (COCO18, COCO17)}
            for geometry in args.geometries:
                rows = [(r.name, lambda s, r=r, scenes=scenes, geometry=geometry: rendered(scenes, r, s, geometry))
                        for r in renderings]
                if args.weights and all(sc.path for sc in scenes.scenes):
                    rows.append((f"model {Path(args.weights).name}{epoch}",
                                 lambda s, scenes=scenes, geometry=geometry:
                                 model_maps(args.weights, scenes, geometry, s)))
                for label, make in rows:
                    maps = {s.name: make(s) for s in (COCO18, COCO17)}  # one row's maps at a time
                    cells = []
                    for name, (skeleton, run, raw) in decoders.items():
                        if not maps[skeleton.name] or (name == "Hzzone" and len(scenes.scenes) > args.slow_peer_max):
                            cells.append("not run")
                            continue
                        ap, ms = score_cell(scenes, maps[skeleton.name], skeleton, run, raw)
                        cells.append(f"{ap / ceilings[skeleton.name]:.3f} ({ms:.1f})")
                    for s in (COCO18, COCO17):
                        cells.append(f"{peak_bound(scenes, maps[s.name], s, config) / ceilings[s.name]:.3f}"
                                     if maps[s.name] else "not run")
                    print(f"| {scenes.name} | {geometry} | {label} | " + " | ".join(cells) +
                          f" | {ceilings['coco18']:.3f} | {ceilings['coco17']:.3f} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
