"""regroup.py: parts swapped between people where the layout's loops disagree with the tree's choice."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ros2_openpose import people as people_module
from ros2_openpose.config import DecodeConfig
from ros2_openpose.decode import decode
from ros2_openpose.estimator import to_image
from ros2_openpose.people import to_coco_results
from ros2_openpose.regroup import _Crossings, _cuts, regroup
from ros2_openpose.skeletons import COCO17, COCO18, Skeleton

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mapsets  # the benchmark matrix's scenes and renderings: one definition of both

LOWER = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def two_people(skeleton: Skeleton) -> np.ndarray:
    """(2, K) parts: every part of person 0 is peak 0, of person 1 peak 1."""
    return np.tile(np.arange(2)[:, None], (1, skeleton.num_keypoints))


def torso_scores(shoulder_to_own_hip: float, shoulder_to_other_hip: float) -> np.ndarray:
    """(L, 2, 2) PAF scores of coco17's limbs: the two shoulder->hip sides score each person's own hips
    and the other person's as given; every other limb joins each person's own peaks only."""
    ids = COCO17.limb_ids(True)
    scores = np.zeros((len(ids), 2, 2), np.float32)
    for n, i in enumerate(ids):
        scores[n] = np.eye(2) * 0.9
        a, b = (COCO17.keypoint_names[p] for p in COCO17.limbs[i])
        if a.endswith("shoulder") and b.endswith("hip"):
            scores[n] = [[shoulder_to_own_hip, shoulder_to_other_hip], [shoulder_to_other_hip, shoulder_to_own_hip]]
    return scores


def swapped_lower_bodies() -> np.ndarray:
    parts = two_people(COCO17)
    lower = [COCO17.keypoint_names.index(name) for name in LOWER]
    parts[:, lower] = parts[::-1][:, lower]
    return parts


@pytest.mark.parametrize("skeleton", [COCO17, COCO18], ids=lambda s: s.name)
def test_crossing_weights_follow_their_definition(skeleton: Skeleton) -> None:
    # C[X, Y] of a cut: the sum over the weighed limbs that cross it of weights[limb, peak of its end
    # outside the cut, taken from X or Y as that end lies, peak of its other end], 0 where X or Y lacks
    # the part.  Written out limb by limb against the one gather regroup runs.
    rng = np.random.default_rng(3)
    limb_ids = skeleton.limb_ids(True)
    ends = skeleton.limb_ends(limb_ids)
    weights = rng.random((len(limb_ids), 6, 5))
    parts = rng.integers(-1, 5, (7, skeleton.num_keypoints))  # -1: the part is missing
    cuts = _cuts(skeleton, tuple(limb_ids))
    rows, cols = np.array([0, 3, 5, 6]), np.array([1, 3, 2, 0])
    got = _Crossings(weights, ends, cuts)(parts, rows, cols)
    expected = np.zeros((len(cuts.starts), len(rows)))
    stops = [*cuts.starts[1:], len(cuts.limbs)]
    for n, (start, stop) in enumerate(zip(cuts.starts, stops, strict=True)):
        for t in range(start, stop):
            limb = cuts.limbs[t]
            a, b = ends[limb]
            assert cuts.inside[n, a] != cuts.inside[n, b]  # only crossing limbs are listed
            for e, (x, y) in enumerate(zip(rows, cols, strict=True)):
                pa = parts[x, a] if not cuts.inside[n, a] else parts[y, a]
                pb = parts[x, b] if not cuts.inside[n, b] else parts[y, b]
                if pa >= 0 and pb >= 0:
                    expected[n, e] += weights[limb, pa, pb]
    assert expected.any()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_both_sides_of_the_torso_take_back_a_swapped_lower_body() -> None:
    # Each person holds the other's hips and legs while both shoulder->hip limbs say their own.
    parts = swapped_lower_bodies()
    after = regroup(parts, torso_scores(0.8, 0.3), np.ones((17, 2)), COCO17.limb_ids(True), COCO17)
    np.testing.assert_array_equal(after, two_people(COCO17))


def test_a_grouping_the_loops_agree_with_is_left_alone() -> None:
    parts = swapped_lower_bodies()
    after = regroup(parts, torso_scores(0.3, 0.8), np.ones((17, 2)), COCO17.limb_ids(True), COCO17)
    np.testing.assert_array_equal(after, parts)


def test_a_lone_lower_body_joins_the_torso_that_lacks_one() -> None:
    parts = two_people(COCO17)
    lower = [COCO17.keypoint_names.index(name) for name in LOWER]
    parts[0, lower] = -1        # person 0: a torso without hips and legs
    parts[1] = -1
    parts[1, lower] = 0         # piece 1: those hips and legs (peak 0), on their own
    after = regroup(parts, torso_scores(0.8, 0.0), np.ones((17, 2)), COCO17.limb_ids(True), COCO17)
    np.testing.assert_array_equal(after[0], np.zeros(17))
    assert (after[1] < 0).all()


def own_scores(skeleton: Skeleton) -> np.ndarray:
    """(L, 2, 2) PAF scores where every limb joins each person's own peaks only."""
    return np.tile(np.eye(2, dtype=np.float32) * 0.9, (len(skeleton.limb_ids(True)), 1, 1))


