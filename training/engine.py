"""What one epoch does: the multi-stage loss, the optimisation steps, validation AP and TensorBoard.

Loss: masked squared L2 on every stage's PAFs and heatmaps (intermediate supervision), at stride 8,
summed over channels and cells and divided by 2 * batch (CMU's Euclidean loss).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ros2_openpose.tensor import normalize

from .distributed import DistInfo, all_reduce_mean, broadcast_object

log = logging.getLogger("training")


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


def evaluate_epoch(net: nn.Module, images: str | Path, coco_gt: Any, cfg: dict, info: DistInfo) -> dict[str, float]:
    """Keypoint AP on the validation set, computed on rank 0 and shared with every rank."""
    metrics = None
    if info.is_main:
        from .evaluate import evaluate_network  # the decoder stack, only when validating

        ecfg = cfg["eval"]
        metrics = evaluate_network(net, images, coco_gt, device=info.device,
                                   input_size=ecfg["input_size"] or cfg["data"]["input_size"],
                                   max_images=ecfg["max_images"], fp16=ecfg["fp16"])
        net.train()
    return broadcast_object(metrics, info) or {}


# ----------------------------------------------------------------------------------- TensorBoard

def open_writer(out_dir: Path, enabled: bool) -> Any:
    """A TensorBoard SummaryWriter under ``out_dir/tensorboard``, or None (disabled or not installed)."""
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed (pip install tensorboard): training goes on without "
                    "TensorBoard logs")
        return None
    return SummaryWriter(str(out_dir / "tensorboard"))


def log_epoch(metrics: dict[str, float], epoch: int, writer: Any) -> None:
    """One line in the log and ``epoch/*`` scalars in TensorBoard (``epoch`` counts from 1)."""
    log.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch"))
    if writer is not None:
        for key, value in metrics.items():
            if key != "epoch":
                writer.add_scalar(f"epoch/{key}", value, epoch)


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
    for panel, text in zip(panels, names, strict=True):
        cv2.putText(panel, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return cv2.cvtColor(np.concatenate(panels, axis=1), cv2.COLOR_BGR2RGB)
