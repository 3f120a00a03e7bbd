"""One weights resolver for every entry point: shipped names, run folders, paths, one-line errors.

The node, the CLI and onnx_export are covered in their own tests; here the resolver itself and the
two training entry points (``training.evaluate --weights`` and ``training.train`` ``--resume`` /
``model.init_weights``) on real images.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ros2_openpose import assets
from ros2_openpose.assets import DEMO_WEIGHTS, resolve_weights

REPO = Path(__file__).resolve().parents[1]


def test_names_folders_and_paths(tmp_path: Path) -> None:
    assert resolve_weights(None) is None and resolve_weights(" ") is None
    assert resolve_weights("demo") == DEMO_WEIGHTS
    assert resolve_weights(str(DEMO_WEIGHTS)) == DEMO_WEIGHTS
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.pt").write_bytes(b"x")
    (run / "last.pt").write_bytes(b"y")
    assert resolve_weights(run) == run / "best.pt"
    assert resolve_weights(str(run), run_file="last.pt") == run / "last.pt"


def test_every_failure_is_one_line_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no last\.pt") as err:
        resolve_weights(tmp_path, run_file="last.pt")
    assert str(tmp_path) in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"nope\.pt") as err:
        resolve_weights(tmp_path / "nope.pt")
    assert "\n" not in str(err.value)
    # A bare word that is neither a shipped name nor a file: the error lists the names.
    with pytest.raises(FileNotFoundError, match="shipped names: default, demo"):
        resolve_weights("dmeo")


def test_a_shipped_name_whose_file_is_missing_names_the_file(tmp_path: Path, monkeypatch) -> None:
    # The real-people default model is not shipped yet in every build: the day it is missing (here a
    # path that does not exist stands for it), users get one line naming the file, not a traceback.
    missing = tmp_path / "default.pt"
    monkeypatch.setitem(assets.SHIPPED, "default", missing)
    with pytest.raises(FileNotFoundError) as err:
        resolve_weights("default")
    message = str(err.value)
    assert str(missing) in message and "'default'" in message and "demo" in message and "\n" not in message


def test_evaluate_takes_a_shipped_name(real_data: Path, tmp_path: Path, capsys, torch_threads) -> None:
    from training import evaluate

    folder = real_data / "mmpose-coco"
    args = ["--images", str(folder), "--annotations", str(folder / "annotations.json"), "--out", str(tmp_path),
            "--device", "cpu"]
    metrics = evaluate.main(["--weights", "demo", "--threads", "1", *args])
    assert torch_threads.get_num_threads() == 1
    assert 0.0 <= metrics["AP"] <= 1.0  # real COCOeval ran; the demo model's AP is not the point
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["weights"] == str(DEMO_WEIGHTS) and report["threads"] == 1
    with pytest.raises(SystemExit) as err:
        evaluate.main(["--weights", str(tmp_path / "gone.pt"), *args])
    assert str(err.value).startswith("training.evaluate: error: weights file not found") and "gone.pt" in str(err.value)


def test_train_inits_from_a_shipped_name_and_resumes_from_a_run_folder(real_data: Path, tmp_path: Path) -> None:
    import torch

    from training import train

    data = real_data / "mmpose-coco"
    common = ["--config", str(REPO / "training/configs/small_cpu.yaml"), "--train-images", str(data),
              "--train-annotations", str(data / "annotations.json"), "--out", str(tmp_path / "run"),
              "--set", "model.init_weights=demo", "--set", "model.kwargs.width=0.125", "--set", "data.input_size=64",
              "--set", "data.batch_size=2", "--set", "data.workers=0", "--set", "train.tensorboard=false",
              "--set", "train.device=cpu"]
    train.main([*common, "--epochs", "1"])
    first = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    # The demo model's architecture (width 0.25) from the shipped name, not model.kwargs' 0.125.
    assert first["model_kwargs"]["width"] == 0.25
    train.main([*common, "--epochs", "2", "--resume", str(tmp_path / "run")])  # the folder: its last.pt
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["epoch"] == 2
