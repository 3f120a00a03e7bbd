"""Synthetic people: articulated figures rendered into COCO-format keypoint datasets and clips.

For smoke tests, CI, the demo clip and the shipped demo model.  It is NOT a substitute for COCO:
the figures are flat-shaded capsules, and a network trained on them does not find real people.

Each figure is a kinematic tree (torso, head, two arms, two legs) with proportions relative to its
height and joint angles inside human limits.  Left limbs are drawn lighter and right limbs darker,
so left/right can be learnt from appearance as it can on real people (clothes, faces).  A per-pixel
owner buffer decides visibility: a keypoint covered by a later person or an occluder gets v=1,
one outside the image v=0 (with x = y = 0, as COCO stores them).

    python -m training.synthetic --out DIR --num N --seed S [--size 256] [--max-people 4] [--split val]
    python -m training.synthetic --video clip.mp4 --num FRAMES --seed S
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ros2_openpose.skeletons import COCO17, COCO17_NAMES

# Segment lengths and widths as fractions of body height.
HEAD_R, NECK, TORSO, SHOULDER_HALF, HIP_HALF = 0.065, 0.05, 0.30, 0.11, 0.075
UPPER_ARM, FOREARM, THIGH, SHIN = 0.17, 0.15, 0.24, 0.23
LIMB_WIDTH, TORSO_WIDTH = 0.045, 0.20


@dataclass
class Pose:
    """Joint angles in degrees (0 = limb hanging straight down; positive = away from the body)."""

    lean: float = 0.0
    shoulders: tuple[float, float] = (15.0, 15.0)   # left, right: upper arm from vertical
    elbows: tuple[float, float] = (10.0, 10.0)      # bend, same direction as the upper arm
    hips: tuple[float, float] = (5.0, 5.0)          # thigh from vertical
    knees: tuple[float, float] = (0.0, 0.0)         # bend backwards
    width: float = 1.0                              # 1 = facing the camera, < 1 = turned
    facing: int = 1                                 # +1 front (left side on image right), -1 back


def random_pose(rng: np.random.Generator) -> Pose:
    u = rng.uniform
    return Pose(lean=u(-15, 15), shoulders=(u(-30, 170), u(-30, 170)), elbows=(u(0, 140), u(0, 140)),
                hips=(u(-25, 70), u(-25, 70)), knees=(u(0, 110), u(0, 110)), width=u(0.45, 1.0),
                facing=1 if rng.random() < 0.8 else -1)


def walking_pose(phase: float, facing: int = 1) -> Pose:
    """A walking cycle: arms and legs swing in opposition."""
    s = np.sin(phase)
    return Pose(lean=3 * s, shoulders=(10 + 25 * s, 10 - 25 * s), elbows=(20 + 15 * s, 20 - 15 * s),
                hips=(5 - 25 * s, 5 + 25 * s), knees=(15 + 15 * max(s, 0), 15 + 15 * max(-s, 0)),
                width=0.9, facing=facing)


def _dir(angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([np.sin(a), np.cos(a)])  # 0 deg = straight down (image y grows downwards)


def keypoints_of(pose: Pose, centre: tuple[float, float], height: float) -> np.ndarray:
    """COCO-17 keypoint positions (17, 2) of a figure whose hip centre is at ``centre``."""
    kp = np.zeros((17, 2))
    hip_c = np.asarray(centre, float)
    up = -_dir(pose.lean)
    side = np.array([-up[1], up[0]]) * pose.width * pose.facing  # towards the person's left
    neck = hip_c + up * TORSO * height
    head = neck + up * (NECK + HEAD_R) * height
    kp[5], kp[6] = neck + side * SHOULDER_HALF * height, neck - side * SHOULDER_HALF * height
    kp[11], kp[12] = hip_c + side * HIP_HALF * height, hip_c - side * HIP_HALF * height
    out = np.sign(side[0]) or 1.0  # image-x sign of the person's left
    for i, (sh, el, wr, sign) in enumerate(((5, 7, 9, out), (6, 8, 10, -out))):
        a = pose.lean + sign * pose.shoulders[i]
        kp[el] = kp[sh] + _dir(a) * UPPER_ARM * height
        kp[wr] = kp[el] + _dir(a + sign * pose.elbows[i]) * FOREARM * height
    for i, (hp, kn, an, sign) in enumerate(((11, 13, 15, out), (12, 14, 16, -out))):
        a = pose.lean + sign * pose.hips[i]
        kp[kn] = kp[hp] + _dir(a) * THIGH * height
        kp[an] = kp[kn] + _dir(a - sign * pose.knees[i] * 0.5) * SHIN * height
    # Face parts narrow with the body as the figure turns (side carries the width).
    kp[0] = head - up * 0.015 * height
    kp[1], kp[2] = head + (side * 0.028 + up * 0.012) * height, head + (-side * 0.028 + up * 0.012) * height
    kp[3], kp[4] = head + side * 0.06 * height, head - side * 0.06 * height
    return kp


def _shade(color: np.ndarray, amount: float) -> tuple[int, ...]:
    target = 255.0 if amount > 0 else 0.0
    return tuple(int(c + (target - c) * abs(amount)) for c in color)


def draw_figure(canvas: np.ndarray, owner: np.ndarray, ident: int, kp: np.ndarray, height: float,
                pose: Pose, rng: np.random.Generator) -> None:
    """Draw one figure onto ``canvas`` and write ``ident`` into ``owner`` where it is on top."""
    shirt, pants, skin = (rng.integers(30, 226, 3).astype(float) for _ in range(3))
    limb_w = max(2, int(LIMB_WIDTH * height))
    layer = np.zeros(owner.shape, np.uint8)
    colour = np.zeros(canvas.shape, np.uint8)

    def segment(a: int, b: int, col: tuple[int, ...], width: int) -> None:
        pa, pb = tuple(np.round(kp[a]).astype(int)), tuple(np.round(kp[b]).astype(int))
        cv2.line(layer, pa, pb, 255, width, cv2.LINE_AA)
        cv2.line(colour, pa, pb, col, width, cv2.LINE_AA)

    # Far side first, so the near limbs overlap it; left limbs lighter, right limbs darker.
    left_first = pose.facing < 0
    sides = [(0, 0.45), (1, -0.45)] if left_first else [(1, -0.45), (0, 0.45)]
    legs = {0: ((11, 13), (13, 15)), 1: ((12, 14), (14, 16))}
    arms = {0: ((5, 7), (7, 9)), 1: ((6, 8), (8, 10))}
    for s, shade in sides[:1]:
        for a, b in legs[s]:
            segment(a, b, _shade(pants, shade), limb_w)
        for a, b in arms[s]:
            segment(a, b, _shade(shirt, shade), limb_w)
    torso = np.round(np.array([kp[5], kp[6], kp[12], kp[11]])).astype(np.int32)
    cv2.fillConvexPoly(layer, torso, 255, cv2.LINE_AA)
    cv2.fillConvexPoly(colour, torso, tuple(int(c) for c in shirt), cv2.LINE_AA)
    for stripe in range(int(rng.integers(0, 4))):  # texture: a few stripes across the shirt
        t = (stripe + 1) / 5
        cv2.line(colour, tuple(np.round(kp[5] + (kp[11] - kp[5]) * t).astype(int)),
                 tuple(np.round(kp[6] + (kp[12] - kp[6]) * t).astype(int)), _shade(shirt, -0.5), max(1, limb_w // 3))
    neck = (kp[5] + kp[6]) / 2
    head = (kp[3] + kp[4]) / 2  # the ears sit level with the head centre
    cv2.line(layer, tuple(np.round(neck).astype(int)), tuple(np.round(kp[0]).astype(int)), 255, limb_w)
    cv2.line(colour, tuple(np.round(neck).astype(int)), tuple(np.round(kp[0]).astype(int)), tuple(int(c) for c in skin), limb_w)
    radius = max(2, int(HEAD_R * height))
    cv2.circle(layer, tuple(np.round(head).astype(int)), radius, 255, -1, cv2.LINE_AA)
    cv2.circle(colour, tuple(np.round(head).astype(int)), radius, tuple(int(c) for c in skin), -1, cv2.LINE_AA)
    if pose.facing > 0:  # a face: eyes and nose are drawn only when the figure faces the camera
        dot = max(1, radius // 5)
        for i, col in ((1, (255, 255, 255)), (2, (40, 40, 40)), (0, (60, 60, 200))):
            cv2.circle(colour, tuple(np.round(kp[i]).astype(int)), dot, col, -1)
    for i, shade in ((3, 0.6), (4, -0.6)):
        cv2.circle(colour, tuple(np.round(kp[i]).astype(int)), max(1, radius // 4), _shade(skin, shade), -1)
    for s, shade in sides[1:]:
        for a, b in legs[s]:
            segment(a, b, _shade(pants, shade), limb_w)
        for a, b in arms[s]:
            segment(a, b, _shade(shirt, shade), limb_w)
    on = layer > 127
    canvas[on] = colour[on]
    owner[on] = ident


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A gradient with noise and random shapes: enough clutter that edges alone don't mean 'person'."""
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, h)[:, None, None] if rng.random() < 0.5 else np.linspace(0, 1, w)[None, :, None]
    img = (c0 * (1 - t) + c1 * t) * np.ones((h, w, 1))
    img = img + rng.normal(0, rng.uniform(2, 12), (h, w, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 6))):
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(3, max(4, w // 6))), col, -1)
        else:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(3, w // 3)), y + int(rng.integers(3, h // 3))), col, -1)
    return img


def annotate(kp: np.ndarray, owner: np.ndarray, ident: int, image_id: int, ann_id: int) -> dict | None:
    """A COCO annotation for figure ``ident``, or None when nothing of it is visible."""
    h, w = owner.shape
    silhouette = owner == ident
    keypoints = []
    for x, y in kp:
        xi, yi = int(round(x)), int(round(y))
        if not (0 <= xi < w and 0 <= yi < h):
            keypoints += [0, 0, 0]
            continue
        near = owner[max(0, yi - 1):yi + 2, max(0, xi - 1):xi + 2]
        keypoints += [round(float(x), 2), round(float(y), 2), 2 if (near == ident).any() else 1]
    labelled = sum(v > 0 for v in keypoints[2::3])
    if labelled == 0 or not silhouette.any():
        return None
    ys, xs = np.nonzero(silhouette)
    rle = mask_utils.encode(np.asfortranarray(silhouette.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "keypoints": keypoints,
            "num_keypoints": int(labelled), "area": float(silhouette.sum()), "segmentation": rle,
            "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]}


def render_scene(rng: np.random.Generator, size: tuple[int, int], figures: list[tuple[Pose, tuple, float]],
                 occluders: int = 0, bg: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Draw ``figures`` (pose, hip centre, height) back to front; returns image, owner map, keypoints."""
    w, h = size
    image = background(rng, h, w) if bg is None else bg.copy()
    owner = np.full((h, w), -1, np.int32)
    kps = []
    for ident, (pose, centre, height) in enumerate(figures):
        kp = keypoints_of(pose, centre, height)
        draw_figure(image, owner, ident, kp, height, pose, rng)
        kps.append(kp)
    for _ in range(occluders):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        x2, y2 = x + int(rng.integers(w // 10, w // 3)), y + int(rng.integers(h // 10, h // 3))
        cv2.rectangle(image, (x, y), (x2, y2), tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
        owner[y:y2 + 1, x:x2 + 1] = -1
    return image, owner, kps


def random_scene(rng: np.random.Generator, size: tuple[int, int], max_people: int) -> list:
    w, h = size
    count = int(rng.integers(1, max_people + 1))
    lo, hi = (0.4, 0.95) if count == 1 else (0.3, 0.7)
    figures = []
    for _ in range(count):
        height = rng.uniform(lo, hi) * h
        centre = (rng.uniform(0.15, 0.85) * w, rng.uniform(0.5, 0.6) * h + (height * 0.55 - 0.5 * h) * 0.5)
        figures.append((random_pose(rng), centre, height))
    return figures


def coco_categories() -> list[dict]:
    edges = [[a + 1, b + 1] for (a, b), extra in zip(COCO17.limbs, COCO17.extra) if not extra]
    return [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO17_NAMES), "skeleton": edges}]


def generate_dataset(out_dir: str | Path, num_images: int, seed: int, size: int | tuple[int, int] = 256,
                     max_people: int = 4, split: str = "train", occluder_prob: float = 0.3) -> Path:
    """Write ``num_images`` PNGs and ``person_keypoints_<split>.json`` under ``out_dir``; same seed, same bytes."""
    out = Path(out_dir)
    (out / split).mkdir(parents=True, exist_ok=True)
    wh = (size, size) if isinstance(size, int) else tuple(size)
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        occluders = int(rng.random() < occluder_prob)
        image, owner, kps = render_scene(rng, wh, random_scene(rng, wh, max_people), occluders)
        name = f"{image_id:06d}.png"
        cv2.imwrite(str(out / split / name), image)
        images.append({"id": image_id, "file_name": name, "width": wh[0], "height": wh[1]})
        for ident, kp in enumerate(kps):
            ann = annotate(kp, owner, ident, image_id, len(annotations) + 1)
            if ann:
                annotations.append(ann)
    path = out / f"person_keypoints_{split}.json"
    path.write_text(json.dumps({"info": {"description": "ros2_openpose synthetic people", "seed": seed},
                                "images": images, "annotations": annotations,
                                "categories": coco_categories()}))
    return path


def render_clip(out_path: str | Path, num_frames: int, seed: int, size: tuple[int, int] = (320, 240),
                fps: float = 10.0, people: int = 2) -> Path:
    """A clip of figures walking across a fixed background; writes ``<clip>.json`` annotations beside it."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size
    bg = background(rng, h, w)
    walkers = []
    for i in range(people):
        height = rng.uniform(0.45, 0.8) * h
        x0 = rng.uniform(0.1, 0.9) * w
        speed = rng.uniform(0.004, 0.012) * w * rng.choice([-1, 1])
        walkers.append((height, x0, speed, rng.uniform(0, 2 * np.pi), h * 0.62 + (height - 0.6 * h) * 0.1))
    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write video {out_path}")
    images, annotations = [], []
    for frame in range(num_frames):
        figures = []
        for height, x0, speed, phase, y in walkers:
            x = (x0 + speed * frame) % (w * 0.9) + w * 0.05
            figures.append((walking_pose(phase + frame * 0.5), (x, y), height))
        image, owner, kps = render_scene(np.random.default_rng(seed * 1000 + frame), size, figures, 0, bg)
        writer.write(image)
        images.append({"id": frame, "file_name": f"frame_{frame:06d}", "width": w, "height": h})
        for ident, kp in enumerate(kps):
            ann = annotate(kp, owner, ident, frame, len(annotations) + 1)
            if ann:
                annotations.append(ann)
    writer.release()
    out_path.with_suffix(".json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                         "categories": coco_categories()}))
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="dataset folder (images in <out>/<split>/)")
    parser.add_argument("--video", help="write a clip instead of a dataset")
    parser.add_argument("--num", type=int, required=True, help="images, or frames with --video")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--max-people", type=int, default=4)
    parser.add_argument("--split", default="train")
    args = parser.parse_args(argv)
    if args.video:
        print(render_clip(args.video, args.num, args.seed))
    elif args.out:
        print(generate_dataset(args.out, args.num, args.seed, args.size, args.max_people, args.split))
    else:
        parser.error("give --out or --video")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
