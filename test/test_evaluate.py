"""COCO keypoint evaluation: ground truth scores AP 1, the estimator path converts skeletons right."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ros2_openpose.models import build_model, make_checkpoint
from ros2_openpose.people import Person
from ros2_openpose.skeletons import COCO18
from training.data import load_coco
from training.evaluate import METRIC_NAMES, evaluate_estimator, evaluate_results, format_table, main


def ground_truth_results(coco) -> list[dict]:
    return [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
             "score": 0.5 + 0.5 * a["num_keypoints"] / 17}
            for a in coco.dataset["annotations"] if not a.get("iscrowd") and a["num_keypoints"] > 0]


@pytest.mark.parametrize("folder", ["coco-mini-train2017", "mmpose-coco", "mmpose-posetrack18"])
def test_ground_truth_as_results_scores_ap_one(real_data: Path, folder: str) -> None:
    coco = load_coco(real_data / folder / "annotations.json")
    metrics = evaluate_results(coco, ground_truth_results(coco))
    assert set(metrics) == set(METRIC_NAMES)
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AP50"] == pytest.approx(1.0)
    assert metrics["AR"] == pytest.approx(1.0)


def test_no_detections_scores_zero(real_data: Path) -> None:
    coco = load_coco(real_data / "mmpose-coco" / "annotations.json")
    assert evaluate_results(coco, []) == {name: 0.0 for name in METRIC_NAMES}


class GroundTruthEstimator:
    """Answers each image with its annotated people, in coco18 (so the COCO conversion is exercised)."""

    skeleton = COCO18

    def __init__(self, coco, images: Path) -> None:
        import cv2

        self.people: dict[str, list[Person]] = {}
        for info in coco.dataset["images"]:
            bgr = cv2.imread(str(images / info["file_name"]))
            anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=info["id"], iscrowd=False))
                    if a["num_keypoints"] > 0]
            people = []
            for a in anns:
                k18 = COCO18.from_coco17(np.array(a["keypoints"], np.float32).reshape(17, 3))
                found = k18[:, 2] > 0
                kps = np.where(found[:, None], np.c_[k18[:, :2], np.ones(18)], [np.nan, np.nan, 0.0])
                x, y, w, h = a["bbox"]
                people.append(Person(keypoints=kps.astype(np.float32), score=float(found.mean()),
                                     bbox=(x, y, w, h)))
            self.people[hashlib.sha1(bgr.tobytes()).hexdigest()] = people

    def estimate(self, bgr: np.ndarray) -> list[Person]:
        return self.people[hashlib.sha1(bgr.tobytes()).hexdigest()]


def test_estimator_path_on_ground_truth_scores_ap_one(real_data: Path) -> None:
    folder = real_data / "mmpose-coco"
    coco = load_coco(folder / "annotations.json")
    metrics, results = evaluate_estimator(GroundTruthEstimator(coco, folder), folder, coco, progress=False)
    assert len(results) == 12
    assert {len(r["keypoints"]) for r in results} == {51}
    assert len({r["score"] for r in results}) > 1  # the people's own scores, not a constant
    assert metrics["AP"] == pytest.approx(1.0)


def test_evaluate_cli_writes_metrics_and_results(real_data: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    torch.manual_seed(0)
    net = build_model("seed", width=0.125, paf_stages=1, heatmap_stages=1, freeze_backbone=False)
    weights = tmp_path / "tiny.pt"
    torch.save(make_checkpoint(net, config={"data": {"input_size": 64}}), weights)
    folder = real_data / "mmpose-coco"
    metrics = main(["--weights", str(weights), "--images", str(folder), "--annotations",
                    str(folder / "annotations.json"), "--out", str(tmp_path / "eval"), "--max-images", "2",
                    "--device", "cpu", "--set", "min_parts=2"])
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert report["metrics"] == metrics and report["input_size"] == 64
    assert report["decode"]["min_parts"] == 2
    assert isinstance(json.loads((tmp_path / "eval" / "results.json").read_text()), list)
    assert "| AP | AP50 | AP75 | APm | APl | AR |" in capsys.readouterr().out


def test_format_table() -> None:
    table = format_table({name: 0.5 for name in METRIC_NAMES})
    assert table.splitlines()[0] == "| AP | AP50 | AP75 | APm | APl | AR |"
    assert table.splitlines()[2] == "| 0.500 | 0.500 | 0.500 | 0.500 | 0.500 | 0.500 |"


def test_empty_photos_counts_people_and_gates_on_the_mean(tmp_path: Path, capsys) -> None:
    from training import empty_photos

    photos = Path(__file__).resolve().parent / "data" / "no_people"
    # The synthetic demo model reports people on photos of nobody (docs/demo_model.md): a mean above 0.
    assert empty_photos.main(["--weights", "demo", str(photos), "--max-mean", "0"]) == 1
    out = capsys.readouterr().out
    assert "12 photos" in out and "baboon.jpg" in out
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert empty_photos.main(["--weights", "demo", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"empty_photos: cannot read {tmp_path / 'broken.jpg'} as an image"


def test_on_canvas_keeps_the_photo_and_its_coordinates() -> None:
    from training.evaluate import on_canvas

    bgr = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    out = on_canvas(bgr, 2.0)
    assert out.shape == (60, 80, 3) and (out[:30, :40] == bgr).all() and (out[30:] == 114).all()
    assert on_canvas(bgr, 1.0) is bgr
