"""SeedNet: the original project's network (the 1812.08008 design, PAF stages before heatmap stages).

Layout (width 1, coco17)::

    F.vgg                      VGG-19 conv1_1..conv4_2 (frozen by default)
    F.conv_4_3_and_4_4         conv 512->256 + BN + ReLU, conv 256->125 + BN + ReLU
    base = cat(image resized to the feature grid (3), features (125))       -> 128 channels
    PAF_Stages.Stage1          base                        -> 46 PAFs
    PAF_Stages.Stage2..4       cat(base, previous PAFs)    -> 46 PAFs
    Heatmap_Stages.Stage1      cat(base, last PAFs)        -> 18 heatmaps
    Heatmap_Stages.Stage2      cat(base, last PAFs, previous heatmaps) -> 18 heatmaps

Every stage: 5 dense blocks (C1 3x3/64 -> C2 3x3/32 -> C3 3x3/32, each conv + BN + ReLU, outputs
concatenated to 128), 1x1 conv 128 + BN + ReLU, 1x1 output conv.  Module names are the original's,
so its checkpoints (718 state_dict entries) load strictly.  The concatenation order (image first)
is the original's too: it decides which weights meet which channels.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as functional
from torch import nn

from ..skeletons import Skeleton, get_skeleton
from .vgg import load_imagenet_weights, scaled, vgg19_features

log = logging.getLogger(__name__)

STRIDE = 8
DENSE_WIDTHS = (64, 32, 32)
DENSE_BLOCKS = 5


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2),
                         nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


class DenseBlock(nn.Module):
    """Three chained 3x3 convs whose outputs are concatenated (C1, C2, C3)."""

    def __init__(self, in_ch: int, widths: tuple[int, int, int]) -> None:
        super().__init__()
        self.C1 = conv_bn_relu(in_ch, widths[0], 3)
        self.C2 = conv_bn_relu(widths[0], widths[1], 3)
        self.C3 = conv_bn_relu(widths[1], widths[2], 3)
        self.out_channels = sum(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1 = self.C1(x)
        c2 = self.C2(c1)
        return torch.cat((c1, c2, self.C3(c2)), dim=1)


def make_stage(in_ch: int, out_ch: int, width: float) -> nn.Sequential:
    """Indices 0-4 dense blocks, 5 1x1 conv, 6 BN, 7 ReLU, 8 output conv (the original's keys)."""
    c1, c2, c3 = (scaled(c, width) for c in DENSE_WIDTHS)
    widths = (c1, c2, c3)
    blocks = []
    for _ in range(DENSE_BLOCKS):
        blocks.append(DenseBlock(in_ch, widths))
        in_ch = blocks[-1].out_channels
    hidden = scaled(128, width)
    return nn.Sequential(*blocks, nn.Conv2d(in_ch, hidden, 1), nn.BatchNorm2d(hidden),
                         nn.ReLU(inplace=True), nn.Conv2d(hidden, out_ch, 1))


class Features(nn.Module):
    """VGG-19 to conv4_2, then two conv + BN + ReLU layers (``F`` in the original)."""

    def __init__(self, width: float, out_channels: int) -> None:
        super().__init__()
        self.vgg = vgg19_features(width)
        vgg_out = scaled(512, width)
        mid = scaled(256, width)
        self.conv_4_3_and_4_4 = nn.Sequential(
            nn.Conv2d(vgg_out, mid, 3, padding=1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_4_3_and_4_4(self.vgg(x))


class Stages(nn.Module):
    """Holds ``Stage1``..``StageN`` as named children (the original's key names)."""

    def __init__(self, stages: list[nn.Module]) -> None:
        super().__init__()
        for i, stage in enumerate(stages, start=1):
            self.add_module(f"Stage{i}", stage)


def tent_kernel(stride: int, channels: int = 3) -> torch.Tensor:
    """(channels, 1, 2s, 2s) triangle filter: what PIL's bilinear resize uses to shrink by ``s``."""
    offsets = torch.arange(2 * stride, dtype=torch.float32) + 0.5 - stride
    k = 1.0 - offsets.abs() / stride
    k2 = torch.outer(k, k)
    return (k2 / k2.sum()).expand(channels, 1, -1, -1).contiguous()


def shrink_image(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> torch.Tensor:
    """Resize ``x`` to its stride-``stride`` grid (floor(H/s), floor(W/s), the VGG grid).

    Antialiased bilinear (triangle filter, weights renormalised at the borders), which is how the
    original made its 46x46 image.  Written as a fixed strided depthwise conv (``kernel`` from
    :func:`tent_kernel`, one per channel) so it also exports to ONNX with dynamic sizes.
    """
    kernel = kernel.to(x.dtype)
    pad, groups = stride // 2, kernel.shape[0]
    summed = functional.conv2d(x, kernel, stride=stride, padding=pad, groups=groups)
    # The same filter over ones: the weight that fell inside the image (< 1 only at the borders).
    weight = functional.conv2d(torch.ones_like(x), kernel, stride=stride, padding=pad, groups=groups)
    return summed / weight


class SeedNet(nn.Module):
    """The original design; ``width`` scales backbone and stage channels, stage counts are free."""

    model_type = "seed"
    input_format = "rgb_imagenet"
    stride = STRIDE
    shrink_kernel: torch.Tensor  # a buffer (register_buffer below)

    def __init__(self, skeleton: str | Skeleton = "coco17", width: float = 1.0, paf_stages: int = 4,
                 heatmap_stages: int = 2, backbone_weights: str | Path | None = None,
                 freeze_backbone: bool = True) -> None:
        super().__init__()
        if width <= 0 or paf_stages < 1 or heatmap_stages < 1:
            raise ValueError(f"SeedNet needs width > 0 and at least one stage of each kind, got "
                             f"width={width}, paf_stages={paf_stages}, heatmap_stages={heatmap_stages}")
        self.skeleton = get_skeleton(skeleton)
        self.model_kwargs: dict[str, Any] = {"skeleton": self.skeleton.name, "width": float(width),
                                             "paf_stages": int(paf_stages), "heatmap_stages": int(heatmap_stages)}
        base = scaled(128, width)
        n_paf, n_hm = self.skeleton.num_pafs, self.skeleton.num_heatmaps
        self.F = Features(width, base - 3)
        self.PAF_Stages = Stages([make_stage(base if i == 0 else base + n_paf, n_paf, width)
                                  for i in range(paf_stages)])
        self.Heatmap_Stages = Stages([make_stage(base + n_paf if i == 0 else base + n_paf + n_hm, n_hm, width)
                                      for i in range(heatmap_stages)])
        # Not persistent: a constant, so it stays out of the state_dict (strict key match).
        self.register_buffer("shrink_kernel", tent_kernel(STRIDE), persistent=False)

        pretrained = load_imagenet_weights(self.F.vgg, backbone_weights)
        if freeze_backbone and not pretrained:
            log.warning("SeedNet: freeze_backbone=True with a backbone started from scratch keeps the "
                        "VGG layers random; pass backbone_weights=<vgg19 .pth> or freeze_backbone=False "
                        "to train (harmless when a checkpoint is loaded afterwards)")
        if freeze_backbone:
            for p in self.F.vgg.parameters():
                p.requires_grad_(False)

    def backbone_parameters(self) -> list[nn.Parameter]:
        """VGG-19 conv1_1..conv4_2: the ImageNet-pretrained front."""
        return list(self.F.vgg.parameters())

    def stages(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """All stage outputs: ``([pafs per PAF stage], [heatmaps per heatmap stage])``."""
        base = torch.cat((shrink_image(x, self.shrink_kernel, STRIDE), self.F(x)), dim=1)
        pafs: list[torch.Tensor] = []
        for stage in self.PAF_Stages.children():
            pafs.append(stage(torch.cat((base, pafs[-1]), dim=1) if pafs else base))
        with_pafs = torch.cat((base, pafs[-1]), dim=1)
        heatmaps: list[torch.Tensor] = []
        for stage in self.Heatmap_Stages.children():
            heatmaps.append(stage(torch.cat((with_pafs, heatmaps[-1]), dim=1) if heatmaps else with_pafs))
        return pafs, heatmaps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pafs (N, 2L, H/8, W/8), heatmaps (N, K+1, H/8, W/8))`` of the last stages."""
        pafs, heatmaps = self.stages(x)
        return pafs[-1], heatmaps[-1]
