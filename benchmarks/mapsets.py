"""Map sets for the decode benchmark matrix: the same real annotations, rendered several ways.

* **Scenes**: the real sets under ``real-keypoints``, split into a TUNE split (what the decoder's
  settings were chosen on) and a HELD-OUT split (never tuned on; reported separately), plus crowds of
  1-60 people built by pasting real annotated people of one split side by side in rows.
* **Renderings** of the scenes' keypoints into maps: the paper's segment-only PAFs (Cao et al.), the
  project's extended rectangle (``targets.py``'s training targets), limb widths 0.5 and 2 cells,
  Gaussians of sigma 5 and 9 px, and blurred and noisy versions of the paper's maps (a network's maps
  are neither exact nor clean).
* **Geometries**: native resolution (the image itself is the network input) and letterboxed to 368 and
  184 px high exactly as ``PoseEstimator`` does (``tensor.fit``: scale by height, pad right/bottom).

Everything is deterministic (seeded by image id).
"""
from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from scipy.ndimage import gaussian_filter

from ros2_openpose.skeletons import Skeleton
from ros2_openpose.targets import render_heatmaps, render_pafs
from ros2_openpose.tensor import Letterbox, fit

#: The real sets the decode's settings were tuned on, and the ones kept aside (never tuned on).
SPLITS: dict[str, tuple[str, ...]] = {
    "tune": ("coco-mini-train2017", "mmpose-crowdpose", "mmpose-exlpose"),
    "held-out": ("mmpose-coco", "mmpose-posetrack18", "mmpose-aic"),
}
CROWD_SIZES = (1, 5, 10, 20, 40, 60)
GEOMETRIES: tuple[str, ...] = ("native", "368", "184")
STRIDE = 8


@dataclass(frozen=True)
class Scene:
    image_id: int
    height: int
    width: int
    keypoints: np.ndarray        # (N, 17, 3) COCO keypoints in image pixels, labelled people only
    path: Path | None = None     # the photo; None for a pasted crowd (maps only)


@dataclass
class SceneSet:
    name: str
    coco: COCO                   # the ground truth COCOeval scores against
    scenes: list[Scene]


def _coco(dataset: dict) -> COCO:
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _labelled(anns: Sequence[dict]) -> np.ndarray:
    kps = [a["keypoints"] for a in anns if not a.get("iscrowd") and a["num_keypoints"] > 0]
    return np.array(kps, np.float32).reshape(-1, 17, 3)


def load_split(root: Path, split: str) -> SceneSet:
    """One split's real sets in one ground truth (image and annotation ids offset per folder)."""
    dataset: dict = {"images": [], "annotations": [], "categories": None}
    scenes = []
    for n, name in enumerate(SPLITS[split], start=1):
        folder = root / name
        data = json.loads((folder / "annotations.json").read_text())
        dataset["categories"] = dataset["categories"] or data["categories"]
        offset = n * 10_000_000
        by_image: dict[int, list[dict]] = {}
        for a in data["annotations"]:
            by_image.setdefault(a["image_id"], []).append(a)
            dataset["annotations"].append({**a, "id": a["id"] + offset, "image_id": a["image_id"] + offset})
        for im in data["images"]:
            dataset["images"].append({**im, "id": im["id"] + offset})
            scenes.append(Scene(im["id"] + offset, im["height"], im["width"],
                                _labelled(by_image.get(im["id"], [])), folder / im["file_name"]))
    return SceneSet(split, _coco(dataset), scenes)


