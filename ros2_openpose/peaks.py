"""Heatmaps -> peaks: max-pool NMS, top-k per part and sub-cell refinement, all parts at once.

Everything runs on the maps' device in a handful of tensor ops; the result is a few ``(B, K, P)``
tensors that the caller moves to the host (the only data of the heatmaps that leaves the device).

Refinement fits a parabola to the log of the three values across the peak in x and in y: a
Gaussian's log is a parabola, so on a Gaussian heatmap this recovers the centre exactly from the
coarse grid (the idea of "distribution-aware" decoding, DARK, Zhang et al. 2020).  That is why the
decoder does not upsample the heatmaps by default: NMS on a bicubically upsampled map is both less
precise (interpolation does not put a narrow Gaussian's maximum back where it was) and ~100x slower
on a CPU (docs/decoding.md has the numbers).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: log() of values below this is clamped, so a neighbour that is 0 (Gaussian cut) stays finite.
LOG_FLOOR = 1e-4


@dataclass
class Peaks:
    """Peaks per image and part, best first; entries past ``valid`` are padding.

    ``xy`` is ``(B, K, P, 2)`` in input pixels, ``score`` ``(B, K, P)`` the heatmap value at the
    peak cell, ``valid`` ``(B, K, P)`` bool.  Valid entries come first in every ``(b, k)`` row.
    """

    xy: torch.Tensor
    score: torch.Tensor
    valid: torch.Tensor

    def to(self, device: torch.device | str) -> "Peaks":
        return Peaks(self.xy.to(device), self.score.to(device), self.valid.to(device))


def local_maxima(maps: torch.Tensor, threshold: float) -> torch.Tensor:
    """Bool mask of cells above ``threshold`` that are the maximum of their 3x3 neighbourhood.

    The 3x3 max pool is done as two separable 3-wide maxima of shifted views: the same result as
    ``F.max_pool2d(maps, 3, 1, 1)``, which on a CPU is ~30x slower for stride 1.  A plateau (equal
    neighbours, e.g. a keypoint exactly between two cell centres) keeps only its first cell in
    raster order: a cell must be strictly above the neighbours before it and at least equal to those
    after it.  Otherwise one keypoint would give two peaks a cell apart.
    """
    padded = F.pad(maps, (1, 1, 1, 1), value=float("-inf"))
    rows = torch.maximum(torch.maximum(padded[..., :-2], padded[..., 1:-1]), padded[..., 2:])  # (h+2, w)
    pooled = torch.maximum(torch.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])
    before = torch.maximum(rows[..., :-2, :], padded[..., 1:-1, :-2])  # the row above, and the left cell
    return (maps >= pooled) & (maps > before) & (maps > threshold)


def _offsets(maps: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Sub-cell offsets ``(2, B, K, P)`` (dx, dy) in [-0.5, 0.5] from the log values around each peak.

    ``maps`` is ``(B, K, h, w)``; ``rows``/``cols`` are ``(B, K, P)`` peak cells.  A parabola through
    log(before), log(centre), log(after) peaks at ``(before - after) / (2 * curvature)``.  On the map
    border one neighbour is missing: the fit then borrows the other axis's curvature (the Gaussian
    is round) and stands in the missing value that gives it, so a keypoint at the image edge is not
    pulled onto the first cell centre.  Both axes are fitted at once (index 0 = x, 1 = y).
    """
    b, k, h, w = maps.shape
    # The peak cell and its 4 neighbours in one gather (clamped at the border), log of those only:
    # far cheaper than the log of the whole map.
    rows_n = torch.stack((rows, rows - 1, rows, rows + 1, rows), dim=2).clamp_(0, h - 1)
    cols_n = torch.stack((cols - 1, cols, cols + 1, cols, cols), dim=2).clamp_(0, w - 1)
    index = (rows_n * w + cols_n).reshape(b, k, -1)
    values = torch.gather(maps.reshape(b, k, h * w), 2, index).clamp_min_(LOG_FLOOR).log_()
    values = values.reshape(rows_n.shape).movedim(2, 0)  # (5, B, K, P): left, up, right, down, centre
    before, after, centre = values[0:2], values[2:4], values[4]
    has_before = torch.stack((cols > 0, rows > 0))
    has_after = torch.stack((cols < w - 1, rows < h - 1))
    curve = before + after - 2 * centre
    concave = has_before & has_after & (curve < -1e-6)  # only a concave fit has a maximum
    curve = torch.where(concave, curve, curve.flip(0))
    ok = (concave | concave.flip(0)) & (has_before | has_after)
    before = torch.where(has_before, before, 2 * centre + curve - after)
    after = torch.where(has_after, after, 2 * centre + curve - before)
    step = (before - after) / torch.where(ok, 2 * curve, -torch.ones_like(curve))
    return torch.where(ok, step.clamp(-0.5, 0.5), torch.zeros_like(step))


def find_peaks(heatmaps: torch.Tensor, threshold: float, max_peaks: int, stride: float = 8.0) -> Peaks:
    """Peaks of keypoint heatmaps ``(B, K, h, w)`` (no background channel) at ``stride`` px per cell.

    Returns at most ``max_peaks`` per part, in input pixels with cell ``(i, j)``'s centre at
    ``stride*j + (stride-1)/2``; ``stride=1`` for maps already upsampled to input resolution.
    """
    maps = heatmaps.float()
    b, k, h, w = maps.shape
    top = max(1, min(int(max_peaks), h * w))
    is_peak = local_maxima(maps, threshold)
    ranked = torch.where(is_peak, maps, torch.full_like(maps, float("-inf"))).reshape(b, k, h * w)
    score, index = torch.topk(ranked, top, dim=2)  # sorted: valid peaks first
    valid = torch.isfinite(score)
    rows, cols = index // w, index % w
    offsets = _offsets(maps, rows, cols)
    half = (stride - 1) / 2.0
    xy = (torch.stack((cols, rows), dim=-1) + offsets.movedim(0, -1)) * stride + half
    return Peaks(xy=xy, score=torch.where(valid, score, torch.zeros_like(score)), valid=valid)
