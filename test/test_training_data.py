"""Training data: targets through the loader on real COCO annotations, loss masks, flips, augmentation."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ros2_openpose.skeletons import COCO17, COCO18, get_skeleton
from ros2_openpose.targets import render_heatmaps, render_pafs
from training.augment import (
    AugmentConfig,
    flip_keypoints,
    flip_maps,
    random_affine,
    transform_keypoints,
    warp_image,
    warp_mask,
)
from training.data import PoseDataset, coco_layout, load_coco

# pycocotools 2.0.x decoding masks under numpy 2 warns about a copy keyword; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

MINI = "coco-mini-train2017"
CROWD_IMAGE = 174375      # coco-mini: a large iscrowd RLE plus unlabelled people
SETS = ("coco-mini-train2017", "mmpose-coco", "mmpose-crowdpose", "mmpose-posetrack18", "mmpose-aic",
        "mmpose-exlpose")


def dataset(folder: Path, annotations: Path | None = None, **kw) -> PoseDataset:
    return PoseDataset(folder, annotations or folder / "annotations.json", **kw)


def cell_centre(i: int, j: int, stride: int = 8) -> np.ndarray:
    return np.array([stride * j + (stride - 1) / 2, stride * i + (stride - 1) / 2])


def segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    d = b - a
    t = np.clip(np.dot(p - a, d) / max(np.dot(d, d), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(p - (a + t * d)))


def write_annotations(path: Path, source: dict, image_id: int, people: list[dict]) -> Path:
    """A COCO json with one real image of ``source`` and the given annotations."""
    data = {k: v for k, v in source.items() if k not in ("images", "annotations")}
    data["images"] = [i for i in source["images"] if i["id"] == image_id]
    data["annotations"] = people
    path.write_text(json.dumps(data))
    return path


def person(image_id: int, ann_id: int, points: dict[int, tuple[float, float]]) -> dict:
    kps = [0.0] * 51
    for k, (x, y) in points.items():
        kps[3 * k:3 * k + 3] = [float(x), float(y), 2]
    xs, ys = [p[0] for p in points.values()], [p[1] for p in points.values()]
    box = [min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1]
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "keypoints": kps,
            "num_keypoints": len(points), "bbox": box, "area": box[2] * box[3], "segmentation": []}


# ----------------------------------------------------------------------------------- targets

def test_heatmaps_through_loader_match_gaussians_on_real_annotations(real_data: Path) -> None:
    ds = dataset(real_data / MINI, input_size=368)
    idx = ds.image_ids.index(CROWD_IMAGE)
    s = ds.sample(ds.load(idx), None)
    kps, hm = s["keypoints"], s["heatmaps"]
    assert hm.shape == (18, 46, 46) and s["pafs"].shape == (46, 46, 46) and s["mask"].shape == (46, 46)
    sigma, checked = 7.0, 0
    for p in kps:
        for k in np.flatnonzero(p[:, 2] > 0):
            x, y = p[k, :2]
            i, j = int(y // 8), int(x // 8)
            if not (0 <= i < 46 and 0 <= j < 46):
                continue
            c = cell_centre(i, j)
            # max-merge over people, Gaussian cut at exp(-ln 100)
            others = kps[kps[:, k, 2] > 0, k, :2]
            e = ((others - c) ** 2).sum(1) / (2 * sigma ** 2)
            expected = np.exp(-e[e <= math.log(100)]).max()
            assert hm[k, i, j] == pytest.approx(expected, abs=1e-4)
            assert hm[k, i, j] >= math.exp(-32 / (2 * sigma ** 2)) - 1e-4  # cell holds the keypoint
            assert hm[-1, i, j] == pytest.approx(max(0.0, 1 - hm[:-1, i, j].max()), abs=1e-5)
            checked += 1
    assert checked >= 20


def test_heatmap_peak_is_one_when_the_keypoint_sits_on_a_cell_centre(real_data: Path, tmp_path: Path) -> None:
    folder = real_data / MINI
    gt = json.loads((folder / "annotations.json").read_text())
    ds = dataset(folder, input_size=368)
    forward = ds.transform(ds.load(ds.image_ids.index(CROWD_IMAGE)), None)[0]
    inverse = cv2.invertAffineTransform(forward)
    ann = next(a for a in gt["annotations"] if a["image_id"] == CROWD_IMAGE and a["keypoints"][2] > 0
               and not a["iscrowd"])
    x_in = forward[:, :2] @ np.asarray(ann["keypoints"][:2]) + forward[:, 2]
    i, j = int(x_in[1] // 8), int(x_in[0] // 8)
    nose = inverse[:, :2] @ cell_centre(i, j) + inverse[:, 2]  # image point that lands on the centre
    ann["keypoints"][0:2] = [float(nose[0]), float(nose[1])]
    annotations = tmp_path / "annotations.json"
    annotations.write_text(json.dumps(gt))
    moved = dataset(folder, annotations, input_size=368)
    out = moved.sample(moved.load(moved.image_ids.index(CROWD_IMAGE)), None)
    assert out["heatmaps"][0, i, j] == pytest.approx(1.0, abs=1e-4)
    assert out["heatmaps"][0].max() == pytest.approx(1.0, abs=1e-4)
    assert out["heatmaps"][-1, i, j] == pytest.approx(0.0, abs=1e-4)


def test_pafs_through_loader_are_unit_along_limbs_and_zero_elsewhere(real_data: Path) -> None:
    ds = dataset(real_data / MINI, input_size=368)
    for image_id in (CROWD_IMAGE, ds.image_ids[0]):
        s = ds.sample(ds.load(ds.image_ids.index(image_id)), None)
        kps, pafs = s["keypoints"], s["pafs"]
        along = 0
        for k, (a, b) in enumerate(COCO17.limbs):
            cx, cy = COCO17.paf_channels[k]
            segs = [(p[a, :2], p[b, :2]) for p in kps if p[a, 2] > 0 and p[b, 2] > 0]
            for pa, pb in segs:
                if np.linalg.norm(pb - pa) < 16:
                    continue
                mid = (pa + pb) / 2
                i, j = int(mid[1] // 8), int(mid[0] // 8)
                if not (0 <= i < 46 and 0 <= j < 46):
                    continue
                c = cell_centre(i, j)
                if any(segment_distance(c, qa, qb) < 24 for qa, qb in segs if qa is not pa):
                    continue  # another person's same limb nearby: averaged, tested separately
                unit = (pb - pa) / np.linalg.norm(pb - pa)
                assert pafs[cx, i, j] == pytest.approx(unit[0], abs=1e-4)
                assert pafs[cy, i, j] == pytest.approx(unit[1], abs=1e-4)
                along += 1
            # zero wherever the cell centre is more than 1.5 cells from every limb of this type
            for i in range(46):
                for j in range(46):
                    c = cell_centre(i, j)
                    if all(segment_distance(c, qa, qb) > 12 for qa, qb in segs):
                        assert pafs[cx, i, j] == 0 and pafs[cy, i, j] == 0
        assert along >= 5


def test_overlapping_limbs_are_averaged(real_data: Path, tmp_path: Path) -> None:
    folder = real_data / MINI
    gt = json.loads((folder / "annotations.json").read_text())
    image_id = gt["images"][0]["id"]
    probe = dataset(folder, input_size=368)
    raw = probe.load(probe.image_ids.index(image_id))
    inverse = cv2.invertAffineTransform(probe.transform(raw, None)[0])

    def to_image(x: float, y: float) -> tuple:
        return tuple(inverse[:, :2] @ np.array([x, y]) + inverse[:, 2])

    # Left upper arms (5 -> 7) of two people crossing at the centre of cell (12, 12) = (99.5, 99.5).
    horizontal = person(image_id, 1, {5: to_image(59.5, 99.5), 7: to_image(139.5, 99.5)})
    vertical = person(image_id, 2, {5: to_image(99.5, 59.5), 7: to_image(99.5, 139.5)})
    ann = write_annotations(tmp_path / "a.json", gt, image_id, [horizontal, vertical])
    ds = dataset(folder, ann, input_size=368)
    s = ds.sample(ds.load(0), None)
    cx, cy = COCO17.paf_channels[COCO17.limbs.index((5, 7))]
    assert (s["pafs"][cx, 12, 12], s["pafs"][cy, 12, 12]) == pytest.approx((0.5, 0.5), abs=1e-4)
    assert (s["pafs"][cx, 12, 16], s["pafs"][cy, 12, 16]) == pytest.approx((1.0, 0.0), abs=1e-4)
    assert (s["pafs"][cx, 16, 12], s["pafs"][cy, 16, 12]) == pytest.approx((0.0, 1.0), abs=1e-4)
    others = [c for k, pair in enumerate(COCO17.paf_channels) if k != COCO17.limbs.index((5, 7)) for c in pair]
    assert not s["pafs"][others].any()


# ----------------------------------------------------------------------------------- masks

def cell_fraction(region: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    warped = cv2.warpAffine(region.astype(np.float32), matrix, (size, size), flags=cv2.INTER_NEAREST)
    return cv2.resize(warped, (size // 8, size // 8), interpolation=cv2.INTER_AREA)


def test_mask_ignores_crowd_and_unlabelled_people(real_data: Path) -> None:
    ds = dataset(real_data / MINI, input_size=368)
    coco = ds.coco
    image_id = 538113  # a crowd RLE over the background and 8 people nobody labelled
    anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=None))
    crowd = [a for a in anns if a["iscrowd"]]
    unlabelled = [a for a in anns if not a["iscrowd"] and a["num_keypoints"] == 0]
    assert crowd and unlabelled
    raw = ds.load(ds.image_ids.index(image_id))
    matrix = ds.transform(raw, None)[0]
    mask = ds.sample(raw, None)["mask"]
    union = np.zeros(raw.mask.shape, np.uint8)
    for group in (crowd, unlabelled):
        region = np.maximum.reduce([coco.annToMask(a) for a in group])
        union |= region
        covered = cell_fraction(region, matrix, 368) == 1
        assert covered.sum() > 0 and (mask[covered] == 0).all()
    # every cell's weight is the fraction of its input pixels outside the ignored regions
    np.testing.assert_allclose(mask, 1 - cell_fraction(union, matrix, 368), atol=1e-6)
    assert (mask == 1).sum() > 1000


def test_mask_uses_bbox_when_an_unlabelled_person_has_no_segmentation(real_data: Path) -> None:
    ds = dataset(real_data / "mmpose-crowdpose", input_size=368)
    ann = next(a for a in ds.coco.dataset["annotations"] if a["num_keypoints"] == 0)
    assert not ann.get("segmentation")
    raw = ds.load(ds.image_ids.index(ann["image_id"]))
    x, y, w, h = ann["bbox"]
    region = np.zeros(raw.mask.shape, np.uint8)
    region[int(np.ceil(y)):int(y + h), int(np.ceil(x)):int(x + w)] = 1
    covered = cell_fraction(region, ds.transform(raw, None)[0], 368) == 1
    mask = ds.sample(raw, None)["mask"]
    assert covered.sum() > 0 and (mask[covered] == 0).all()


def test_mask_honours_posetrack_ignore_regions(real_data: Path) -> None:
    ds = dataset(real_data / "mmpose-posetrack18", input_size=368)
    info = next(i for i in ds.coco.dataset["images"] if i.get("ignore_regions_x"))
    raw = ds.load(ds.image_ids.index(info["id"]))
    region = np.zeros(raw.mask.shape, np.uint8)
    for xs, ys in zip(info["ignore_regions_x"], info["ignore_regions_y"], strict=True):
        cv2.fillPoly(region, [np.round(np.stack([xs, ys], 1)).astype(np.int32)], 1)
    assert (raw.mask[region > 0] == 0).all()


# ----------------------------------------------------------------------------------- flips

@pytest.mark.parametrize("name", ["coco17", "coco18"])
def test_flipping_rendered_maps_equals_rendering_flipped_keypoints(real_data: Path, name: str) -> None:
    skeleton = get_skeleton(name)
    ds = dataset(real_data / MINI, skeleton=skeleton, input_size=128)
    s = ds.sample(ds.load(ds.image_ids.index(CROWD_IMAGE)), None)
    kps = s["keypoints"]
    hw = (16, 16)
    sigma = 7.0 * 128 / 368
    hm, paf = render_heatmaps(kps, hw, stride=8, sigma=sigma), render_pafs(kps, skeleton, hw, stride=8)
    assert np.abs(paf).max() > 0.5
    fhm, fpaf = flip_maps(hm, paf, skeleton)
    flipped = flip_keypoints(kps, 128, skeleton)
    np.testing.assert_allclose(fhm, render_heatmaps(flipped, hw, stride=8, sigma=sigma), atol=1e-5)
    np.testing.assert_allclose(fpaf, render_pafs(flipped, skeleton, hw, stride=8), atol=1e-5)


def test_cross_body_limb_keeps_its_left_to_right_direction_after_a_flip() -> None:
    k = COCO17.limbs.index((11, 12))  # l_hip -> r_hip
    source, sign = COCO17.flip_limb_permutation()
    assert source[k] == k and sign[k] == -1
    kps = np.zeros((1, 17, 3), np.float32)
    kps[0, 11] = (35.5, 59.5, 2)  # l_hip left of r_hip: the limb points +x
    kps[0, 12] = (83.5, 59.5, 2)
    paf = render_pafs(kps, COCO17, (16, 16), stride=8)
    cx, _ = COCO17.paf_channels[k]
    assert paf[cx, 7, 7] == pytest.approx(1.0)
    _, fpaf = flip_maps(render_heatmaps(kps, (16, 16), stride=8, sigma=2.4), paf, COCO17)
    flipped = flip_keypoints(kps, 128, COCO17)
    assert flipped[0, 11, 0] < flipped[0, 12, 0]  # the new l_hip is still on the left
    assert fpaf[cx, 7, 8] == pytest.approx(1.0)   # so the field still points +x (a plain mirror: -1)


def test_flip_swaps_left_and_right_keypoints() -> None:
    kps = np.zeros((1, 17, 3), np.float32)
    kps[0, 5] = (10, 20, 2)   # left_shoulder
    kps[0, 6] = (50, 22, 1)   # right_shoulder
    kps[0, 0] = (30, 5, 2)    # nose
    out = flip_keypoints(kps, 64, COCO17)
    assert out[0, 5].tolist() == [13, 22, 1]   # right shoulder mirrored, now labelled left
    assert out[0, 6].tolist() == [53, 20, 2]
    assert out[0, 0].tolist() == [33, 5, 2]
    assert (out[0, 7:] == 0).all()
    k18 = flip_keypoints(COCO18.from_coco17(kps), 64, COCO18)
    assert k18[0, 1].tolist() == pytest.approx([63 - 30, 21, 1])  # neck: midpoint, lower v


# ----------------------------------------------------------------------------------- augmentation

def test_one_matrix_moves_image_keypoints_and_mask_together() -> None:
    rng = np.random.default_rng(3)
    image = np.zeros((200, 300, 3), np.uint8)
    image[79:82, 119:122] = 255                       # a bright dot at the keypoint (120, 80)
    mask = np.ones((200, 300), np.float32)
    mask[150:190, 60:100] = 0                         # an ignored square centred on (79.5, 169.5)
    kps = np.zeros((1, 17, 3), np.float32)
    kps[0, 9] = (120, 80, 2)                          # left wrist
    kps[0, 15] = (79.5, 169.5, 2)                     # left ankle on the ignored square
    cfg = AugmentConfig(flip_prob=1.0, scale_min=1.0, scale_max=1.0, main_min_keypoints=1)
    boxes = np.array([[60, 60, 120, 130]], np.float32)
    matrix, flip = random_affine(rng, image.shape[:2], kps, boxes, 128, cfg)
    assert flip
    out = transform_keypoints(kps, matrix, flip, COCO17)
    wrist = out[0, 10]                                # left wrist is the right wrist after the flip
    warped = warp_image(image, matrix, 128, (0, 0, 0))[..., 0]
    y, x = np.unravel_index(np.argmax(warped), warped.shape)
    assert abs(x - wrist[0]) <= 1.5 and abs(y - wrist[1]) <= 1.5
    ankle = out[0, 16]
    assert warp_mask(mask, matrix, 128)[round(ankle[1]), round(ankle[0])] == pytest.approx(0.0)
    outside = np.array([[1.0, 0.0, 50.0], [0.0, 1.0, 50.0]])   # shifted off the source image
    assert warp_mask(np.zeros((10, 10), np.float32), outside, 20)[5, 5] == 1.0  # padding: background


def test_augmentation_depends_only_on_seed_epoch_and_index(real_data: Path) -> None:
    ds = dataset(real_data / "mmpose-coco", input_size=64, augment=AugmentConfig(), seed=5)
    a, b = ds[1], ds[1]
    assert all(torch.equal(a[k], b[k]) for k in ("image", "heatmaps", "pafs", "mask"))
    ds.set_epoch(1)
    assert not torch.equal(ds[1]["image"], a["image"])


@pytest.mark.parametrize("folder", SETS)
def test_loader_over_real_sets(real_data: Path, folder: str) -> None:
    ds = dataset(real_data / folder, input_size=64, augment=AugmentConfig())
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    batch = next(iter(loader))
    n = batch["image"].shape[0]
    assert batch["image"].dtype == torch.uint8 and batch["image"].shape == (n, 3, 64, 64)
    assert batch["heatmaps"].shape == (n, 18, 8, 8) and batch["pafs"].shape == (n, 46, 8, 8)
    assert batch["mask"].shape == (n, 1, 8, 8)
    assert 0 <= batch["heatmaps"].min() and batch["heatmaps"].max() <= 1
    norms = batch["pafs"].view(n, 23, 2, 8, 8).norm(dim=2)
    assert norms.max() <= 1 + 1e-5
    assert 0 <= batch["mask"].min() and batch["mask"].max() <= 1


def test_coco18_neck_only_when_both_shoulders_are_labelled(real_data: Path) -> None:
    ds = dataset(real_data / MINI, skeleton="coco18", input_size=64)
    raws = [ds.load(i) for i in range(4)]
    k17 = [np.array([a["keypoints"] for a in ds.coco.loadAnns(ds.coco.getAnnIds(imgIds=r.image_id))
                     if a["num_keypoints"] > 0 and not a["iscrowd"]], np.float32).reshape(-1, 17, 3)
           for r in raws]
    for raw, coco in zip(raws, k17, strict=True):
        both = (coco[:, 5, 2] > 0) & (coco[:, 6, 2] > 0)
        assert ((raw.keypoints[:, 1, 2] > 0) == both).all()
        np.testing.assert_allclose(raw.keypoints[both, 1, :2], (coco[both, 5, :2] + coco[both, 6, :2]) / 2)


def test_coco_layout_finds_2014_and_2017_folders(tmp_path: Path) -> None:
    for split, images in (("train2017", tmp_path / "train2017"), ("val2014", tmp_path / "images" / "val2014")):
        images.mkdir(parents=True)
        ann = tmp_path / "annotations" / f"person_keypoints_{split}.json"
        ann.parent.mkdir(exist_ok=True)
        ann.write_text("{}")
        assert coco_layout(tmp_path, split) == (images, ann)
    with pytest.raises(FileNotFoundError):
        coco_layout(tmp_path, "val2017")


def test_load_coco_is_quiet(real_data: Path, capsys: pytest.CaptureFixture) -> None:
    load_coco(real_data / "mmpose-coco" / "annotations.json")
    assert capsys.readouterr().out == ""
