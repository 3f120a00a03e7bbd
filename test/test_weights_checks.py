"""Broken or crafted weights files: each refused before anything is built, with one line naming the file.

Function boundary (``startup.build_estimator``, what the node calls at configure) for every file, and
the node's exit status 2 with one FATAL line for a few of them as a process.  15 of 42 such files used
to end in a traceback; ``paf_stages=1e5`` ran a minute and took 3 GB before failing; NaN weights
served 0 people without a word.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("rclpy")

from ros2_openpose.assets import DEMO_WEIGHTS
from ros2_openpose.ros.params import PARAMS
from ros2_openpose.ros.startup import StartupError, build_estimator

pytestmark = pytest.mark.ros
REPO = Path(__file__).resolve().parents[1]
DEFAULTS = {p.name: p.default for p in PARAMS} | {"device": "cpu"}


def _demo() -> dict:
    return torch.load(DEMO_WEIGHTS, map_location="cpu", weights_only=True)


def _checkpoint(tmp_path: Path, name: str, change) -> Path:
    ckpt = _demo()
    change(ckpt)
    path = tmp_path / f"{name}.pt"
    torch.save(ckpt, path)
    return path


def _nan(ckpt: dict) -> None:
    key = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point())
    ckpt["state_dict"][key] = torch.full_like(ckpt["state_dict"][key], float("nan"))


CHECKPOINTS = {
    "kwargs_not_a_dict": (lambda c: c.update(model_kwargs=5), "model_kwargs is a int, not a dict"),
    "type_a_list": (lambda c: c.update(model_type=["seed"]), "model_type ['seed'] is not one of"),
    "eval_not_a_dict": (lambda c: c["config"].update(eval="fast"), "config.eval is a str, not a dict"),
    "huge_input": (lambda c: c["config"].update(eval={"input_size": 100000}),
                   "config.eval.input_size=100000 is not an integer in 8..2048"),
    "float_stages": (lambda c: c["model_kwargs"].update(paf_stages=1e5), "paf_stages=100000.0 is not an integer"),
    "many_stages": (lambda c: c["model_kwargs"].update(paf_stages=100000), "paf_stages=100000 is not an integer"),
    "unknown_kwarg": (lambda c: c["model_kwargs"].update(depth=3), "unknown entry depth=3"),
    "flag_not_bool": (lambda c: c["model_kwargs"].update(keypoint_prior="yes"),
                      "keypoint_prior='yes' is not true or false"),
    "bad_skeleton": (lambda c: c.update(skeleton="coco99"), "skeleton 'coco99' is not one of"),
    "nan_weights": (_nan, "hold NaN or infinite values"),
    "card_decode_out_of_range": (lambda c: c["card"].update(decode={"heatmap_threshold": 7.0}),
                                 "the model card's decode settings {'heatmap_threshold': 7.0}"),
}


def _refused(path: Path) -> str:
    with pytest.raises(StartupError) as caught:
        build_estimator({**DEFAULTS, "weights": str(path)})
    text = str(caught.value)
    assert str(path) in text and "\n" not in text
    return text


def test_the_unmodified_demo_checkpoint_loads():
    assert build_estimator({**DEFAULTS, "weights": "demo"}).info["model_type"] == "seed"
    assert build_estimator({**DEFAULTS, "weights": "demo", "flip": True}).info["flip"] is True


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_crafted_checkpoint_refused(tmp_path, name):
    change, reason = CHECKPOINTS[name]
    assert reason in _refused(_checkpoint(tmp_path, name, change))


def _onnx_model(tmp_path: Path, name: str, weight: float, inputs=("image",), outputs=("pafs", "heatmaps"),
                meta: dict | None = None) -> Path:
    """A small ONNX graph built by hand: 1x1 convolutions from ``inputs[0]`` to each output."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    for i, out in enumerate(outputs):
        w = numpy_helper.from_array(np.full((2, 3, 1, 1), weight, np.float32), f"w{i}")
        inits.append(w)
        nodes.append(helper.make_node("Conv", [inputs[0], f"w{i}"], [out]))
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 3, "H", "W"]) for n in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 2, "H", "W"]) for n in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    for key, value in (meta if meta is not None else {"skeleton": "coco17", "stride": "8"}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def test_crafted_onnx_refused(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07 this is not a protobuf" * 50)
    assert "not a readable ONNX model" in _refused(garbage)
    assert "no skeleton metadata" in _refused(_onnx_model(tmp_path, "plain", 0.5, meta={}))
    wrong = _onnx_model(tmp_path, "wrong_graph", 0.5, inputs=("x",), outputs=("y",))
    assert "outputs 'pafs' and 'heatmaps'" in _refused(wrong)
    assert "hold NaN or infinite values: w0" in _refused(_onnx_model(tmp_path, "nan", float("nan")))
    assert "stride='16'" in _refused(_onnx_model(tmp_path, "stride", 0.5, meta={"skeleton": "coco17", "stride": "16"}))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["float_stages", "nan_weights"])
def test_node_exits_2_with_one_line(tmp_path, name):
    path = _checkpoint(tmp_path, name, CHECKPOINTS[name][0])
    done = subprocess.run([sys.executable, "-m", "ros2_openpose.ros.pose_node", "--ros-args", "-p", f"weights:={path}",
                           "-p", "device:=cpu"], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ROS_DOMAIN_ID": str(1 + os.getpid() % 200)})
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "[FATAL]" in lines[0] and str(path) in lines[0], done.stderr
