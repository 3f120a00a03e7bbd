"""Train a pose network on COCO-format keypoints (one script; torchrun for several GPUs or nodes).

    python -m training.train --config training/configs/small_cpu.yaml \\
        --train-images D --train-annotations F [--val-images D --val-annotations F] \\
        --out runs/x [--resume runs/x/last.pt] [--epochs N] [--set optim.lr=1e-3 ...]
    torchrun --nproc_per_node 8 -m training.train --config training/configs/seed368.yaml ...

Loss: masked squared L2 on every stage's PAFs and heatmaps (intermediate supervision), at stride 8,
summed over channels and cells and divided by 2 * batch (CMU's Euclidean loss).  The checkpoints
(``last.pt`` every epoch, ``best.pt`` by keypoint AP) load with ``ros2_openpose.models.load_model``.

This file is the script (command line -> data, network, optimiser -> epoch loop), as in torchvision's
references: ``config`` holds the hyper-parameters, ``network`` builds what trains, ``optim`` the
optimiser and schedule, ``engine`` one epoch and the validation, ``checkpoint`` saving and resuming.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import torch
import yaml
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, DistributedSampler

from .augment import AugmentConfig
from .checkpoint import Progress, load_resume, restore, save_epoch, seed_everything
from .config import load_config
from .data import PoseDataset, coco_layout, load_coco, worker_init
from .distributed import DistInfo, barrier, cleanup, init_distributed
from .engine import evaluate_epoch, log_epoch, open_writer, train_one_epoch
from .network import build_network, set_backbone_trainable, wrap
from .optim import make_optimizer, make_scheduler

log = logging.getLogger("training")

# Command-line shortcuts and the config entries they set.
FLAG_KEYS = (("epochs", "train.epochs"), ("batch_size", "data.batch_size"), ("workers", "data.workers"),
             ("lr", "optim.lr"), ("device", "train.device"), ("backbone_weights", "model.backbone_weights"))


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
    p.add_argument("--stop-after", type=int, metavar="N",
                   help="stop after epoch N, the schedule still planned for train.epochs (a run in legs)")
    p.add_argument("--batch-size", type=int, help="= --set data.batch_size=N (per process)")
    p.add_argument("--workers", type=int, help="= --set data.workers=N")
    p.add_argument("--lr", type=float, help="= --set optim.lr=X")
    p.add_argument("--device", help="= --set train.device=X (auto, cpu, cuda)")
    p.add_argument("--backbone-weights", help="= --set model.backbone_weights=PATH")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config entry, e.g. --set optim.lr=1e-3 (repeatable)")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace, resume: dict | None) -> dict:
    """The run's config: defaults <- the checkpoint's (resuming without --config) <- file <- flags, --set."""
    overrides = list(args.set)
    for flag, key in FLAG_KEYS:
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
    return list(zip(args.train_images, args.train_annotations, strict=True)), val


def make_datasets(paths: list[tuple], cfg: dict, net: nn.Module) -> list[PoseDataset]:
    """One PoseDataset per training set, with the targets and input format ``net`` needs."""
    dcfg = cfg["data"]
    return [PoseDataset(*p, skeleton=net.skeleton, input_size=dcfg["input_size"], stride=dcfg["stride"],
                        sigma=dcfg["sigma"], paf_width=dcfg["paf_width"],
                        augment=AugmentConfig.from_dict(cfg["augment"]), seed=int(cfg["train"]["seed"]),
                        max_images=dcfg["max_train_images"], input_format=net.input_format,
                        unlabelled_margin=dcfg["unlabelled_margin"])
            for p in paths]


def make_loader(dataset: Dataset, cfg: dict, info: DistInfo) -> DataLoader:
    # DistributedSampler also for one process: its shuffle depends only on (seed, epoch), which a
    # resumed run reproduces.
    sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                 seed=int(cfg["train"]["seed"]))
    batch = int(cfg["data"]["batch_size"])
    return DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=int(cfg["data"]["workers"]),
                      pin_memory=info.device.type == "cuda", worker_init_fn=worker_init,
                      drop_last=len(sampler) >= batch)  # a batch of one would upset BatchNorm


def prepare_process(cfg: dict, info: DistInfo, out: Path) -> None:
    """Run folder and config.yaml (rank 0), seeds, cuDNN mode, OpenCV threads."""
    tcfg = cfg["train"]
    # DataLoader workers are forked anew every epoch. Once OpenCV's thread pool has run in this
    # process (the TensorBoard map images), a forked worker deadlocks in its first cv2 call; one
    # OpenCV thread here means no pool to inherit.
    cv2.setNumThreads(1)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "config.yaml", "w", encoding="utf-8") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
    seed_everything(int(tcfg["seed"]))
    if info.device.type == "cuda":
        torch.backends.cudnn.benchmark = not tcfg["deterministic"]
        torch.backends.cudnn.deterministic = bool(tcfg["deterministic"])


def prepare_network(cfg: dict, resume: dict | None, info: DistInfo) -> tuple[nn.Module, int]:
    """The network on its device, and for how many epochs its backbone stays frozen."""
    net, pretrained = build_network(cfg, resume)
    freeze_epochs = int(cfg["train"]["freeze_backbone_epochs"])
    if freeze_epochs > 0 and not pretrained:
        log.info("backbone is not pretrained: skipping the %d frozen-backbone epochs", freeze_epochs)
        freeze_epochs = 0
    if cfg["train"]["sync_bn"] and info.enabled and info.device.type == "cuda":
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    return net.to(info.device), freeze_epochs


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run a training; returns the last epoch's metrics (for tests and scripts)."""
    args = parse_args(argv)
    try:
        resume = load_resume(args.resume) if args.resume else None
    except ValueError as err:
        raise SystemExit(str(err)) from None
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
    """Set everything up from ``cfg`` and train from the resumed epoch (or the first) to ``train.epochs``."""
    prepare_process(cfg, info, out)
    net, freeze_epochs = prepare_network(cfg, resume, info)
    train_paths, val_paths = data_paths(args, cfg)
    parts = make_datasets(train_paths, cfg, net)
    dataset = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    loader = make_loader(dataset, cfg, info)
    val_coco = load_coco(val_paths[1]) if val_paths is not None and info.is_main else None
    epochs, every = int(cfg["train"]["epochs"]), max(1, int(cfg["eval"]["every"]))
    optimizer = make_optimizer(net, cfg["optim"])
    scheduler = make_scheduler(optimizer, cfg["optim"], epochs, len(loader))
    scaler = torch.amp.GradScaler(info.device.type, enabled=bool(cfg["train"]["amp"]) and info.device.type == "cuda")
    progress = Progress(0, 0, -1.0, [])
    if resume is not None:
        progress = restore(resume, optimizer, scheduler, scaler)
        log.info("resumed from %s at epoch %d (step %d)", args.resume, progress.epoch, progress.step)
    log.info("%s %s on %s x%d, %d training images, %d iterations/epoch, %d epochs",
             net.model_type, net.model_kwargs, info.device, info.world_size, len(dataset), len(loader), epochs)
    writer = open_writer(out, bool(cfg["train"]["tensorboard"])) if info.is_main else None

    model, frozen, metrics = None, None, {}
    last = epochs if args.stop_after is None else min(epochs, args.stop_after)
    for epoch in range(progress.epoch, last):
        if frozen != (epoch < freeze_epochs):
            frozen = epoch < freeze_epochs
            set_backbone_trainable(net, not frozen)
            model = wrap(net, info)  # DDP must see the new set of trainable parameters
            log.info("epoch %d: backbone %s", epoch + 1, "frozen" if frozen else "trainable")
        loader.sampler.set_epoch(epoch)
        for part in parts:
            part.set_epoch(epoch)
        metrics, step = train_one_epoch(model, net, loader, optimizer, scheduler, scaler, cfg, info,
                                        epoch, progress.step, writer)
        metrics["epoch"] = epoch + 1
        if val_paths is not None and ((epoch + 1) % every == 0 or epoch + 1 == epochs):
            metrics.update(evaluate_epoch(net, val_paths[0], val_coco, cfg, info))
        progress = Progress(epoch + 1, step, progress.best_ap, [*progress.history, metrics])
        if info.is_main:
            log_epoch(metrics, epoch + 1, writer)
            best_ap = save_epoch(out, net, cfg, metrics, progress, optimizer, scheduler, scaler)
            progress = progress._replace(best_ap=best_ap)
        barrier(info)
    if writer is not None:
        writer.close()
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
