"""targets.py against the definitions, cell by cell, on real COCO people (kept small: a few grids)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ros2_openpose.skeletons import COCO17, COCO18
from ros2_openpose.targets import cell_centres, render_heatmaps, render_pafs

MINI = "coco-mini-train2017"


@pytest.fixture(scope="module")
def crowd(real_data: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """The real COCO image with the most labelled people: (N, 17, 3) keypoints and its (h, w) grid."""
    data = json.loads((real_data / MINI / "annotations.json").read_text())
    people: dict[int, list] = {}
    for a in data["annotations"]:
        if not a["iscrowd"] and a["num_keypoints"] > 0:
            people.setdefault(a["image_id"], []).append(a["keypoints"])
    image_id = max(people, key=lambda i: len(people[i]))
    info = next(im for im in data["images"] if im["id"] == image_id)
    kps = np.array(people[image_id], np.float32).reshape(-1, 17, 3)
    return kps, (math.ceil(info["height"] / 8), math.ceil(info["width"] / 8))


def brute_heatmap(kps: np.ndarray, k: int, hw: tuple[int, int], sigma: float = 7.0) -> np.ndarray:
    out = np.zeros(hw)
    for i in range(hw[0]):
        for j in range(hw[1]):
            for x, y, v in kps[:, k]:
                e = ((8 * j + 3.5 - x) ** 2 + (8 * i + 3.5 - y) ** 2) / (2 * sigma ** 2)
                if v > 0 and e <= math.log(100):
                    out[i, j] = max(out[i, j], math.exp(-e))
    return out


def test_heatmaps_match_the_definition(crowd) -> None:
    kps, hw = crowd
    kps = kps.copy()
    kps[0, 5, 2] = 0  # an unlabelled keypoint draws nothing
    heat = render_heatmaps(kps, hw)
    assert heat.shape == (18, *hw) and heat.dtype == np.float32
    for k in (0, 5, 9):
        np.testing.assert_allclose(heat[k], brute_heatmap(kps, k, hw), atol=1e-6)
    np.testing.assert_allclose(heat[17], np.maximum(0, 1 - heat[:17].max(0)), atol=1e-7)
    assert heat[:17].max() <= 1 and not ((heat[:17] > 0) & (heat[:17] < 0.01 - 1e-7)).any()  # the cut


def test_heatmap_peak_sits_on_the_cell_centre() -> None:
    kps = np.zeros((1, 17, 3), np.float32)
    kps[0, 3] = (8 * 4 + 3.5, 8 * 2 + 3.5, 1)
    heat = render_heatmaps(kps, (6, 8), sigma=7.0)
    assert heat[3, 2, 4] == 1.0 and heat[17, 2, 4] == 0.0
    assert heat[3, 2, 5] == pytest.approx(math.exp(-64 / 98))


def test_no_people_give_background_only() -> None:
    heat = render_heatmaps(np.zeros((0, 18, 3)), (5, 7))
    assert heat.shape == (19, 5, 7) and not heat[:18].any() and (heat[18] == 1).all()
    pafs = render_pafs(np.zeros((0, 18, 3)), COCO18, (5, 7))
    assert pafs.shape == (38, 5, 7) and not pafs.any()


def brute_paf(kps: np.ndarray, a: int, b: int, hw: tuple[int, int], width: float = 1.0) -> np.ndarray:
    """Mean unit vector over the people whose segment a->b passes within ``width`` cells (the rectangle)."""
    total, count = np.zeros((*hw, 2)), np.zeros(hw)
    for p in kps:
        if p[a, 2] <= 0 or p[b, 2] <= 0:
            continue
        pa, pb = (p[a, :2] - 3.5) / 8, (p[b, :2] - 3.5) / 8
        length = np.linalg.norm(pb - pa)
        u = (pb - pa) / length
        for i in range(hw[0]):
            for j in range(hw[1]):
                r = np.array([j, i]) - pa
                along, across = r @ u, abs(r[0] * u[1] - r[1] * u[0])
                if -width <= along <= length + width and across <= width:
                    total[i, j] += u
                    count[i, j] += 1
    out = np.zeros((*hw, 2))
    out[count > 0] = total[count > 0] / count[count > 0, None]
    return out


@pytest.mark.parametrize("skeleton", [COCO17, COCO18], ids=lambda s: s.name)
def test_pafs_match_the_definition(crowd, skeleton) -> None:
    kps, hw = crowd
    kps = skeleton.from_coco17(kps)
    pafs = render_pafs(kps, skeleton, hw)
    assert pafs.shape == (skeleton.num_pafs, *hw) and pafs.dtype == np.float32
    checked = 0
    for k in range(0, skeleton.num_limbs, 4):  # every 4th limb keeps the brute force quick
        a, b = skeleton.limbs[k]
        cx, cy = skeleton.paf_channels[k]
        expected = brute_paf(kps, a, b, hw)
        np.testing.assert_allclose(np.stack([pafs[cx], pafs[cy]], -1), expected, atol=1e-5)
        checked += int((expected != 0).any())
    assert checked >= 3


def test_pafs_average_crossings_and_skip_degenerate_limbs() -> None:
    kps = np.zeros((3, 17, 3), np.float32)
    c = 8 * 6 + 3.5  # centre of cell (6, 6)
    kps[0, 7], kps[0, 9] = (c - 32, c, 2), (c + 32, c, 2)   # left forearm pointing +x
    kps[1, 7], kps[1, 9] = (c, c - 32, 2), (c, c + 32, 2)   # another pointing +y, crossing it
    kps[2, 5], kps[2, 7] = (20, 20, 2), (20, 20, 2)         # zero length: no direction, not drawn
    pafs = render_pafs(kps, COCO17, (13, 13))
    cx, cy = COCO17.paf_channels[COCO17.limbs.index((7, 9))]
    assert (pafs[cx, 6, 6], pafs[cy, 6, 6]) == pytest.approx((0.5, 0.5))
    assert (pafs[cx, 6, 9], pafs[cy, 6, 9]) == pytest.approx((1.0, 0.0))
    assert (pafs[cx, 7, 10], pafs[cy, 7, 10]) == pytest.approx((1.0, 0.0))   # 1 cell across, 1 beyond the end
    assert (pafs[cx, 8, 9], pafs[cy, 8, 9]) == (0.0, 0.0)                      # 2 cells across
    limb = COCO17.limbs.index((7, 9))
    others = [ch for k, pair in enumerate(COCO17.paf_channels) if k != limb for ch in pair]
    assert not pafs[others].any()


def test_cell_centres() -> None:
    assert cell_centres(3, 8).tolist() == [3.5, 11.5, 19.5]
    assert cell_centres(2, 4).tolist() == [1.5, 5.5]
