"""The synthetic people generator: reproducible, valid COCO, honest visibility, left is left."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ros2_openpose.skeletons import COCO17, COCO17_NAMES
from training import synthetic

KP = {name: i for i, name in enumerate(COCO17_NAMES)}
SIZE = 160
REPO = Path(__file__).resolve().parents[1]

# Recorded from the single-file generator (training/synthetic.py at commit ce6c50b) before it became a
# package: a seed must keep naming the same images and labels, so sets made before and after are
# one and the same.  Pixels are hashed decoded (not the PNG bytes, which depend on zlib).  A NumPy or
# OpenCV release that changes a random stream or the rasteriser would change them: re-record then,
# and say so, as every set generated earlier differs from a new one.
RECORDED = {"dataset": "1a849014b4d7466f34b7725ab0675343", "size_range": "0a206472ce633cd89f77c573dd647254",
            "clip": "7f79ec206efed5479ca7a773130371bd"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """30 crowded images (up to 6 people), generated once for the tests that only read them."""
    root = tmp_path_factory.mktemp("synthetic")
    path = synthetic.generate_dataset(root, 30, seed=11, size=SIZE, max_people=6)
    return path, json.loads(path.read_text())


def _keypoints(ann: dict) -> np.ndarray:
    return np.array(ann["keypoints"], float).reshape(17, 3)


def _scene(figures, occluders=(), size=(SIZE, SIZE)):
    return synthetic.render_scene(size, figures, list(occluders), np.full((size[1], size[0], 3), 200, np.uint8))


def _standing(yaw: float = 0.0, x: float = 80.0, body: synthetic.Body | None = None) -> synthetic.Figure:
    pose = synthetic.Pose(yaw=yaw, l_shoulder_abd=25, r_shoulder_abd=25, l_elbow=0, r_elbow=0)
    return synthetic.Figure(pose, body or synthetic.Body(), x, 150.0, 130.0)


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    paths = [synthetic.generate_dataset(tmp_path / name, 5, seed, size=SIZE, max_people=4)
             for name, seed in (("a", 5), ("b", 5), ("c", 6))]
    assert paths[0].read_bytes() == paths[1].read_bytes()
    names = sorted(p.name for p in (tmp_path / "a" / "train").iterdir())
    assert len(names) == 5
    for name in names:
        assert (tmp_path / "a" / "train" / name).read_bytes() == (tmp_path / "b" / "train" / name).read_bytes()
    assert paths[2].read_bytes() != paths[0].read_bytes()


def _digest(paths) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(cv2.imread(str(p), cv2.IMREAD_UNCHANGED).tobytes() if p.suffix == ".png" else p.read_bytes())
    return h.hexdigest()[:32]


def test_fixed_seeds_give_the_recorded_images_and_annotations(tmp_path):
    a = synthetic.generate_dataset(tmp_path / "a", 4, seed=7, size=SIZE, max_people=5)
    b = synthetic.generate_dataset(tmp_path / "b", 4, seed=3, size_range=(120, 200), max_people=4, split="val",
                                   occluder_prob=0.9)
    clip = synthetic.render_clip(tmp_path / "c.avi", 8, seed=3, size=(160, 120), people=3)  # walkers and a poser
    assert _digest([a, *(tmp_path / "a" / "train").glob("*.png")]) == RECORDED["dataset"]
    assert _digest([b, *(tmp_path / "b" / "val").glob("*.png")]) == RECORDED["size_range"]
    assert _digest([synthetic.clip_annotations_path(clip)]) == RECORDED["clip"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' mask decoding on numpy 2
def test_json_is_coco_person_keypoints_and_scores_ap_one(dataset):
    path, data = dataset
    category = data["categories"][0]
    assert category["keypoints"] == list(COCO17_NAMES) and category["id"] == 1
    assert category["skeleton"] == [[a + 1, b + 1] for (a, b), e in zip(COCO17.limbs, COCO17.extra, strict=True)
                                    if not e]
    assert {"id", "file_name", "width", "height"} <= set(data["images"][0])
    for ann in data["annotations"]:
        assert ann["category_id"] == 1 and ann["iscrowd"] == 0 and len(ann["keypoints"]) == 51
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
        results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
                   for a in data["annotations"]]
        evaluation = COCOeval(gt, gt.loadRes(results), "keypoints")
        evaluation.evaluate(), evaluation.accumulate(), evaluation.summarize()
    assert evaluation.stats[0] == 1.0
    mask = gt.annToMask(gt.loadAnns(gt.getAnnIds())[0])  # polygons decode to the silhouette
    assert mask.sum() > 0.5 * data["annotations"][0]["area"]


def test_images_and_boxes_match_the_json(dataset):
    path, data = dataset
    image = data["images"][0]
    assert cv2.imread(str(path.parent / "train" / image["file_name"])).shape == (image["height"], image["width"], 3)
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        assert 0 <= x and 0 <= y and x + w <= SIZE and y + h <= SIZE
        assert 0 < ann["area"] <= w * h


def test_labelled_keypoints_lie_inside_the_image(dataset):
    _, data = dataset
    for ann in data["annotations"]:
        k = _keypoints(ann)
        inside = k[k[:, 2] > 0]
        assert ((inside[:, :2] >= 0) & (inside[:, :2] <= SIZE - 1)).all()
        assert np.all(k[k[:, 2] == 0, :2] == 0)
        assert ann["num_keypoints"] == int((k[:, 2] > 0).sum()) > 0
        assert set(np.unique(k[:, 2])) <= {0, 1, 2}


def test_every_visibility_flag_occurs(dataset):
    _, data = dataset
    flags = np.concatenate([_keypoints(a)[:, 2] for a in data["annotations"]])
    assert {0, 1, 2} <= set(flags.astype(int).tolist())


def test_crowds_overlap_and_people_count_stays_in_range(dataset):
    _, data = dataset
    by_image: dict[int, list] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann["bbox"])

    def overlap(a, b):
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    assert any(overlap(a, b) for boxes in by_image.values() for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert max(len(b) for b in by_image.values()) <= 6 and max(len(b) for b in by_image.values()) >= 3


def test_single_people_are_big_and_crowds_smaller():
    rng = np.random.default_rng(0)
    singles = [f.height for _ in range(50) for f in synthetic.random_scene(rng, (200, 200), 1)[0]]
    crowd = [f.height for _ in range(50) for f in synthetic.random_scene(rng, (200, 200), 6)[0]]
    assert 0.4 * 200 <= min(singles) and max(singles) <= 0.95 * 200
    assert np.mean(crowd) < np.mean(singles)


def test_an_occluder_over_the_legs_marks_them_occluded_and_the_rest_visible():
    occluder = synthetic.Occluder((0, 105, SIZE, SIZE))  # drawn after everyone: rows 105.. hidden
    scene = _scene([_standing()], [occluder])
    flags = synthetic.visibility(scene, 0)
    rows = scene.rigs[0].keypoints[:, 1]
    assert (flags[rows > 106] == 1).all() and (rows > 106).sum() >= 4  # knees and ankles at least
    assert (flags[rows < 103] == 2).all()


def test_a_fully_covered_person_is_labelled_occluded_and_not_annotated():
    hidden = _scene([_standing()], [synthetic.Occluder((0, 0, SIZE, SIZE))])
    assert (synthetic.visibility(hidden, 0)[[KP["left_shoulder"], KP["right_knee"], KP["nose"]]] == 1).all()
    assert synthetic.annotate(hidden, 0, 1, 1) is None
    # The same with a person in front: the later-drawn figure covers the earlier one.
    behind, front = _standing(x=80), _standing(x=80, body=synthetic.Body(girth=1.3, breadth=1.2))
    scene = _scene([behind, front])
    assert (synthetic.visibility(scene, 0)[KP["left_hip"]] == 1)
    assert (synthetic.visibility(scene, 1)[[KP["left_hip"], KP["nose"]]] == 2).all()


def test_a_figure_facing_the_camera_has_its_left_on_the_image_right():
    front = _scene([_standing(yaw=0)])
    kp = front.rigs[0].keypoints
    for name in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear"):
        assert kp[KP[f"left_{name}"], 0] > kp[KP[f"right_{name}"], 0], name
    back = _scene([_standing(yaw=180)])
    kp = back.rigs[0].keypoints
    assert kp[KP["left_shoulder"], 0] < kp[KP["right_shoulder"], 0]
    assert kp[KP["left_ear"], 0] < kp[KP["right_ear"], 0]
    flags = synthetic.visibility(back, 0)
    # From behind: no face to label (COCO leaves it unlabelled), ears and body still labelled.
    assert (flags[[KP["nose"], KP["left_eye"], KP["right_eye"]]] == 0).all()
    assert (flags[[KP["left_ear"], KP["right_ear"], KP["left_shoulder"]]] == 2).all()


def test_left_limbs_are_drawn_lighter_than_right_ones():
    body = synthetic.Body(shirt=(120.0, 120.0, 120.0), pants=(120.0, 120.0, 120.0), long_sleeves=True)
    scene = _scene([_standing(body=body)])
    kp = scene.rigs[0].keypoints
    gray = scene.image.mean(axis=2)

    def at(name):
        x, y = np.round(kp[KP[name], :2]).astype(int)
        return gray[y, x]

    assert at("left_elbow") > at("right_elbow") + 40 and at("left_knee") > at("right_knee") + 40


def test_a_profile_hides_the_far_side():
    # Facing image right, arms held forward (a hanging near arm would hide the near hip too).
    pose = synthetic.Pose(yaw=90, l_shoulder_flex=90, r_shoulder_flex=90)
    scene = _scene([synthetic.Figure(pose, synthetic.Body(), 70.0, 150.0, 130.0)])
    flags = synthetic.visibility(scene, 0)
    assert flags[KP["right_shoulder"]] == 2 and flags[KP["right_hip"]] == 2
    assert flags[KP["left_shoulder"]] == 1 and flags[KP["left_ear"]] == 1
    kp = scene.rigs[0].keypoints
    assert kp[KP["nose"], 0] > kp[KP["right_ear"], 0]  # the face points where the body faces


def test_random_poses_respect_joint_limits_and_bone_lengths():
    rng = np.random.default_rng(1)
    for kind in synthetic.POSE_KINDS:
        for _ in range(20):
            pose = synthetic.random_pose(rng, kind)
            assert synthetic.clamp_pose(pose) == pose, kind
            fig = synthetic.Figure(pose, synthetic.Body(), 100.0, 190.0, 150.0)
            kp = synthetic.pose_figure(fig).keypoints
            for a, b, length in (("shoulder", "elbow", synthetic.UPPER_ARM), ("knee", "ankle", synthetic.SHIN)):
                bone = np.linalg.norm(kp[KP[f"left_{a}"]] - kp[KP[f"left_{b}"]])  # 3D: x, y, depth
                assert bone == pytest.approx(length * 150.0, rel=1e-6)
                flat = np.linalg.norm(kp[KP[f"left_{a}"], :2] - kp[KP[f"left_{b}"], :2])
                assert flat <= bone + 1e-6  # turning only foreshortens


def test_interpolation_blends_every_angle():
    a, b = synthetic.Pose(), synthetic.Pose(yaw=90, l_elbow=110, r_knee=60)
    mid = synthetic.interpolate(a, b, 0.5)
    for f in fields(mid):
        assert getattr(mid, f.name) == pytest.approx((getattr(a, f.name) + getattr(b, f.name)) / 2)
    assert synthetic.interpolate(a, b, 1.0) == replace(b)


def test_size_range_varies_image_sizes(tmp_path):
    path = synthetic.generate_dataset(tmp_path, 6, seed=3, size_range=(120, 200), max_people=2, split="val")
    sizes = {(i["width"], i["height"]) for i in json.loads(path.read_text())["images"]}
    assert len(sizes) > 1 and all(120 <= s <= 200 for wh in sizes for s in wh)
    assert path.name == "person_keypoints_val.json" and (tmp_path / "val" / "000006.png").exists()


def test_clip_has_the_requested_frames_and_smooth_tracks(tmp_path):
    path = synthetic.render_clip(tmp_path / "clip.mp4", 12, seed=3, size=(160, 120), people=2)
    capture = cv2.VideoCapture(str(path))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 12
    data = json.loads(synthetic.clip_annotations_path(path).read_text())
    assert [i["id"] for i in data["images"]] == list(range(12))
    assert {a["image_id"] for a in data["annotations"]} == set(range(12))
    tracks: dict[int, dict[int, np.ndarray]] = {}
    for ann in data["annotations"]:
        tracks.setdefault(ann["track_id"], {})[ann["image_id"]] = _keypoints(ann)
    steps = [np.abs(kps[f][:, :2] - kps[f - 1][:, :2])[(kps[f][:, 2] > 0) & (kps[f - 1][:, 2] > 0)].max()
             for kps in tracks.values() for f in kps if f - 1 in kps]
    assert steps and np.median(steps) < 15  # a few pixels a frame: walking, not teleporting


def test_cli_writes_a_dataset_and_an_avi_clip(tmp_path, capsys):
    assert synthetic.main(["--out", str(tmp_path / "d"), "--num", "2", "--seed", "1", "--size", "96",
                           "--max-people", "2", "--split", "val"]) == 0
    assert json.loads((tmp_path / "d" / "person_keypoints_val.json").read_text())["images"][1]["width"] == 96
    assert synthetic.main(["--video", str(tmp_path / "c.avi"), "--num", "3", "--seed", "1", "--size", "96"]) == 0
    capture = cv2.VideoCapture(str(tmp_path / "c.avi"))
    ok, frame = capture.read()
    assert ok and frame.shape == (96, 128, 3)


def test_python_dash_m_runs_the_same_cli(tmp_path):
    # `python -m training.synthetic` is how scripts and the docs call it: the package's __main__.
    run = subprocess.run([sys.executable, "-m", "training.synthetic", "--out", str(tmp_path / "m"), "--num", "2",
                          "--seed", "4", "--size", "96"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(tmp_path / "m" / "person_keypoints_train.json")
    synthetic.main(["--out", str(tmp_path / "i"), "--num", "2", "--seed", "4", "--size", "96"])
    for name in ("person_keypoints_train.json", "train/000001.png", "train/000002.png"):
        assert (tmp_path / "m" / name).read_bytes() == (tmp_path / "i" / name).read_bytes(), name
    bad = subprocess.run([sys.executable, "-m", "training.synthetic", "--num", "1"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "give --out or --video" in bad.stderr

