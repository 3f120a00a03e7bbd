"""COCO-format person keypoints -> (image, target maps, loss mask) training samples.

Reads any COCO-format set through pycocotools: the official 2014/2017 layouts (an image folder plus
``annotations/person_keypoints_<split>.json``, see :func:`coco_layout`) or a folder of images with
one ``annotations.json`` (``../shared/data/real-keypoints/*``).  Keypoints are converted to the
model's skeleton with ``Skeleton.from_coco17``; targets come from ``ros2_openpose.targets`` after
augmentation, so nothing here knows how a heatmap or a PAF is drawn.

Loss masks (1 = learn, 0 = ignore), at the map resolution.  Spatial: crowd regions (and the teacher's
unlabelled people that ``training.prepare`` writes as crowds) and people without a single labelled
keypoint are ignored, so a person nobody annotated is never taught as background.  Per channel: where
a labelled person lacks keypoint k, heatmap channel k (and every limb touching k, and the background)
is ignored over that person's region, so an unlabelled nose is never taught as "no nose here".
"""
from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from pycocotools.coco import COCO
from torch.utils.data import Dataset

from ros2_openpose.skeletons import Skeleton, get_skeleton
from ros2_openpose.targets import cell_centres, render_heatmaps, render_pafs
from ros2_openpose.tensor import get_input_format

from .augment import (
    AugmentConfig,
    color_jitter,
    letterbox_affine,
    random_affine,
    transform_keypoints,
    transform_points,
    warp_image,
    warp_mask,
)

#: sigma of the heatmap Gaussians at the 368 input (CMU's value); other sizes scale it.
SIGMA_AT_368 = 7.0


def default_sigma(input_size: int) -> float:
    return SIGMA_AT_368 * input_size / 368.0


def load_coco(annotations: str | Path) -> COCO:
    """pycocotools COCO, without its progress prints."""
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(annotations))


def coco_layout(root: str | Path, split: str) -> tuple[Path, Path]:
    """``(images_dir, annotation_file)`` of an official COCO download for ``split``.

    Accepts ``root/<split>/`` or ``root/images/<split>/`` next to
    ``root/annotations/person_keypoints_<split>.json`` (2014: train2014/val2014, 2017: train2017/val2017).
    """
    root = Path(root)
    ann = root / "annotations" / f"person_keypoints_{split}.json"
    if not ann.is_file():
        raise FileNotFoundError(f"{ann} not found (expected the COCO person keypoints annotations)")
    for images in (root / split, root / "images" / split):
        if images.is_dir():
            return images, ann
    raise FileNotFoundError(f"no image folder {root / split} or {root / 'images' / split}")


@dataclass
class RawSample:
    """One image with its people in the chosen skeleton, before any transform."""

    image_id: int
    image: np.ndarray       # (H, W, 3) uint8 BGR
    keypoints: np.ndarray   # (N, K, 3) x, y, v in image pixels; v = 0 unlabelled
    boxes: np.ndarray       # (N, 4) x, y, w, h of those people
    mask: np.ndarray        # (H, W) float32, 1 learn / 0 ignore


def labelled_count(ann: dict) -> int:
    """Labelled keypoints of one annotation, counted from the array (num_keypoints is not always right)."""
    kps = ann.get("keypoints") or []
    return int(sum(1 for v in kps[2::3] if v > 0))


def ignore_mask(coco: COCO, image_info: dict, anns: list[dict]) -> np.ndarray:
    """(H, W) float32 loss mask: 0 over crowds and over people with no labelled keypoints.

    Crowd RLEs and polygons go through ``annToMask``; an unlabelled person without a segmentation is
    covered by its box.  ``ignore_regions_x/y`` polygons on the image entry (PoseTrack) are honoured.
    """
    h, w = int(image_info["height"]), int(image_info["width"])
    ignore = np.zeros((h, w), dtype=np.uint8)
    for ann in anns:
        if not (ann.get("iscrowd", 0) or labelled_count(ann) == 0):
            continue
        if ann.get("segmentation"):
            with warnings.catch_warnings():  # pycocotools 2.0.x vs numpy 2 "copy keyword" notice
                warnings.filterwarnings("ignore", category=DeprecationWarning, module="pycocotools")
                ignore |= coco.annToMask(ann).astype(np.uint8)
        elif ann.get("bbox"):
            x, y, bw, bh = ann["bbox"]
            x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
            ignore[y0:int(np.ceil(y + bh)), x0:int(np.ceil(x + bw))] = 1
    for xs, ys in zip(image_info.get("ignore_regions_x") or [], image_info.get("ignore_regions_y") or [], strict=True):
        if len(xs) >= 3:
            poly = np.round(np.stack([xs, ys], axis=1)).astype(np.int32)
            cv2.fillPoly(ignore, [poly], 1)
    return 1.0 - ignore.astype(np.float32)