def pasted_crowds(source: SceneSet, sizes: Sequence[int] = CROWD_SIZES, per_size: int = 2,
                  person_height: float = 200.0, seed: int = 0) -> SceneSet:
    """Crowds of ``sizes`` people: real annotated people of ``source`` scaled to ``person_height``
    px (box height) and pasted side by side in rows, neighbours' boxes overlapping by a quarter.

    Only the annotations are pasted (the maps are rendered from them), so the crowd has no photo.
    """
    rng = np.random.default_rng(seed)
    pool = []
    for scene in source.scenes:
        for a in source.coco.imgToAnns[scene.image_id]:
            if not a.get("iscrowd") and a["num_keypoints"] >= 5:
                pool.append(a)
    dataset: dict = {"images": [], "annotations": [], "categories": source.coco.dataset["categories"]}
    scenes = []
    for n in sizes:
        for k in range(per_size):
            image_id = 1000 * n + k
            cols = max(1, math.ceil(math.sqrt(n * 2.0)))
            rows = math.ceil(n / cols)
            anns, cell_w = [], 0.75 * person_height * 0.5  # people are about half as wide as tall
            for i, index in enumerate(rng.choice(len(pool), n, replace=n > len(pool))):
                a = pool[index]
                x, y, w, h = a["bbox"]
                s = person_height / max(h, 1.0)
                r, c = divmod(i, cols)
                # Every other row shifted by half a place: a crowd, not a parade.
                dx = 20 + cell_w * (c + 0.5 * (r % 2)) - x * s + rng.uniform(-0.1, 0.1) * cell_w
                dy = 20 + 0.8 * person_height * r - y * s
                kps = np.array(a["keypoints"], np.float32).reshape(17, 3)
                kps[:, :2] = np.where(kps[:, 2:] > 0, kps[:, :2] * s + (dx, dy), 0.0)
                anns.append({"id": image_id * 100 + i, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                             "keypoints": kps.reshape(-1).tolist(), "num_keypoints": int((kps[:, 2] > 0).sum()),
                             "bbox": [x * s + dx, y * s + dy, w * s, h * s], "area": float(a["area"]) * s * s})
            width = int(40 + cell_w * (cols + 0.5) + 0.5 * person_height)
            height = int(40 + 0.8 * person_height * (rows - 1) + person_height)
            dataset["images"].append({"id": image_id, "height": height, "width": width,
                                      "file_name": f"crowd-{n}-{k}"})
            dataset["annotations"] += anns
            scenes.append(Scene(image_id, height, width, _labelled(anns)))
    return SceneSet(f"{source.name} crowds", _coco(dataset), scenes)


def letterbox(scene: Scene, geometry: str) -> Letterbox:
    """Where the scene's image goes in the network input: native (unscaled) or fitted to 368 / 184."""
    size = scene.height if geometry == "native" else int(geometry)
    return fit((scene.height, scene.width), size, STRIDE)


@dataclass(frozen=True)
class Rendering:
    """One way of drawing maps from keypoints (see the module docstring)."""

    name: str
    sigma: float = 7.0               # Gaussian sigma, input pixels
    limb_width: float = 1.0          # PAF half-width across the limb, cells
    overhang: float | None = 0.0     # PAF beyond the ends, cells (None: limb_width, the training targets)
    blur: float = 0.0                # Gaussian blur of all maps afterwards, cells
    noise: float = 0.0               # i.i.d. Gaussian noise added to all maps afterwards

    def maps(self, keypoints: np.ndarray, skeleton: Skeleton, hw: tuple[int, int],
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(heatmaps (K+1, h, w), pafs (2L, h, w))`` of ``keypoints`` (N, K, 3) in input pixels."""
        heat = render_heatmaps(keypoints, hw, STRIDE, self.sigma, num_keypoints=skeleton.num_keypoints)
        pafs = render_pafs(keypoints, skeleton, hw, STRIDE, self.limb_width, self.overhang)
        if self.blur:
            heat = gaussian_filter(heat, (0, self.blur, self.blur), mode="nearest")
            pafs = gaussian_filter(pafs, (0, self.blur, self.blur), mode="nearest")
        if self.noise:
            rng = np.random.default_rng(seed)
            heat = heat + rng.normal(0, self.noise, heat.shape).astype(np.float32)
            pafs = pafs + rng.normal(0, self.noise, pafs.shape).astype(np.float32)
        return heat.astype(np.float32), pafs.astype(np.float32)


RENDERINGS: tuple[Rendering, ...] = (
    Rendering("paper"),
    Rendering("extended", overhang=None),
    Rendering("width 0.5", limb_width=0.5),
    Rendering("width 2", limb_width=2.0),
    Rendering("sigma 5", sigma=5.0),
    Rendering("sigma 9", sigma=9.0),
    Rendering("blurred", blur=1.0),
    Rendering("noisy", noise=0.05),
)


def scene_maps(scene: Scene, rendering: Rendering, skeleton: Skeleton,
               box: Letterbox) -> tuple[np.ndarray, np.ndarray]:
    """The scene's maps on the padded network input's grid, as a network would emit them."""
    kps = skeleton.from_coco17(scene.keypoints)
    kps[..., :2] = box.to_input(kps[..., :2])
    hw = (box.padded_size[0] // STRIDE, box.padded_size[1] // STRIDE)
    return rendering.maps(kps, skeleton, hw, seed=scene.image_id)


def coco_ap(coco: COCO, results: list[dict], max_dets: int = 100) -> float:
    """COCOeval keypoint AP (OKS 0.50:0.95, all areas) with up to ``max_dets`` people per image.

    COCOeval's own summary counts only the best 20 detections per image, which caps recall on
    crowds of 40-60; the precision table is read with ``max_dets`` instead.
    """
    if not results:
        return 0.0
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(coco, coco.loadRes(list(results)), iouType="keypoints")
        ev.params.imgIds = sorted(coco.getImgIds())
        ev.params.maxDets = [max_dets]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, 0, 0, 0]  # (OKS thresholds, recall points), all areas
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else 0.0
