"""LightNet: a MobileNetV1 front with the paper's PAF-then-heatmap stages, small enough for a CPU robot.

The front is PoseNet's MobileNetV1 (depth multiplier 0.75 by default: 24 ... 384 channels), whose
layer names and shapes match the Apache-2.0 PoseNet weights that ``training/posenet_init.py`` reads,
so training starts from a backbone that already learned human keypoints.  PoseNet ran it at output
stride 16; here the sixth block keeps stride 1 and every later 3x3 depthwise conv is dilated by 2
(the atrous rule PoseNet itself used for output stride 8), so the same weights give stride-8 maps.

Layout::

    backbone       conv0 (3x3 s2) + 13 depthwise-separable blocks, ReLU6, stride 8   -> C_b
    neck           1x1 C_b -> 128, 3 residual depthwise-separable blocks            -> 128
    prior          (keypoint_prior) PoseNet's own keypoint head: 1x1 C_b -> 17, sigmoid
    PAF stage 1    cat(features, prior)                  -> 2L PAFs
    PAF stage i    cat(features, PAFs, prior)            -> 2L PAFs
    heatmap st. 1  cat(features, PAFs, prior)            -> K+1 heatmaps
    heatmap st. j  cat(features, PAFs, heatmaps, prior)  -> K+1 heatmaps

Every stage: a 1x1 conv to ``stage_channels``, ``stage_blocks`` residual depthwise-separable blocks
with growing dilation (1, 2, 4, ...: the receptive field of a whole limb at little cost), a 1x1
hidden conv and the 1x1 output conv; the same (pafs, heatmaps) interface as SeedNet, the same
``coco17`` layout with the extra PAFs, so decode, node, CLI and ONNX export take it unchanged.

``keypoint_prior``: PoseNet learnt a keypoint heatmap head on the same front (COCO order); its
17 maps, fed to every stage, give the stages located body joints from the first step instead of
learning them again from the (scarce) training labels.  Trained with the rest, initialised from
PoseNet by ``training/posenet_init.py``.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..skeletons import Skeleton, get_skeleton
from .vgg import scaled

STRIDE = 8
#: (output channels at depth multiplier 1, stride at output stride 16) of MobileNetV1's 13 blocks.
MOBILENET_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
)
#: Index (0-based) of the block whose stride 2 becomes stride 1 with dilation 2 after it.
ATROUS_FROM = 5
#: Channels of PoseNet's keypoint head (the COCO keypoints), the keypoint prior's width.
PRIOR_KEYPOINTS = 17


def separable(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1,
              act: type[nn.Module] = nn.ReLU6) -> nn.Sequential:
    """3x3 depthwise + 1x1 pointwise, each with bias and activation (PoseNet's BN is folded in)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, 3, stride, padding=dilation, dilation=dilation, groups=in_ch),
        act(inplace=True),
        nn.Conv2d(in_ch, out_ch, 1), act(inplace=True))


class MobileNetV1(nn.Module):
    """PoseNet's MobileNetV1 at output stride 8: ``conv0`` then ``blocks.0`` .. ``blocks.12``."""

    def __init__(self, alpha: float = 0.75) -> None:
        super().__init__()
        first = scaled(32, alpha)
        self.conv0 = nn.Sequential(nn.Conv2d(3, first, 3, 2, padding=1), nn.ReLU6(inplace=True))
        blocks, in_ch, dilation = [], first, 1
        for i, (out, stride) in enumerate(MOBILENET_BLOCKS):
            out = scaled(out, alpha)
            if i >= ATROUS_FROM and stride == 2:
                blocks.append(separable(in_ch, out, 1, dilation))
                dilation *= 2
            else:
                blocks.append(separable(in_ch, out, stride, dilation))
            in_ch = out
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = in_ch

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.conv0(x))


