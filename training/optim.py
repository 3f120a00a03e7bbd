"""Optimiser (the pretrained front at its own learning rate) and the per-iteration LR schedule."""
from __future__ import annotations

import math
from typing import Any

import torch

from ros2_openpose.models import TrainableNetwork


def make_optimizer(net: TrainableNetwork, ocfg: dict) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD over two groups: the stages at ``lr``, the front at ``backbone_lr_ratio * lr``."""
    # Every parameter from the start: frozen ones have no grad and are skipped until unfrozen.  The
    # pretrained front learns at backbone_lr_ratio x lr (it only needs to adapt, not to start over).
    front = {id(p) for p in net.backbone_parameters()}
    params: list[dict[str, Any]] = [
        {"params": [p for p in net.parameters() if id(p) not in front], "lr": ocfg["lr"]},
        {"params": [p for p in net.parameters() if id(p) in front],
         "lr": ocfg["lr"] * float(ocfg["backbone_lr_ratio"])}]
    params = [group for group in params if group["params"]]
    name = ocfg["optimizer"]
    if name == "adam":
        return torch.optim.Adam(params, weight_decay=ocfg["weight_decay"])
    if name == "adamw":
        return torch.optim.AdamW(params, weight_decay=ocfg["weight_decay"])
    if name == "sgd":
        return torch.optim.SGD(params, momentum=ocfg["momentum"], weight_decay=ocfg["weight_decay"])
    raise ValueError(f"unknown optimizer {name!r} (adam, adamw, sgd)")


def make_scheduler(optimizer: torch.optim.Optimizer, ocfg: dict, epochs: int,
                   iters_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-iteration LR factor: linear warmup, then cosine / step / constant."""
    warmup, total = int(ocfg["warmup_iters"]), max(1, epochs * iters_per_epoch)
    schedule, floor = ocfg["schedule"], float(ocfg["min_lr_ratio"])
    milestones, gamma = [int(m) for m in ocfg["milestones"]], float(ocfg["gamma"])
    if schedule not in ("cosine", "step", "constant"):
        raise ValueError(f"unknown schedule {schedule!r} (cosine, step, constant)")

    def factor(step: int) -> float:  # a closure, so a resumed run keeps its own epochs/total
        f = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
        if schedule == "cosine":
            t = min(1.0, max(0, step - warmup) / max(1, total - warmup))
            f *= floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))
        elif schedule == "step":
            f *= gamma ** sum(step // max(1, iters_per_epoch) >= m for m in milestones)
        return f

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
