"""The offline CLI on synthetic images and a clip the demo model never saw: outputs validate."""
from __future__ import annotations

import contextlib
import io
import json

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ros2_openpose import cli
from training import synthetic

# Seeds 1 and 2 made the demo model's training and validation sets; these differ.
UNSEEN_SEED = 4242


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    annotations = synthetic.generate_dataset(root, 6, UNSEEN_SEED, size=256, max_people=3, split="val")
    (root / "val" / "999999.png").write_bytes(b"not a png")  # unreadable: counted, not fatal
    return root / "val", annotations


def test_folder_writes_openpose_json_coco_results_and_images(images, tmp_path):
    folder, annotations = images
    assert cli.main([str(folder), "--weights", "demo", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == 6 and summary["unreadable"] == 1 and summary["people"] > 0
    assert len(list((tmp_path / "annotated").glob("*.jpg"))) == 6
    for frame in (tmp_path / "json").glob("*_keypoints.json"):
        data = json.loads(frame.read_text())
        assert data["version"] == 1.3
        for person in data["people"]:
            assert len(person["pose_keypoints_2d"]) == 17 * 3
    results = json.loads((tmp_path / "coco_results.json").read_text())
    assert results and {r["image_id"] for r in results} <= set(range(1, 7))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(annotations))
        evaluation = COCOeval(gt, gt.loadRes(results), "keypoints")
        evaluation.evaluate(), evaluation.accumulate(), evaluation.summarize()
    assert 0.0 <= evaluation.stats[0] <= 1.0  # loads and scores; the model's AP is measured elsewhere


def test_video_writes_annotated_clip_and_a_json_per_frame(tmp_path):
    clip = synthetic.render_clip(tmp_path / "clip.mp4", 5, seed=UNSEEN_SEED, size=(240, 180))
    out = tmp_path / "out"
    assert cli.main([str(clip), "--weights", "demo", "--out", str(out), "--input-size", "184"]) == 0
    assert (out / "annotated.mp4").stat().st_size > 0
    assert len(list((out / "json").glob("frame_*_keypoints.json"))) == 5


def test_missing_weights_and_sources_are_clear_errors(tmp_path, capsys):
    assert cli.main([str(tmp_path), "--weights", str(tmp_path / "nope.pt")]) == 2
    assert "nope.pt" in capsys.readouterr().err
    assert cli.main([str(tmp_path / "missing.mp4"), "--weights", "demo", "--out", str(tmp_path)]) == 2
    assert "missing.mp4" in capsys.readouterr().err
