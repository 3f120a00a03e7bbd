"""Every pose_node parameter, declared in one place: name, default, description, range, live or not.

``PARAMS`` is the single table (``param_table.Param`` rows); ``declare_all`` declares it on a node,
``param_table.usage`` prints it for ``--help``, ``docs/ros.md`` and ``params/pose.yaml`` mirror it (a
test checks the yaml).  The decode thresholds take their ranges from ``DecodeConfig`` so the node and
the core cannot disagree, and their defaults from the model (``declare_decode``, at configure): the
original thresholds, unless the model's card sets its own (the shipped default model's does).
"""
from __future__ import annotations

from typing import Any

from rclpy.node import Node

from ros2_openpose.config import DecodeConfig
from ros2_openpose.models import MODEL_TYPES
from ros2_openpose.skeletons import SKELETONS

from .param_table import Param, declare
from .subscription import RELIABILITY_CHOICES

_DEFAULT = DecodeConfig()


def _decode(name: str, description: str) -> Param:
    bounds = DecodeConfig.RANGES.get(name)
    if bounds is None:
        return Param(name, getattr(_DEFAULT, name), description, from_model=True)
    lo, hi = bounds
    return Param(name, getattr(_DEFAULT, name), description, range=(lo, hi, 1 if isinstance(lo, int) else 0.0),
                 from_model=True)


PARAMS: tuple[Param, ...] = (
    # model and device: fixed for the node's life
    Param("weights", "default", "Weights file: a ros2_openpose checkpoint, CMU's body_pose_model.pth, an .onnx "
          "export, or a shipped model by name: 'default' (trained on real people) or 'demo' (synthetic "
          "figures only).", live=False),
    Param("model_type", "auto", "Network type the weights must be: 'auto' takes whatever the file is (detected "
          "from its keys); a named type refuses a file of another type at start.", live=False,
          choices=("auto", *MODEL_TYPES)),
    Param("skeleton", "auto", "Keypoint layout of the published people: 'auto' is the network's; a named one "
          "refuses a network with another layout at start.", live=False, choices=("auto", *SKELETONS)),
    Param("device", "auto", "Torch device: 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...", live=False),
    Param("fp16", True, "Half precision on CUDA (ignored on CPU).", live=False),
    Param("input_size", 0, "Network input height in pixels (multiple of 8); 0 = the size the checkpoint "
          "was trained for, else 368.", live=False, range=(0, 1024, 8)),
    Param("scales", [1.0], "Input scales averaged (multi-scale inference); the first is the base.", live=False),
    Param("flip", False, "Also run each image mirrored and average the maps (test-time augmentation: twice "
          "the network's work).", live=False),
    # decoding: live
    _decode("paf_threshold", "A PAF sample supports a limb when its dot product with the limb exceeds this."),
    _decode("heatmap_threshold", "Heatmap local maxima below this are not keypoints."),
    _decode("match_threshold", "Limb candidates whose PAF score is below this are rejected."),
    _decode("min_parts", "People with fewer keypoints are dropped."),
    _decode("min_person_score", "People with a lower mean part+limb score are dropped."),
    _decode("use_extra_pafs", "Use the redundant long-range limbs as evidence."),
    _decode("near_scale", "Input scale of a second look at frames where someone is near (taller than near_height "
            "of the frame): the two scales' maps are averaged; 0 = never."),
    _decode("near_height", "Fraction of the frame height a person must exceed for the second look."),
    # input
    Param("images", ["image"], "Image topics, one per camera; several are batched through one forward pass "
          "and each PersonArray carries its own camera's header.", live=False),
    Param("input_transport", "raw", "Subscribe to each of 'images' (raw, sensor_msgs/Image) or to "
          "'<image>/compressed' (compressed, sensor_msgs/CompressedImage).", live=False,
          choices=("raw", "compressed")),
    Param("qos_reliability", "auto", "Reliability of the image subscriptions (keep-last 1): 'auto' follows "
          "the publishers (reliable unless one publishes best effort) and re-matches when they change.",
          live=False, choices=RELIABILITY_CHOICES),
    Param("max_age", 0.5, "Frames that waited longer than this many seconds at the node (since they arrived; "
          "the stamp is not used) are dropped (too_old); 0 = off.", range=(0.0, 3600.0, 0.0)),
    Param("max_pixels", 50_000_000, "Frames with more pixels are dropped (too_large), compressed ones before "
          "they are decoded.", range=(1, 1_000_000_000, 1)),
    # running
    Param("cpu_threads", 1, "Torch intra-op threads (process-wide); 0 = torch's default (one per core). "
          "1 keeps latency steady when other processes load the CPU.", live=False, range=(0, 256, 1)),
    Param("adaptive_threads", True, "ONNX Runtime on a CPU: also keep a session with one thread per core and "
          "run each frame on whichever of it and cpu_threads has been faster lately (more threads win on "
          "free cores, fewer beside other work); false = cpu_threads only.", live=False),
    Param("managed", False, "true: start unconfigured and wait for a lifecycle manager (configure, activate); "
          "false: configure and activate at start.", live=False),
    # output
    Param("publish_annotated", True, "Publish poses/annotated (only while someone subscribes)."),
    Param("marker_scale", 0.002, "Metres per image pixel of poses/markers.", range=(1e-6, 10.0, 0.0)),
)

BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}
#: DecodeConfig fields the node exposes; changing one replaces ``estimator.config`` live.
DECODE_PARAMS: tuple[str, ...] = tuple(p.name for p in PARAMS if p.from_model)


def declare_all(node: Node) -> dict[str, Any]:
    """Declare pose_node's parameters but the decode ones; returns name -> value (overrides and yaml applied)."""
    return declare(node, tuple(p for p in PARAMS if not p.from_model))


def declare_decode(node: Node, config: DecodeConfig) -> dict[str, Any]:
    """Declare the decode parameters with ``config`` (the model's own settings) as their defaults, once:
    a yaml or ``-p`` value still wins; a later configure keeps what they hold.  Returns name -> value."""
    rows = tuple(p for p in PARAMS if p.from_model and not node.has_parameter(p.name))
    declare(node, rows, {p.name: getattr(config, p.name) for p in rows})
    return {name: node.get_parameter(name).value for name in DECODE_PARAMS}


def check_choice(name: str, value: Any) -> str | None:
    """A reason when ``value`` is not one of the parameter's choices, else None."""
    choices = BY_NAME[name].choices
    if choices and value not in choices:
        return f"{name}={value!r} is not one of {list(choices)}"
    return None