class Residual(nn.Module):
    """``x + block(x)``: a depthwise-separable block (BN, ReLU) that refines without moving anything."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, groups=channels, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def conv1x1(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


def make_stage(in_ch: int, out_ch: int, channels: int, blocks: int) -> nn.Sequential:
    """1x1 in, residual blocks with dilations 1, 2, 4, ..., 1x1 hidden (2x wide), 1x1 output."""
    layers: list[nn.Module] = [conv1x1(in_ch, channels)]
    layers += [Residual(channels, 2 ** (i % 3)) for i in range(blocks)]
    layers += [conv1x1(channels, 2 * channels), nn.Conv2d(2 * channels, out_ch, 1)]
    return nn.Sequential(*layers)


class LightNet(nn.Module):
    """MobileNetV1 (PoseNet) front, PAF stages then heatmap stages; stride 8, RGB in [-1, 1]."""

    model_type = "light"
    input_format = "rgb_pm1"
    stride = STRIDE

    def __init__(self, skeleton: str | Skeleton = "coco17", alpha: float = 0.75, channels: int = 128,
                 paf_stages: int = 2, heatmap_stages: int = 1, stage_blocks: int = 3,
                 keypoint_prior: bool = False) -> None:
        super().__init__()
        if alpha <= 0 or channels < 8 or paf_stages < 1 or heatmap_stages < 1 or stage_blocks < 0:
            raise ValueError(f"LightNet needs alpha > 0, channels >= 8, at least one stage of each kind and "
                             f"stage_blocks >= 0; got alpha={alpha}, channels={channels}, paf_stages="
                             f"{paf_stages}, heatmap_stages={heatmap_stages}, stage_blocks={stage_blocks}")
        self.skeleton = get_skeleton(skeleton)
        self.model_kwargs: dict[str, Any] = {
            "skeleton": self.skeleton.name, "alpha": float(alpha), "channels": int(channels),
            "paf_stages": int(paf_stages), "heatmap_stages": int(heatmap_stages), "stage_blocks": int(stage_blocks)}
        if keypoint_prior:  # only when set: checkpoints without it keep their exact kwargs
            self.model_kwargs["keypoint_prior"] = True
        n_paf, n_hm = self.skeleton.num_pafs, self.skeleton.num_heatmaps
        self.backbone = MobileNetV1(alpha)
        self.neck = nn.Sequential(conv1x1(self.backbone.out_channels, channels),
                                  *[Residual(channels) for _ in range(3)])
        # PoseNet's head predicts the 17 COCO keypoints, whatever layout the stages output.
        self.prior = nn.Conv2d(self.backbone.out_channels, PRIOR_KEYPOINTS, 1) if keypoint_prior else None
        width = channels + (PRIOR_KEYPOINTS if keypoint_prior else 0)
        self.paf_stages = nn.ModuleList(
            make_stage(width + (n_paf if i else 0), n_paf, channels, stage_blocks) for i in range(paf_stages))
        self.heatmap_stages = nn.ModuleList(
            make_stage(width + n_paf + (n_hm if i else 0), n_hm, channels, stage_blocks)
            for i in range(heatmap_stages))

    def backbone_parameters(self) -> list[nn.Parameter]:
        """PoseNet's MobileNetV1: the pose-pretrained front."""
        return list(self.backbone.parameters())

    def stages(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """All stage outputs: ``([pafs per PAF stage], [heatmaps per heatmap stage])``."""
        front = self.backbone(x)
        features = self.neck(front)
        # The prior goes last in every stage's input, so that a network trained without it is a
        # prefix of one with it (training.network.warm_start).
        prior = [torch.sigmoid(self.prior(front))] if self.prior is not None else []
        pafs: list[Tensor] = []
        for stage in self.paf_stages:
            pafs.append(stage(torch.cat([features, *pafs[-1:], *prior], 1)))
        heatmaps: list[Tensor] = []
        for stage in self.heatmap_stages:
            heatmaps.append(stage(torch.cat([features, pafs[-1], *heatmaps[-1:], *prior], 1)))
        return pafs, heatmaps

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(pafs (N, 2L, H/8, W/8), heatmaps (N, K+1, H/8, W/8))`` of the last stages."""
        pafs, heatmaps = self.stages(x)
        return pafs[-1], heatmaps[-1]
