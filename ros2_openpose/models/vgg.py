"""VGG-19 from conv1_1 to conv4_2 (three max-pools: stride 8), the backbone of both networks.

The layer list mirrors torchvision's ``vgg19().features[:23]`` so that module indices (0, 2, 5, ...)
are the state_dict keys of torchvision's file and of the original project's checkpoints.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from .checkpoint import WeightsError

log = logging.getLogger(__name__)

#: (name, out_channels) of each conv, "pool" for a 2x2 max-pool; torchvision's order.
VGG19_LAYERS: tuple[tuple[str, int], ...] = (
    ("conv1_1", 64), ("conv1_2", 64), ("pool", 0),
    ("conv2_1", 128), ("conv2_2", 128), ("pool", 0),
    ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), ("conv3_4", 256), ("pool", 0),
    ("conv4_1", 512), ("conv4_2", 512),
)

#: Index of each conv inside torchvision's ``vgg19().features`` (and our Sequential).
VGG19_CONV_INDICES: tuple[int, ...] = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21)


def scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded, at least 4: the width multiplier's one rule."""
    return max(4, round(channels * width))


def vgg19_features(width: float = 1.0) -> nn.Sequential:
    """conv1_1..conv4_2 with ReLUs and 3 max-pools (23 modules, torchvision's indices)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for name, out in VGG19_LAYERS:
        if name == "pool":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        out = scaled(out, width)
        layers += [nn.Conv2d(in_ch, out, 3, padding=1), nn.ReLU(inplace=True)]
        in_ch = out
    return nn.Sequential(*layers)


def load_imagenet_weights(features: nn.Sequential, path: str | Path | None) -> bool:
    """Copy ImageNet weights into ``features`` from a LOCAL torchvision vgg19 state_dict file.

    Never downloads.  ``path`` is e.g. torchvision's ``vgg19-dcbb9e9d.pth`` (keys ``features.N.*``;
    bare ``N.*`` keys work too).  With ``path=None`` it logs that the backbone starts from scratch
    and returns False.  Needs width 1 (shapes must match); raises WeightsError otherwise.
    """
    if path is None:
        log.info("VGG-19 backbone starts from scratch (no ImageNet weights). To start from ImageNet, "
                 "pass backbone_weights=<local torchvision vgg19 state_dict, e.g. vgg19-dcbb9e9d.pth "
                 "from ~/.cache/torch/hub/checkpoints/>; nothing is downloaded.")
        return False
    path = Path(path).expanduser()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsError(f"{path}: cannot read a torchvision vgg19 state_dict ({err})") from err
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a torchvision vgg19 state_dict, got {type(state).__name__}")
    wanted = features.state_dict()
    picked, problems = {}, []
    for key, target in wanted.items():
        value = state.get(f"features.{key}", state.get(key))
        if value is None:
            problems.append(f"missing features.{key}")
        elif tuple(value.shape) != tuple(target.shape):
            problems.append(f"features.{key}: file {tuple(value.shape)} vs backbone {tuple(target.shape)}"
                            " (ImageNet weights need width=1)")
        else:
            picked[key] = value
    if problems:
        raise WeightsError(f"{path}: not a usable torchvision vgg19 state_dict for VGG-19 conv1_1..conv4_2: "
                           + "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
    features.load_state_dict(picked, strict=True)
    log.info("VGG-19 backbone initialised from ImageNet weights %s", path)
    return True
