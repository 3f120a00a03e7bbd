"""COCO labels of a rendered scene: visibility flags from the owner buffer, boxes, polygons, json."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ros2_openpose.skeletons import COCO17, COCO17_NAMES

from .anatomy import ADJACENT, PARTS, SELF_OCCLUSION
from .draw import clip_box
from .scene import Scene


def visibility(scene: Scene, index: int) -> np.ndarray:
    """(17,) COCO v flags of person ``index``: 2 on top, 1 covered, 0 outside or unlabelled."""
    rig, owner = scene.rigs[index], scene.owner
    h, w = owner.shape
    flags = np.zeros(17, np.int32)
    tol = SELF_OCCLUSION * rig.scale
    for k, (x, y, depth) in enumerate(rig.keypoints):
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1) or k in rig.unlabelled:
            continue
        flags[k] = 1
        if k in rig.self_hidden:
            continue
        xi, yi = round(x), round(y)
        patch = owner[max(0, yi - 1):yi + 2, max(0, xi - 1):xi + 2].ravel()
        for value in np.unique(patch[patch // PARTS == index]):
            part = int(value % PARTS)
            if part in ADJACENT[k] or rig.part_depth[part] <= depth + tol:
                flags[k] = 2
                break
    return flags


def _polygons(mask: np.ndarray, x0: int, y0: int) -> list[list[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = [(c.reshape(-1, 2) + np.array([x0, y0])).astype(float).ravel().tolist() for c in contours if len(c) >= 3]
    if not polys:  # specks too thin for a contour: their bounding box
        ys, xs = np.nonzero(mask)
        a, b, c, d = xs.min() + x0, ys.min() + y0, xs.max() + x0, ys.max() + y0
        polys = [[float(a), float(b), float(c), float(b), float(c), float(d), float(a), float(d)]]
    return polys


def annotate(scene: Scene, index: int, image_id: int, ann_id: int) -> dict | None:
    """The COCO annotation of person ``index``, or None when none of it shows or no keypoint is
    labelled (a sliver of limb with every joint off the image teaches nothing, and a detector could
    never report it).  ``bbox``, ``area`` and ``segmentation`` (polygons) describe the visible
    silhouette.
    """
    rig = scene.rigs[index]
    box = clip_box(rig.bounds, scene.owner.shape[1], scene.owner.shape[0])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    roi = scene.owner[y0:y1, x0:x1]
    silhouette = (roi >= 0) & (roi // PARTS == index)
    if not silhouette.any():
        return None
    flags = visibility(scene, index)
    if not flags.any():
        return None
    keypoints: list[float] = []
    for (x, y, _), v in zip(rig.keypoints, flags, strict=True):
        keypoints += [round(float(x), 2), round(float(y), 2), int(v)] if v > 0 else [0, 0, 0]
    ys, xs = np.nonzero(silhouette)
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "keypoints": keypoints, "num_keypoints": int((flags > 0).sum()),
            "bbox": [float(xs.min() + x0), float(ys.min() + y0),
                     float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)],
            "area": float(silhouette.sum()), "segmentation": _polygons(silhouette, x0, y0)}


def coco_categories() -> list[dict]:
    """COCO's person category: keypoint names and the 1-indexed skeleton (COCO17 minus extra limbs)."""
    edges = [[a + 1, b + 1] for (a, b), extra in zip(COCO17.limbs, COCO17.extra, strict=True) if not extra]
    return [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO17_NAMES),
             "skeleton": edges}]


def write_coco(path: Path, info: dict[str, Any], images: list[dict], annotations: list[dict]) -> None:
    """A COCO person-keypoints json (what pycocotools reads), with the person category."""
    path.write_text(json.dumps({"info": info, "licenses": [], "images": images, "annotations": annotations,
                                "categories": coco_categories()}))
