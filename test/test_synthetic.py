"""The synthetic people generator: reproducible, valid COCO, honest visibility flags."""
from __future__ import annotations

import contextlib
import io
import json

import cv2
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from training import synthetic


def _generate(tmp_path, name: str, seed: int = 5, num: int = 6):
    path = synthetic.generate_dataset(tmp_path / name, num, seed, size=160, max_people=4)
    return path, json.loads(path.read_text())


def test_same_seed_gives_identical_files(tmp_path):
    first, _ = _generate(tmp_path, "a")
    second, _ = _generate(tmp_path, "b")
    assert first.read_bytes() == second.read_bytes()
    for image in sorted((tmp_path / "a" / "train").iterdir()):
        assert image.read_bytes() == (tmp_path / "b" / "train" / image.name).read_bytes()
    third, _ = _generate(tmp_path, "c", seed=6)
    assert third.read_bytes() != first.read_bytes()


def test_annotations_are_valid_coco_and_score_ap_one(tmp_path):
    path, data = _generate(tmp_path, "a", num=10)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
        results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
                   for a in data["annotations"]]
        evaluation = COCOeval(gt, gt.loadRes(results), "keypoints")
        evaluation.evaluate(), evaluation.accumulate(), evaluation.summarize()
    assert evaluation.stats[0] == 1.0
    assert data["categories"][0]["keypoints"][5] == "left_shoulder"


def test_labelled_keypoints_lie_inside_the_image(tmp_path):
    _, data = _generate(tmp_path, "a", num=10)
    for ann in data["annotations"]:
        k = np.array(ann["keypoints"]).reshape(17, 3)
        inside = k[k[:, 2] > 0]
        assert ((inside[:, 0] >= 0) & (inside[:, 0] < 160) & (inside[:, 1] >= 0) & (inside[:, 1] < 160)).all()
        assert np.all(k[k[:, 2] == 0, :2] == 0)
        assert ann["num_keypoints"] == int((k[:, 2] > 0).sum())


def test_an_occluder_over_a_person_marks_covered_parts_occluded():
    rng = np.random.default_rng(0)
    figure = (synthetic.Pose(), (80.0, 110.0), 120.0)
    image, owner, kps = synthetic.render_scene(rng, (160, 160), [figure])
    owner[:, :] = -1  # an occluder over everything: nothing of the figure is on top any more
    ann = synthetic.annotate(kps[0], np.where(np.arange(160)[None, :] < 80, owner, 0), 0, 1, 1)
    k = np.array(ann["keypoints"]).reshape(17, 3)
    left_half = k[:, 0] < 79
    assert (k[left_half & (k[:, 2] > 0), 2] == 1).all()      # covered -> labelled but occluded
    assert (k[~left_half & (k[:, 0] > 81), 2] == 2).all()     # the uncovered half stays visible


def test_a_figure_facing_the_camera_has_its_left_on_the_image_right():
    kp = synthetic.keypoints_of(synthetic.Pose(facing=1), (80.0, 100.0), 100.0)
    assert kp[5, 0] > kp[6, 0] and kp[11, 0] > kp[12, 0] and kp[1, 0] > kp[2, 0]
    back = synthetic.keypoints_of(synthetic.Pose(facing=-1), (80.0, 100.0), 100.0)
    assert back[5, 0] < back[6, 0]


def test_crowds_overlap_sometimes(tmp_path):
    _, data = _generate(tmp_path, "a", num=30)
    by_image: dict[int, list] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann["bbox"])

    def overlap(a, b):
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    assert any(overlap(a, b) for boxes in by_image.values() for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_clip_has_the_requested_frames_and_annotations(tmp_path):
    path = synthetic.render_clip(tmp_path / "clip.mp4", 12, seed=3, size=(160, 120), people=2)
    capture = cv2.VideoCapture(str(path))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 12
    data = json.loads(path.with_suffix(".json").read_text())
    assert len(data["images"]) == 12
    assert {a["image_id"] for a in data["annotations"]} == set(range(12))
