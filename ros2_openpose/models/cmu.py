"""CMUBodyNet: CMU OpenPose's COCO body model (6 stages, two branches), for ``body_pose_model.pth``.

Parameters carry the Caffe layer names as flat attributes (``conv1_1``, ``conv4_3_CPM``,
``Mconv7_stage6_L2``, ...), so the converted file (184 tensors, 52.3 M parameters) loads strictly.
Branch L1 gives the 38 PAF channels, L2 the 19 heatmaps (18 keypoints + background, coco18 layout).
A ReLU follows every conv except the output convs (``conv5_5_CPM_L*``, ``Mconv7_stage*_L*``):
heatmaps and PAFs come out unclipped, as Caffe produced them.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..skeletons import COCO18
from .vgg import VGG19_LAYERS

STRIDE = 8
STAGES = 6
FEATURES = 128


class CMUBodyNet(nn.Module):
    """Fixed architecture (no width or stage options): it exists to run CMU's trained weights."""

    model_type = "cmu"
    input_format = "bgr_256"
    stride = STRIDE

    def __init__(self) -> None:
        super().__init__()
        self.skeleton = COCO18
        self.model_kwargs: dict[str, Any] = {}
        n_paf, n_hm = COCO18.num_pafs, COCO18.num_heatmaps  # 38, 19
        # (name, in, out, kernel, relu) in execution order; "pool" entries are 2x2 max-pools.
        backbone: list[tuple] = []
        in_ch = 3
        for name, out in VGG19_LAYERS:
            if name == "pool":
                backbone.append(("pool",))
            else:
                backbone.append((name, in_ch, out, 3, True))
                in_ch = out
        backbone += [("conv4_3_CPM", 512, 256, 3, True), ("conv4_4_CPM", 256, FEATURES, 3, True)]
        self.backbone_layers = backbone

        self.stage_layers: list[dict[str, list[tuple]]] = []
        for t in range(1, STAGES + 1):
            branches = {}
            for branch, out in (("L1", n_paf), ("L2", n_hm)):
                if t == 1:
                    layers = [(f"conv5_{i}_CPM_{branch}", FEATURES, FEATURES, 3, True) for i in (1, 2, 3)]
                    layers += [(f"conv5_4_CPM_{branch}", FEATURES, 512, 1, True),
                               (f"conv5_5_CPM_{branch}", 512, out, 1, False)]
                else:
                    stage_in = n_paf + n_hm + FEATURES  # 185: cat(L1, L2, features)
                    layers = [(f"Mconv1_stage{t}_{branch}", stage_in, 128, 7, True)]
                    layers += [(f"Mconv{i}_stage{t}_{branch}", 128, 128, 7, True) for i in (2, 3, 4, 5)]
                    layers += [(f"Mconv6_stage{t}_{branch}", 128, 128, 1, True),
                               (f"Mconv7_stage{t}_{branch}", 128, out, 1, False)]
                branches[branch] = layers
            self.stage_layers.append(branches)

        stage_convs = [layer for stage in self.stage_layers for branch in stage.values() for layer in branch]
        for layer in backbone + stage_convs:
            if layer[0] != "pool":
                name, i, o, k, _ = layer
                self.add_module(name, nn.Conv2d(i, o, k, padding=k // 2))
        self.pool = nn.MaxPool2d(2, 2)

    def _run(self, x: torch.Tensor, layers: list[tuple]) -> torch.Tensor:
        for layer in layers:
            if layer[0] == "pool":
                x = self.pool(x)
                continue
            x = getattr(self, layer[0])(x)
            if layer[4]:
                x = torch.relu_(x)  # in place: the conv output is not needed again
        return x

    def backbone_parameters(self) -> list[nn.Parameter]:
        """VGG-19 conv1_1..conv4_2 (flat Caffe names): the ImageNet-pretrained front."""
        names = {name for name, _ in VGG19_LAYERS if name != "pool"}
        return [p for n, p in self.named_parameters() if n.split(".")[0] in names]

    def stages(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """All stage outputs: ``([pafs of stages 1..6], [heatmaps of stages 1..6])``."""
        features = self._run(x, self.backbone_layers)
        pafs: list[torch.Tensor] = []
        heatmaps: list[torch.Tensor] = []
        stage_in = features
        for branches in self.stage_layers:
            pafs.append(self._run(stage_in, branches["L1"]))
            heatmaps.append(self._run(stage_in, branches["L2"]))
            stage_in = torch.cat((pafs[-1], heatmaps[-1], features), dim=1)
        return pafs, heatmaps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pafs (N, 38, H/8, W/8), heatmaps (N, 19, H/8, W/8))`` of stage 6."""
        pafs, heatmaps = self.stages(x)
        return pafs[-1], heatmaps[-1]