def test_coco18s_face_loop_takes_back_a_swapped_ear() -> None:
    # coco18's ear->shoulder limbs are extras in CMU's layout but close the face's loop
    # (ear-eye-nose-neck-shoulder): with the eye->ear limb they cross the cut around the ear.
    ear = COCO18.keypoint_names.index("right_ear")
    parts = two_people(COCO18)
    parts[:, ear] = [1, 0]
    after = regroup(parts, own_scores(COCO18), np.ones((18, 2)), COCO18.limb_ids(True), COCO18)
    np.testing.assert_array_equal(after, two_people(COCO18))


def test_a_limb_that_skips_a_joint_never_overrules_the_tree() -> None:
    # The wrists were joined across (elbow->wrist scores the swap a little higher); coco17's extra
    # shoulder->wrist limb says strongly otherwise, but it skips the elbow and is not weighed.
    wrist = COCO17.keypoint_names.index("left_wrist")
    parts = two_people(COCO17)
    parts[:, wrist] = [1, 0]
    scores = own_scores(COCO17)
    for n, i in enumerate(COCO17.limb_ids(True)):
        a, b = (COCO17.keypoint_names[p] for p in COCO17.limbs[i])
        if b == "left_wrist":
            scores[n] = [[0.5, 0.6], [0.6, 0.5]] if a == "left_elbow" else [[1.0, 0.0], [0.0, 1.0]]
    after = regroup(parts, scores, np.ones((17, 2)), COCO17.limb_ids(True), COCO17)
    np.testing.assert_array_equal(after, parts)


def test_a_proximity_match_weighs_its_closeness() -> None:
    # coco17's ankle->knee matched by its PAF (0.8), knee->hip by proximity (score 0, 5 px apart).
    xy = np.zeros((17, 1, 2), np.float32)
    xy[13] = xy[11] = [[3.0, 4.0]]  # left knee and hip; the ankle (15) at (0, 0)
    xy[11] += [[3.0, 0.0]]
    scores = np.zeros((2, 1, 1), np.float32)
    scores[0, 0, 0] = 0.8
    matches = [[(0, 0, 0.8)], [(0, 0, 0.0)]]
    weighed = people_module._with_proximity(scores, matches, xy, [0, 1], COCO17, 8.0)
    np.testing.assert_allclose(weighed[:, 0, 0], [0.8, 1 - 3 / 8])  # only the proximity pair moves
    assert people_module._with_proximity(scores, matches, xy, [0, 1], COCO17, 0.0) is scores


def decoded_ap(scenes: mapsets.SceneSet, skeleton: Skeleton, geometry: str) -> float:
    """COCO AP of the decode on the paper's maps of ``scenes`` at ``geometry``."""
    paper = mapsets.RENDERINGS[0]
    results = []
    for scene in scenes.scenes:
        box = mapsets.letterbox(scene, geometry)
        heat, pafs = mapsets.scene_maps(scene, paper, skeleton, box)
        found = decode(box.crop(heat), box.crop(pafs), skeleton, DecodeConfig())  # as the estimator crops
        results += to_coco_results([to_image(p, box) for p in found], skeleton, scene.image_id)
    return mapsets.coco_ap(scenes.coco, results)


def test_crowds_of_real_people_group_better(monkeypatch: pytest.MonkeyPatch, real_data: Path) -> None:
    # Held-out people (never tuned on) pasted into crowds of 20 and 40, the paper's maps at 368: where
    # people overlap, the assembly's limb-by-limb choices mix up bodies that the loops put back.
    crowds = mapsets.pasted_crowds(mapsets.load_split(real_data, "held-out"), sizes=(20, 40))
    with_regroup = decoded_ap(crowds, COCO17, "368")
    monkeypatch.setattr(people_module, "regroup", lambda parts, *args, **kwargs: np.array(parts))
    without = decoded_ap(crowds, COCO17, "368")
    print(f"\ncrowds of 20 and 40 at 368, coco17: AP {without:.3f} -> {with_regroup:.3f}")
    assert with_regroup > without + 0.005


def test_small_faces_keep_what_proximity_joined(monkeypatch: pytest.MonkeyPatch, real_data: Path) -> None:
    # The tune split's photos at 184 on coco18, whose face loop (ear-eye-nose-neck-shoulder) is made of
    # limbs a cell or two long there: weighed on their PAF alone, the pairs the matching joined by
    # proximity count nothing and longer crossing limbs swap faces between people.
    photos = mapsets.load_split(real_data, "tune")
    weighed = decoded_ap(photos, COCO18, "184")
    monkeypatch.setattr(people_module, "_with_proximity", lambda scores, *args: scores)
    unweighed = decoded_ap(photos, COCO18, "184")
    print(f"\ntune photos at 184, coco18: AP {unweighed:.3f} -> {weighed:.3f}")
    assert weighed > unweighed + 0.005
