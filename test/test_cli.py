"""The offline CLI on real photos and videos and on synthetic images the demo model never saw.

Outputs validate (OpenPose JSON, COCO results that real pycocotools loads against the set's own
annotations, an annotated video holding every frame), bad arguments are one line before any work,
progress shows in a log, and Ctrl-C / SIGTERM keep everything done so far.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ros2_openpose import assets, cli
from ros2_openpose.config import DecodeConfig
from training import synthetic

REPO = Path(__file__).resolve().parents[1]
# Seeds 1 and 2 made the demo model's training and validation sets; these differ.
UNSEEN_SEED = 4242
WALKING = "videos/intel-face-demographics-walking.gif"  # 35 real frames, two people walking


def video_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    n = 0
    while capture.read()[0]:
        n += 1
    capture.release()
    return n


def coco_eval(annotations: Path, results: list[dict]) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(annotations))
        evaluation = COCOeval(gt, gt.loadRes(results), "keypoints")
        evaluation.evaluate(), evaluation.accumulate(), evaluation.summarize()
    return evaluation


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    annotations = synthetic.generate_dataset(root, 6, UNSEEN_SEED, size=256, max_people=3, split="val")
    (root / "val" / "999999.png").write_bytes(b"not a png")  # unreadable: counted, not fatal
    return root / "val", annotations


def test_folder_writes_openpose_json_coco_results_and_images(images, tmp_path, capsys):
    folder, annotations = images
    assert cli.main([str(folder), "--weights", "demo", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == 6 and summary["unreadable"] == 1 and summary["people"] > 0
    assert summary["decode"] == DecodeConfig().as_dict()  # the demo model has no settings of its own
    assert len(list((tmp_path / "annotated").glob("*.jpg"))) == 6
    for frame in (tmp_path / "json").glob("*_keypoints.json"):
        data = json.loads(frame.read_text())
        assert data["version"] == 1.3
        for person in data["people"]:
            assert len(person["pose_keypoints_2d"]) == 17 * 3
    # Without --annotations: each file's position among the sorted images, written beside the results.
    ids = json.loads((tmp_path / "image_ids.json").read_text())
    assert ids == {f"{i:06d}": i for i in range(1, 7)}
    results = json.loads((tmp_path / "coco_results.json").read_text())
    assert results and {r["image_id"] for r in results} <= set(ids.values())
    assert 0.0 <= coco_eval(annotations, results).stats[0] <= 1.0  # loads and scores


@pytest.mark.parametrize("folder", ["mmpose-posetrack18", "mmpose-aic"])
def test_coco_ids_come_from_the_sets_own_annotations(real_data, tmp_path, folder):
    # PoseTrack frames all end in _000000 (the old last-digits rule made them all id 0) and AI
    # Challenger names are hashes: only the annotation file knows their ids.
    data = real_data / folder
    truth = json.loads((data / "annotations.json").read_text())
    by_name = {im["file_name"]: im["id"] for im in truth["images"]}
    assert cli.main([str(data), "--weights", "demo", "--out", str(tmp_path), "--annotations",
                     str(data / "annotations.json"), "--no-images"]) == 0
    ids = json.loads((tmp_path / "image_ids.json").read_text())
    assert ids == {Path(name).stem: i for name, i in by_name.items()}
    results = json.loads((tmp_path / "coco_results.json").read_text())
    assert {r["image_id"] for r in results} <= set(by_name.values())
    if results:  # pycocotools refuses results whose ids are not in the set; these load and score
        assert 0.0 <= coco_eval(data / "annotations.json", results).stats[0] <= 1.0


def test_annotations_that_lack_an_image_are_refused_up_front(real_data, tmp_path, capsys):
    data = real_data / "mmpose-posetrack18"
    partial = json.loads((data / "annotations.json").read_text())
    partial["images"] = partial["images"][:2]
    (tmp_path / "partial.json").write_text(json.dumps(partial))
    assert cli.main([str(data), "--weights", "demo", "--out", str(tmp_path / "o"), "--annotations",
                     str(tmp_path / "partial.json")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "1 of 3 images are not in --annotations" in line and "_mpii_test_000000.jpg" in line


def test_real_video_annotated_clip_holds_every_frame(real_data, tmp_path, capsys):
    video = real_data.parent / "videos" / "mmpose-demo.mp4"  # 5 real frames, a busy street
    out = tmp_path / "out"
    assert cli.main([str(video), "--weights", "demo", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == summary["annotated_frames"] == 5
    assert video_frames(out / "annotated.mp4") == 5
    assert len(list((out / "json").glob("frame_*_keypoints.json"))) == 5
    source_fps = cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS)
    assert cv2.VideoCapture(str(out / "annotated.mp4")).get(cv2.CAP_PROP_FPS) == pytest.approx(source_fps, rel=0.01)


def test_synthetic_clip_with_max_frames(tmp_path):
    clip = synthetic.render_clip(tmp_path / "clip.mp4", 6, seed=UNSEEN_SEED, size=(240, 180))
    out = tmp_path / "out"
    assert cli.main([str(clip), "--weights", "demo", "--out", str(out), "--max-frames", "4"]) == 0
    assert video_frames(out / "annotated.mp4") == 4
    assert len(list((out / "json").glob("frame_*_keypoints.json"))) == 4
    assert json.loads((out / "image_ids.json").read_text()) == {f"frame_{i:06d}": i for i in range(4)}


def test_start_says_which_model_runs_and_warns_when_synthetic(images, tmp_path, capsys):
    from ros2_openpose.models import load_model

    folder, _ = images
    assert cli.main([str(folder), "--weights", "demo", "--out", str(tmp_path), "--max-frames", "1",
                     "--log-every", "0"]) == 0
    err = capsys.readouterr().err
    _, info = load_model(assets.DEMO_WEIGHTS)
    card = info.card
    assert card["synthetic_only"] and card["name"] in err and card["trained_on"] in err
    assert f"warning: {assets.SYNTHETIC_WARNING}" in err


def test_decode_flags_go_over_the_models_own_settings(images, tmp_path):
    import torch

    from ros2_openpose.models import SeedNet, make_checkpoint

    checkpoint = make_checkpoint(SeedNet(width=0.125, paf_stages=1, heatmap_stages=1, freeze_backbone=False))
    checkpoint["card"] = {"name": "tiny", "trained_on": "nothing",
                          "decode": {"heatmap_threshold": 0.05, "min_parts": 4}}
    torch.save(checkpoint, tmp_path / "tiny.pt")
    folder, _ = images
    out = tmp_path / "o"
    assert cli.main([str(folder), "--weights", str(tmp_path / "tiny.pt"), "--out", str(out), "--no-images",
                     "--input-size", "184", "--min-parts", "5"]) == 0
    decode = json.loads((out / "summary.json").read_text())["decode"]
    assert decode == DecodeConfig(heatmap_threshold=0.05, min_parts=5).as_dict()


def test_threads_flag_sets_the_networks_cpu_threads(images, tmp_path, torch_threads):
    folder, _ = images
    assert cli.main([str(folder), "--weights", "demo", "--out", str(tmp_path), "--no-images",
                     "--max-frames", "1", "--threads", "1"]) == 0
    assert torch_threads.get_num_threads() == 1
    assert json.loads((tmp_path / "summary.json").read_text())["threads"] == 1
    torch_threads.set_num_threads(2)
    assert cli.main([str(folder), "--weights", "demo", "--out", str(tmp_path), "--no-images",
                     "--max-frames", "1"]) == 0  # 0, the default: torch's own, left alone
    assert torch_threads.get_num_threads() == 2


def test_progress_lines_when_not_on_a_terminal(images, tmp_path, capsys):
    folder, _ = images
    assert cli.main([str(folder), "--weights", "demo", "--out", str(tmp_path), "--log-every", "0"]) == 0
    err = capsys.readouterr().err
    progress = [line for line in err.splitlines() if " frames, " in line and " fps" in line]
    assert [line.split()[1] for line in progress] == [f"{i}/7" for i in range(1, 7)]


@pytest.mark.parametrize("extra, expected", [
    (["--max-frames", "-1"], "--max-frames must be 0 (all) or more"),
    (["--input-size", "100000"], "--input-size must be a multiple of 8 in [8, 1024], got 100000"),
    (["--input-size", "100"], "--input-size must be a multiple of 8"),
    (["--scales", "0"], "--scales must lie in (0, 4]"),
    (["--threads", "-1"], "--threads must be 0 (torch's default) or more, got -1"),
    (["--paf-threshold", "2"], "paf-threshold=2.0 is outside [0.0, 1.0]"),
    (["--device", "tpu"], "--device 'tpu' is not one of auto, cpu, cuda, cuda:N"),
])
def test_bad_arguments_are_one_line_before_any_work(images, tmp_path, capsys, extra, expected):
    folder, _ = images
    out = tmp_path / "out"
    assert cli.main([str(folder), "--weights", "demo", "--out", str(out), *extra]) == 2
    assert expected in one_error_line(capsys.readouterr().err)
    assert not out.exists()  # refused before anything was written


def test_device_cuda_without_a_gpu(images, tmp_path, capsys, monkeypatch):
    import torch

    if torch.cuda.is_available():  # the GPU is the boundary: on a GPU machine, hide it
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    folder, _ = images
    assert cli.main([str(folder), "--weights", "demo", "--out", str(tmp_path), "--device", "cuda"]) == 2
    assert "--device 'cuda' needs a CUDA GPU" in one_error_line(capsys.readouterr().err)


def test_unusable_out_folders(images, tmp_path, capsys):
    folder, _ = images
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert cli.main([str(folder), "--weights", "demo", "--out", str(a_file)]) == 2
    assert f"--out {a_file} exists and is not a folder" in one_error_line(capsys.readouterr().err)
    assert cli.main([str(folder), "--weights", "demo", "--out", str(a_file / "sub")]) == 2
    assert "is not a writable folder" in one_error_line(capsys.readouterr().err)
    # sysfs refuses new entries even to root: a read-only place on any Linux machine.
    assert cli.main([str(folder), "--weights", "demo", "--out", "/sys/ros2_openpose_out"]) == 2
    assert "/sys/ros2_openpose_out is not a writable folder" in one_error_line(capsys.readouterr().err)


def test_missing_weights_and_sources_are_clear_errors(tmp_path, capsys):
    assert cli.main([str(tmp_path), "--weights", str(tmp_path / "nope.pt")]) == 2
    assert "nope.pt" in one_error_line(capsys.readouterr().err)
    assert cli.main([str(tmp_path / "missing.mp4"), "--weights", "demo", "--out", str(tmp_path)]) == 2
    assert "missing.mp4" in one_error_line(capsys.readouterr().err)
    assert cli.main([str(tmp_path / "missing.mp4"), "--weights", "demo", "--annotations", "a.json"]) == 2
    assert "missing.mp4" in one_error_line(capsys.readouterr().err)


def test_an_onnx_model_without_onnxruntime_names_the_extra(images, tmp_path, capsys, monkeypatch):
    # None in sys.modules marks a module as not importable: the uninstalled package, at the import boundary.
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    model = tmp_path / "model.onnx"
    model.write_bytes(b"never read: the missing runtime is found first")
    folder, _ = images
    assert cli.main([str(folder), "--weights", str(model), "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "onnxruntime" in line and "pip install 'ros2_openpose[onnx]'" in line


def test_without_weights_runs_the_shipped_default_or_names_its_missing_file(images, tmp_path, capsys, monkeypatch):
    # `default` (the real-people model) is the CLI's default weights. Where a build lacks its file (here a
    # path that does not exist stands for it), the user gets one line naming the file.
    missing = tmp_path / "default.pt"
    monkeypatch.setitem(assets.SHIPPED, "default", missing)
    folder, _ = images
    assert cli.main([str(folder), "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "'default'" in line and str(missing) in line


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_finishes_the_frame_and_writes_everything(real_data, tmp_path, signum, code):
    video = real_data.parent / WALKING
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    # The CLI keeps a signal its parent ignored ignored (nohup, a background job of a script): the
    # child here starts with SIGINT's default, so the test means the same run in the background.
    proc = subprocess.Popen([sys.executable, "-m", "ros2_openpose", str(video), "--weights", "demo", "--out",
                             str(out), "--log-every", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err = []
    for line in proc.stderr:  # wait until two frames are done, then interrupt
        err.append(line)
        if line.startswith("ros2-openpose: 2/35 frames"):
            proc.send_signal(signum)
            break
    stdout, rest = proc.communicate(timeout=300)
    err = "".join(err) + rest
    assert proc.returncode == code, err
    assert "Traceback" not in err and f"stopped by {signal.Signals(signum).name}" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] == signal.Signals(signum).name
    done = summary["frames"]
    assert 2 <= done < 35
    assert len(list((out / "json").glob("*_keypoints.json"))) == done == summary["annotated_frames"]
    assert video_frames(out / "annotated.mp4") == done
    assert len(json.loads((out / "image_ids.json").read_text())) == done
    ids = {r["image_id"] for r in json.loads((out / "coco_results.json").read_text())}
    assert ids <= set(range(done))
