"""ONNX export: parity with PyTorch, one self-contained file, the checkpoint's defaults carried along."""
from __future__ import annotations

import json
import shutil
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch

from ros2_openpose.assets import DEMO_WEIGHTS, describe_model
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.models import build_model, load_model
from ros2_openpose.onnx_export import METADATA_KEYS, PARITY_TOLERANCE, OnnxNetwork, export_onnx, main, parity
from training import synthetic


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    network, info = load_model(DEMO_WEIGHTS)
    assert info.input_size == 184  # the demo checkpoint was trained and evaluated at 184
    # Exported at another size on purpose: the metadata must carry the trained size, not the dummy's.
    return network, info, export_onnx(network, tmp_path_factory.mktemp("onnx") / "demo.onnx", 200, info=info)


def test_parity_on_other_batch_and_size(exported):
    network, _, path = exported
    # Batch 2 and a non-square 184x248 input: both axes were exported dynamic.
    diff = parity(network, path, torch.rand(2, 3, 184, 248))
    assert diff <= PARITY_TOLERANCE
    assert OnnxNetwork(path).skeleton.name == network.skeleton.name


def test_metadata_carries_the_checkpoints_defaults_and_card(exported):
    _, info, path = exported
    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    assert set(METADATA_KEYS) <= set(meta)
    net = OnnxNetwork(path)
    assert net.info.input_size == 184 and net.info.card == info.card
    interface = ("model_type", "skeleton", "input_format", "stride")
    assert [getattr(net.info, k) for k in interface] == [getattr(info, k) for k in interface]
    assert net.info.source_format == "onnx" and net.info.weights == str(path)
    assert net.info.card["synthetic_only"] is True and net.info.model_kwargs == info.model_kwargs
    from_onnx = PoseEstimator(weights=path, device="cpu")
    from_torch = PoseEstimator(weights=DEMO_WEIGHTS, device="cpu")
    assert from_onnx.input_size == from_torch.input_size == 184  # not the original design's 368
    assert from_onnx.model.card == from_torch.model.card == from_onnx.info["card"]
    assert "demo_synthetic" in describe_model(from_onnx.model)


def test_estimator_from_onnx_matches_pytorch(exported, tmp_path):
    _, _, path = exported
    synthetic.generate_dataset(tmp_path, 2, seed=777, size=256, max_people=2, split="x")
    image = cv2.imread(str(tmp_path / "x" / "000001.png"))
    # No input_size given: both take the checkpoint's 184 (the .onnx from its metadata).
    torch_people = PoseEstimator(weights=DEMO_WEIGHTS, device="cpu").estimate(image)
    onnx_people = PoseEstimator(weights=path, device="cpu").estimate(image)
    assert len(torch_people) == len(onnx_people) > 0
    for a, b in zip(torch_people, onnx_people, strict=True):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=0.05, equal_nan=True)


@pytest.mark.slow
def test_cmu_network_exports_one_self_contained_file(tmp_path):
    network = build_model("cmu").eval()
    path = tmp_path / "cmu.onnx"
    stale = tmp_path / "cmu.onnx.data"
    stale.write_bytes(b"left over from an earlier export")
    export_onnx(network, path, input_size=184)
    assert not stale.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cmu.onnx"]
    weight_bytes = sum(p.numel() * p.element_size() for p in network.state_dict().values())
    assert path.stat().st_size > weight_bytes  # ~209 MB of weights inside the one file
    moved = tmp_path / "elsewhere" / "moved.onnx"  # nothing beside it to lean on
    moved.parent.mkdir()
    shutil.move(str(path), moved)
    assert parity(network, moved, torch.rand(1, 3, 184, 200)) <= PARITY_TOLERANCE


def test_command_line_exports_a_shipped_name(tmp_path, capsys):
    out = tmp_path / "demo.onnx"
    assert main(["demo", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input_size"] == 184 and report["max_abs_diff"] <= PARITY_TOLERANCE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.onnx"]
    assert main(["demo", str(tmp_path / "b.onnx"), "--input-size", "256"]) == 0
    assert OnnxNetwork(tmp_path / "b.onnx").info.input_size == 256  # the user's choice wins


@pytest.mark.parametrize("module", ["onnxscript", "onnxruntime"])
def test_a_missing_optional_dependency_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch, module):
    # A None entry in sys.modules is how Python marks a module as not importable: the uninstalled
    # package is simulated at the import boundary, everything else runs for real.
    monkeypatch.setitem(sys.modules, module, None)
    assert main(["demo", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and module in err and "ros2_openpose[onnx]" in err
    assert not (tmp_path / "x.onnx").exists()
