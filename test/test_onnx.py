"""ONNX export of the shipped demo model: parity with PyTorch and the estimator running from the file."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from ros2_openpose.assets import DEMO_WEIGHTS
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.models import build_model, load_model
from ros2_openpose.onnx_export import PARITY_TOLERANCE, OnnxNetwork, export_onnx, parity
from training import synthetic


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    network, _ = load_model(DEMO_WEIGHTS)
    return network, export_onnx(network, tmp_path_factory.mktemp("onnx") / "demo.onnx", input_size=184)


def test_parity_on_other_batch_and_size(exported):
    network, path = exported
    # Batch 2 and a non-square 184x248 input: both axes were exported dynamic.
    diff = parity(network, path, torch.rand(2, 3, 184, 248))
    assert diff <= PARITY_TOLERANCE
    assert OnnxNetwork(path).skeleton.name == network.skeleton.name


def test_estimator_from_onnx_matches_pytorch(exported, tmp_path):
    network, path = exported
    synthetic.generate_dataset(tmp_path, 2, seed=777, size=256, max_people=2, split="x")
    image = cv2.imread(str(tmp_path / "x" / "000001.png"))
    torch_people = PoseEstimator(weights=DEMO_WEIGHTS, device="cpu", input_size=184).estimate(image)
    onnx_people = PoseEstimator(weights=path, device="cpu", input_size=184).estimate(image)
    assert len(torch_people) == len(onnx_people) > 0
    for a, b in zip(torch_people, onnx_people):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=0.05, equal_nan=True)


def test_cmu_network_exports_with_dynamic_size(tmp_path):
    network = build_model("cmu").eval()
    path = export_onnx(network, tmp_path / "cmu.onnx", input_size=184)
    assert parity(network, path, torch.rand(1, 3, 184, 200)) <= PARITY_TOLERANCE
