"""Tensor -> maps: run a network (inference mode, fp16 autocast on CUDA), average several scales.

Multi-scale: each scale's input is the same image letterboxed at a different size.  Its maps are
resampled onto the base (first) scale's grid and the scales are averaged with equal weight.  The
resampling is bilinear in the "align-free" (``align_corners=False``, half-pixel centre) convention
and uses the exact scale ratio rather than the map sizes: base cell ``j`` reads the other map at
``(j + 0.5) * r - 0.5`` where ``r`` = (that scale's input pixels per base input pixel).  Both grids
put cell centres at ``8j + 3.5`` of their own input, so this maps cell centres onto the same image
point; the different amounts of right/bottom padding at each scale do not shift anything.
Cells beyond the other map's edge take its border value (they lie in padding and are cropped later).

Flip (test-time augmentation): each scale's batch also runs mirrored, in the same forward call; the
mirrored maps are flipped back, their channels moved to the mirror parts and limbs
(``Skeleton.flip_channels``), and averaged with the direct ones.  The padded input width is a
multiple of the stride, so a mirrored cell centre lands exactly on a cell centre.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FlipChannels = tuple[np.ndarray, np.ndarray, np.ndarray]  # Skeleton.flip_channels()


def infer_maps(network: nn.Module, tensor: torch.Tensor | Sequence[torch.Tensor], fp16: bool = False,
               ratios: Sequence[Any] | None = None,
               flip: FlipChannels | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pafs (N, 2L, h, w), heatmaps (N, K+1, h, w))`` float32, on the input's device.

    ``tensor``: one (N, 3, H, W) input, or a list of them (one per scale, the first is the base).
    ``ratios[i]``: scale i's input pixels per base input pixel, a number, an ``(x, y)`` pair or an
    (N, 2) array of per-image ``(x, y)`` pairs (letterbox rounding makes them differ slightly);
    by default the ratio of the input heights.  ``fp16`` autocasts on CUDA only (CPU half is slow).
    ``flip``: the skeleton's ``flip_channels()`` to average each scale with its mirror image.
    """
    tensors = [tensor] if isinstance(tensor, torch.Tensor) else list(tensor)
    if not tensors:
        raise ValueError("infer_maps needs at least one input tensor")
    use_fp16 = fp16 and tensors[0].device.type == "cuda"
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=use_fp16):
        pafs, heatmaps = _forward(network, tensors[0], flip)
    for i, x in enumerate(tensors[1:], start=1):
        ratio = x.shape[-2] / tensors[0].shape[-2] if ratios is None else ratios[i]
        pafs, heatmaps = add_scale(network, (pafs, heatmaps), i, x, ratio, fp16, flip)
    return pafs, heatmaps


def add_scale(network: nn.Module, maps: tuple[torch.Tensor, torch.Tensor], count: int, tensor: torch.Tensor,
              ratio: Any, fp16: bool = False, flip: FlipChannels | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``maps`` (pafs, heatmaps), the mean of ``count`` scales on the base grid, with one more scale
    folded in: ``tensor``'s maps resampled onto that grid (``ratio`` as in ``infer_maps``)."""
    use_fp16 = fp16 and tensor.device.type == "cuda"
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=use_fp16):
        pafs, heatmaps = _forward(network, tensor, flip)
        grid = _base_grid(ratio, maps[0].shape, heatmaps.shape, tensor.device)
        # Out-of-place: the base maps may be the network's own output buffers.
        return ((maps[0] * count + _resample(pafs, grid)) / (count + 1),
                (maps[1] * count + _resample(heatmaps, grid)) / (count + 1))


def _forward(network: nn.Module, x: torch.Tensor, flip: FlipChannels | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's float maps of ``x``, averaged with its mirror image's (flipped back) when asked."""
    if flip is None:
        pafs, heatmaps = network(x)
        return pafs.float(), heatmaps.float()
    n = x.shape[0]
    pafs, heatmaps = network(torch.cat([x, x.flip(-1)]))
    pafs, heatmaps = pafs.float(), heatmaps.float()
    heatmap_source, paf_source, paf_sign = (torch.as_tensor(a, device=x.device) for a in flip)
    mirrored_pafs = pafs[n:, paf_source].flip(-1) * paf_sign[None, :, None, None]
    mirrored_heatmaps = heatmaps[n:, heatmap_source].flip(-1)
    return (pafs[:n] + mirrored_pafs) / 2, (heatmaps[:n] + mirrored_heatmaps) / 2


def _base_grid(ratio: Any, base_shape: torch.Size, src_shape: torch.Size, device: torch.device) -> torch.Tensor:
    """grid_sample grid (N, h_base, w_base, 2) reading a source map at the base grid's cell centres."""
    n, (h, w), (src_h, src_w) = base_shape[0], base_shape[-2:], src_shape[-2:]
    r = torch.as_tensor(ratio, dtype=torch.float32, device=device)
    r = r.expand(n, 2) if r.dim() < 2 else r.reshape(n, 2)  # (x, y) per image
    cols = torch.arange(w, dtype=torch.float32, device=device) + 0.5
    rows = torch.arange(h, dtype=torch.float32, device=device) + 0.5
    # Source cell position p = (j + 0.5) r - 0.5; grid_sample (align_corners=False) wants
    # g = (2p + 1) / size - 1 = 2 (j + 0.5) r / size - 1.
    gx = 2.0 * cols[None, None, :] * r[:, 0, None, None] / src_w - 1.0
    gy = 2.0 * rows[None, :, None] * r[:, 1, None, None] / src_h - 1.0
    return torch.stack(torch.broadcast_tensors(gx, gy), dim=-1)


def _resample(maps: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=False)
