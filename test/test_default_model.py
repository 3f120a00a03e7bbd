"""The shipped default model finds real people, and does not see people where there are none.

Fixtures (test/data, licenses in test/data/README.md): eight COCO photos under CC BY / CC BY-SA with
their human keypoint annotations, and twelve OpenCV sample photos that show nobody.  Thresholds are
measured, with the margin each leaves, in docs/model.md ("Tests"); the same checks run on the
synthetic demo model must fail, which the last test asserts.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ros2_openpose.assets import resolve_weights
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.people import Person
from ros2_openpose.skeletons import COCO_SIGMAS, get_skeleton
from training.data import load_coco
from training.empty_photos import count_people, photos

DATA = Path(__file__).resolve().parent / "data"
#: People the test expects to be found: at least this many labelled keypoints and this area (px^2).
MIN_KEYPOINTS, MIN_AREA = 10, 64 * 64
#: A found person counts when its OKS with the labelled one is at least this.
MIN_OKS = 0.5
#: Share of the expected people that must be found.
MIN_FOUND = 0.6
#: Mean people reported per photo that shows nobody.
MAX_PEOPLE_PER_EMPTY_PHOTO = 0.5


def oks(found: np.ndarray, labelled: np.ndarray, area: float) -> float:
    """COCO's object keypoint similarity of one found person (17 x 2, NaN = missing) to a labelled one."""
    on = labelled[:, 2] > 0
    d2 = ((found[on] - labelled[on, :2]) ** 2).sum(1)
    d2 = np.where(np.isfinite(d2), d2, np.inf)
    return float(np.exp(-d2 / (2 * area * (2 * COCO_SIGMAS[on]) ** 2)).mean())


def coco17(person: Person, skeleton_name: str) -> np.ndarray:
    kps = np.asarray(person.keypoints, np.float32)[:, :2]
    return kps[list(get_skeleton(skeleton_name).to_coco17)]


def found_people(estimator: PoseEstimator) -> tuple[int, int]:
    """``(expected people, expected people found with OKS >= MIN_OKS)`` over the COCO fixtures."""
    coco = load_coco(DATA / "people" / "annotations.json")
    expected = found = 0
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        people = estimator.estimate(cv2.imread(str(DATA / "people" / info["file_name"])))
        points = [coco17(p, estimator.skeleton.name) for p in people]
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False)):
            labelled = np.asarray(ann["keypoints"], np.float32).reshape(17, 3)
            if (labelled[:, 2] > 0).sum() < MIN_KEYPOINTS or ann["area"] < MIN_AREA:
                continue
            expected += 1
            found += any(oks(p, labelled, ann["area"]) >= MIN_OKS for p in points)
    return expected, found


def people_on_empty_photos(estimator: PoseEstimator) -> float:
    counts = count_people(estimator, photos([str(DATA / "no_people")]))
    assert len(counts) == 12
    return float(np.mean(list(counts.values())))


@pytest.fixture(scope="module")
def default_model() -> PoseEstimator:
    return PoseEstimator(weights=resolve_weights("default"), device="cpu")


def test_default_model_finds_the_labelled_people_in_real_photos(default_model: PoseEstimator) -> None:
    expected, found = found_people(default_model)
    assert expected >= 12  # the fixtures hold enough clearly visible people for the share to mean something
    assert found >= MIN_FOUND * expected, f"found {found} of {expected} labelled people"


def test_default_model_sees_nobody_in_photos_without_people(default_model: PoseEstimator) -> None:
    assert people_on_empty_photos(default_model) <= MAX_PEOPLE_PER_EMPTY_PHOTO


def test_the_synthetic_demo_model_fails_these_checks() -> None:
    # The checks above must tell a real-people model from one that never saw a person.
    demo = PoseEstimator(weights=resolve_weights("demo"), device="cpu")
    expected, found = found_people(demo)
    assert found < MIN_FOUND * expected or people_on_empty_photos(demo) > MAX_PEOPLE_PER_EMPTY_PHOTO