def person_regions(keypoints: np.ndarray, boxes: np.ndarray, margin: float) -> np.ndarray:
    """(N, 4, 2) corners, in image pixels, of the region each person's unlabelled parts may lie in:
    the union of its box and its labelled keypoints' box grown by ``margin`` x its longer side per side
    (a keypoint box of body joints leaves the head out; the margin brings it in)."""
    corners = np.zeros((len(keypoints), 4, 2), np.float32)
    for i, (person, box) in enumerate(zip(keypoints, boxes, strict=True)):
        on = person[:, 2] > 0
        lo, hi = person[on, :2].min(0), person[on, :2].max(0)
        grow = margin * float(max(hi - lo))
        x0, y0 = min(lo[0] - grow, box[0]), min(lo[1] - grow, box[1])
        x1, y1 = max(hi[0] + grow, box[0] + box[2]), max(hi[1] + grow, box[1] + box[3])
        corners[i] = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return corners


def cells_inside(corners: np.ndarray, hw: tuple[int, int], stride: int) -> np.ndarray:
    """(h, w) bool: map cells whose centre lies inside the convex polygon ``corners`` (input pixels).

    An edge test on the centres (the same sign of the cross product for every edge, either winding,
    since a flip reverses it): exact where a rasteriser would add a row on two sides."""
    ys, xs = cell_centres(hw[0], stride), cell_centres(hw[1], stride)
    px, py = xs[None, :, None], ys[:, None, None]
    a, b = corners, np.roll(corners, -1, axis=0)
    cross = (b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (b[:, 1] - a[:, 1]) * (px - a[:, 0])
    return (cross >= 0).all(-1) | (cross <= 0).all(-1)


def channel_masks(spatial: np.ndarray, keypoints: np.ndarray, regions: np.ndarray, skeleton: Skeleton,
                  stride: int) -> tuple[np.ndarray, np.ndarray]:
    """``(heatmap mask (K+1, h, w), PAF mask (2L, h, w))``: ``spatial`` with, for each person, the
    channels of its unlabelled keypoints zeroed over its region (``regions``: (N, 4, 2) corners in
    network-input pixels); the limbs touching such a keypoint and the background likewise."""
    h, w = spatial.shape
    hm = np.repeat(spatial[None], skeleton.num_heatmaps, axis=0)
    paf = np.repeat(spatial[None], skeleton.num_pafs, axis=0)
    limbs = np.asarray(skeleton.limbs)
    for person, corners in zip(keypoints, regions, strict=True):
        missing = person[:, 2] <= 0
        if not missing.any() or missing.all():
            continue
        inside = cells_inside(corners, (h, w), stride)
        hm[np.append(missing, True)[:, None, None] & inside[None]] = 0.0
        for k in np.flatnonzero(missing[limbs[:, 0]] | missing[limbs[:, 1]]):
            paf[list(skeleton.paf_channels[k])] *= ~inside
    return hm, paf


def downsample_mask(mask: np.ndarray, stride: int) -> np.ndarray:
    """Average each stride x stride cell (a cell half over a crowd gets weight 0.5)."""
    h, w = mask.shape
    return cv2.resize(mask, (w // stride, h // stride), interpolation=cv2.INTER_AREA)


class PoseDataset(Dataset):
    """COCO-format keypoint set as training samples at a square ``input_size``.

    Item: ``image`` (3, S, S) uint8 BGR (normalised on the device by ``ros2_openpose.tensor``),
    ``heatmaps`` (K+1, S/8, S/8), ``pafs`` (2L, S/8, S/8), ``mask`` (1, S/8, S/8) float32, and
    ``image_id``.  With ``augment`` set, each item's transform is drawn from an RNG seeded by
    ``(seed, epoch, index)``: the same whatever worker loads it, so a resumed run sees the same data.
    """

    def __init__(self, images: str | Path, annotations: str | Path | COCO,
                 skeleton: str | Skeleton = "coco17", input_size: int = 368, stride: int = 8,
                 sigma: float | None = None, paf_width: float = 1.0,
                 augment: AugmentConfig | None = None, seed: int = 0,
                 require_people: bool = True, max_images: int | None = None,
                 input_format: str = "rgb_imagenet", unlabelled_margin: float = 0.3) -> None:
        if input_size % stride:
            raise ValueError(f"input_size {input_size} must be a multiple of stride {stride}")
        self.images = Path(images)
        self.coco = annotations if isinstance(annotations, COCO) else load_coco(annotations)
        self.skeleton = get_skeleton(skeleton)
        self.input_size, self.stride = int(input_size), int(stride)
        self.sigma = default_sigma(input_size) if sigma is None else float(sigma)
        self.paf_width = float(paf_width)
        self.unlabelled_margin = float(unlabelled_margin)
        self.augment = augment
        # Padding that normalises to 0, as ros2_openpose.tensor pads at inference.
        self.pad_bgr = get_input_format(input_format).pad_bgr
        self.seed, self.epoch = int(seed), 0
        ids = sorted(self.coco.getImgIds())
        if require_people:
            # Images without a labelled person teach only background; CMU skipped them too.
            ids = [i for i in ids if any(labelled_count(a) > 0 and not a.get("iscrowd", 0)
                                         for a in self.coco.loadAnns(self.coco.getAnnIds(imgIds=i)))]
        self.image_ids = ids[:max_images] if max_images else ids
        if not self.image_ids:
            raise ValueError(f"no usable images in {annotations}")

    def __len__(self) -> int:
        return len(self.image_ids)

    def set_epoch(self, epoch: int) -> None:
        """Pick the epoch's augmentation stream (call before the loader's workers start)."""
        self.epoch = int(epoch)

    @property
    def map_size(self) -> int:
        return self.input_size // self.stride

    def load(self, index: int) -> RawSample:
        image_id = self.image_ids[index]
        info = self.coco.loadImgs(image_id)[0]
        path = self.images / info["file_name"]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read image {path}")
        anns = [a for a in self.coco.loadAnns(self.coco.getAnnIds(imgIds=image_id, iscrowd=None))
                if a.get("category_id", 1) == 1]
        people = [a for a in anns if not a.get("iscrowd", 0) and labelled_count(a) > 0]
        k17 = np.array([a["keypoints"] for a in people], dtype=np.float32).reshape(-1, 17, 3)
        keypoints = self.skeleton.from_coco17(k17)
        boxes = np.array([a["bbox"] for a in people], dtype=np.float32).reshape(-1, 4)
        return RawSample(image_id, image, keypoints, boxes, ignore_mask(self.coco, info, anns))

    def transform(self, raw: RawSample, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """The 2x3 matrix for this sample and whether it flips (deterministic when ``rng`` is None)."""
        if rng is None or self.augment is None:
            return letterbox_affine(raw.image.shape[:2], self.input_size), False
        return random_affine(rng, raw.image.shape[:2], raw.keypoints, raw.boxes, self.input_size,
                             self.augment)

    def make_targets(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hw = (self.map_size, self.map_size)
        heatmaps = render_heatmaps(keypoints, hw, stride=self.stride, sigma=self.sigma,
                                   num_keypoints=self.skeleton.num_keypoints)
        pafs = render_pafs(keypoints, self.skeleton, hw, stride=self.stride, limb_width=self.paf_width)
        return np.asarray(heatmaps, np.float32), np.asarray(pafs, np.float32)

    def sample(self, raw: RawSample, rng: np.random.Generator | None) -> dict[str, np.ndarray]:
        """Transform one raw sample and render its targets (numpy; also used by tests and benchmarks)."""
        matrix, flip = self.transform(raw, rng)
        image = warp_image(raw.image, matrix, self.input_size, self.pad_bgr)
        if rng is not None and self.augment is not None:
            image = color_jitter(image, rng, self.augment)
        keypoints = transform_keypoints(raw.keypoints, matrix, flip, self.skeleton)
        mask = downsample_mask(warp_mask(raw.mask, matrix, self.input_size), self.stride)
        heatmaps, pafs = self.make_targets(keypoints)
        regions = transform_points(person_regions(raw.keypoints, raw.boxes, self.unlabelled_margin), matrix)
        heatmap_mask, paf_mask = channel_masks(mask, keypoints, regions, self.skeleton, self.stride)
        return {"image": image, "keypoints": keypoints, "heatmaps": heatmaps, "pafs": pafs,
                "mask": mask, "heatmap_mask": heatmap_mask, "paf_mask": paf_mask, "matrix": matrix,
                "flip": flip}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        rng = None
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        s = self.sample(self.load(index), rng)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(s["image"].transpose(2, 0, 1))),
            "heatmaps": torch.from_numpy(s["heatmaps"]),
            "pafs": torch.from_numpy(s["pafs"]),
            "mask": torch.from_numpy(s["mask"])[None],
            "heatmap_mask": torch.from_numpy(s["heatmap_mask"]),
            "paf_mask": torch.from_numpy(s["paf_mask"]),
            "image_id": int(self.image_ids[index]),
        }


def worker_init(_: int) -> None:
    """DataLoader worker setup: OpenCV's own thread pool would fight the other workers for cores."""
    cv2.setNumThreads(1)
