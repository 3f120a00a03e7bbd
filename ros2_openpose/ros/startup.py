"""What pose_node checks and builds before it serves; every failure is a StartupError with one line.

The node's main turns a StartupError into one FATAL log line and exit status 2 (docs/ros.md).
"""
from __future__ import annotations

import math
from typing import Any

from ros2_openpose.assets import resolve_weights
from ros2_openpose.config import DecodeConfig
from ros2_openpose.device import device_problem
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.models import WeightsError

from .params import DECODE_PARAMS, check_choice

NO_WEIGHTS = ("no weights configured: set the 'weights' parameter (a checkpoint, CMU body_pose_model.pth, "
              ".onnx, or 'default' for the shipped real-people model)")
SCALE_RANGE = (0.1, 4.0)  # a larger scale multiplies the network input (and its memory) beyond use
CHOICE_PARAMS = ("input_transport", "qos_reliability", "model_type", "skeleton")


class StartupError(RuntimeError):
    """The node cannot serve (no / missing / incompatible weights, bad settings): main exits 2."""


def decode_config(values: dict[str, Any], base: DecodeConfig) -> DecodeConfig:
    """``base`` with the node's decode parameters applied (ValueError with a reason when out of range)."""
    return base.updated(**{k: values[k] for k in DECODE_PARAMS if k in values})


def check_values(values: dict[str, Any]) -> None:
    """StartupError for settings that rclpy's types and ranges let through but the node cannot use."""
    for name in CHOICE_PARAMS:
        reason = check_choice(name, values[name])
        if reason:
            raise StartupError(reason)
    scales = values["scales"]
    lo, hi = SCALE_RANGE
    if not scales or not all(isinstance(s, (int, float)) and math.isfinite(s) and lo <= s <= hi for s in scales):
        raise StartupError(f"scales={scales!r}: give a non-empty list of numbers between {lo} and {hi}, e.g. [1.0]")
    images = values["images"]
    if not images or any(not isinstance(topic, str) or not topic.strip() for topic in images):
        raise StartupError(f"images={images!r}: give a non-empty list of image topics, e.g. [image]")
    check_device(values["device"])


def check_device(device: str) -> None:
    """StartupError unless ``device`` is auto, cpu, or a CUDA device this machine has."""
    problem = device_problem(device)
    if problem is not None:
        raise StartupError(f"device={device!r} {problem}")


def build_estimator(values: dict[str, Any]) -> PoseEstimator:
    """The estimator the parameters describe; StartupError with a clear message when it cannot be built."""
    try:
        weights = resolve_weights(values["weights"])
    except FileNotFoundError as err:
        raise StartupError(str(err)) from err
    if weights is None:
        raise StartupError(NO_WEIGHTS)
    try:  # the decode settings: the model's own (node.py applies the node's)
        return PoseEstimator(weights=weights, device=values["device"], fp16=values["fp16"],
                             input_size=values["input_size"] or None, scales=values["scales"],
                             flip=values["flip"], adaptive_threads=values["adaptive_threads"])
    except WeightsError as err:  # its message names the file already (the loader's, or ours below)
        raise StartupError(f"incompatible weights {err if str(weights) in str(err) else f'{weights}: {err}'}") from err
    except Exception as err:
        first = str(err).splitlines()[0] if str(err) else ""
        raise StartupError(f"cannot load {weights}: {type(err).__name__}: {first}") from err


def check_model(estimator: PoseEstimator, values: dict[str, Any]) -> None:
    """StartupError when the network is not the ``model_type`` / ``skeleton`` the parameters ask for.

    A robot's consumers index keypoints by the published layout: a weights file swapped for one of
    another type or layout must stop the node at start, not change the meaning of its output.
    """
    found = {"model_type": estimator.model.model_type, "skeleton": estimator.model.skeleton}
    for name, actual in found.items():
        wanted = values.get(name, "auto")
        if wanted != "auto" and wanted != actual:
            source = estimator.model.weights or "the network"
            raise StartupError(f"{name}={wanted!r} but {source} is {actual!r} (set {name}: auto to accept it)")
