"""Heatmaps -> peaks: 3x3 NMS, every peak kept (up to a cap that warns), sub-cell refinement.

numpy on the host, vectorised over all parts and images at once: numpy's element-wise operations
run on the calling thread, so the decode neither pays torch's per-operation overhead (~5-10 us a
call, most of the decode's time on small maps) nor waits for torch's intra-op thread pool, which
collapses when other processes load the cores (docs/decoding.md, "Speed").

Refinement fits a parabola to the log of the three values across the peak in x and in y: a
Gaussian's log is a parabola, so on a Gaussian heatmap this recovers the centre exactly from the
coarse grid, which is both faster and more precise than upsampling the maps first (docs/decoding.md
has the numbers).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

#: log() of values below this is clamped, so a neighbour that is 0 (Gaussian cut) stays finite.
LOG_FLOOR = 1e-4


@dataclass
class Peaks:
    """Peaks per image and part, best first; entries past ``valid`` are padding.

    ``xy`` is ``(B, K, P, 2)`` in input pixels, ``score`` ``(B, K, P)`` the heatmap value at the
    peak cell, ``valid`` ``(B, K, P)`` bool.  Valid entries come first in every ``(b, k)`` row.
    ``dropped`` counts the local maxima left out by the ``max_peaks`` cap (0: every one was kept).
    """

    xy: np.ndarray
    score: np.ndarray
    valid: np.ndarray
    dropped: int = 0

    @property
    def counts(self) -> np.ndarray:
        """(B, K): valid peaks per image and part."""
        return self.valid.sum(-1)


#: Neighbours a peak must beat strictly (before it in raster order) and at least equal (after it).
BEFORE = ((-1, -1), (-1, 0), (-1, 1), (0, -1))
AFTER = ((0, 1), (1, -1), (1, 0), (1, 1))


def local_maxima(maps: np.ndarray, threshold: float) -> tuple[np.ndarray, ...]:
    """Indices ``(b, k, row, col)`` of the cells above ``threshold`` that are the maximum of their 3x3
    neighbourhood (cells outside the map do not count).

    Only the cells above the threshold are compared with their 8 neighbours (a few hundred on a
    frame, against the ~50k cells of a 368-px frame's maps, so this costs ~1/5 of a whole-map 3x3 max).
    A plateau (equal neighbours, e.g. a keypoint exactly between two cell centres) keeps only its
    first cell in raster order: a cell must be strictly above the neighbours before it and at least
    equal to those after it.  Otherwise one keypoint would give two peaks a cell apart.
    """
    nk, h, w = maps.shape[-3:]
    flat = maps.reshape(-1)
    index = np.flatnonzero(flat > threshold)  # flat index: one gather per neighbour below
    value = flat[index]
    cols = index % w
    rows = (index // w) % h
    keep = np.ones(value.shape, bool)
    for offsets, strict in ((BEFORE, True), (AFTER, False)):
        for di, dj in offsets:
            r, c = rows + di, cols + dj
            inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            other = flat[np.where(inside, index + (di * w + dj), index)]
            keep &= ~inside | ((value > other) if strict else (value >= other))
    index, rows, cols = index[keep], rows[keep], cols[keep]
    plane = index // (h * w)
    b, k = plane // nk, plane % nk
    return b, k, rows, cols


def _offsets(maps: np.ndarray, index: tuple[np.ndarray, ...]) -> np.ndarray:
    """Sub-cell offsets ``(2, N)`` (dx, dy) in [-0.5, 0.5] from the log values around each peak.

    ``maps`` is ``(B, K, h, w)``, ``index`` the peaks' ``(b, k, row, col)``.  A parabola through
    log(before), log(centre), log(after) peaks at ``(before - after) / (2 * curvature)``.  On the map
    border one neighbour is missing: the fit then borrows the other axis's curvature (the Gaussian
    is round) and stands in the missing value that gives it, so a keypoint at the image edge is not
    pulled onto the first cell centre.  Both axes are fitted at once (index 0 = x, 1 = y).
    """
    b, k, rows, cols = index
    h, w = maps.shape[-2:]
    # The peak cell and its 4 neighbours in one gather (clamped at the border), log of those only.
    rows_n = np.clip(np.stack((rows, rows - 1, rows, rows + 1, rows)), 0, h - 1)
    cols_n = np.clip(np.stack((cols - 1, cols, cols + 1, cols, cols)), 0, w - 1)
    values = np.log(np.maximum(maps[b, k, rows_n, cols_n], LOG_FLOOR))  # (5, N): left, up, right, down, centre
    before, after, centre = values[0:2], values[2:4], values[4]
    has_before = np.stack((cols > 0, rows > 0))
    has_after = np.stack((cols < w - 1, rows < h - 1))
    curve = before + after - 2 * centre
    concave = has_before & has_after & (curve < -1e-6)  # only a concave fit has a maximum
    curve = np.where(concave, curve, curve[::-1])
    ok = (concave | concave[::-1]) & (has_before | has_after)
    before = np.where(has_before, before, 2 * centre + curve - after)
    after = np.where(has_after, after, 2 * centre + curve - before)
    step = (before - after) / np.where(ok, 2 * curve, -1.0)
    return np.where(ok, np.clip(step, -0.5, 0.5), 0.0)


def find_peaks(heatmaps: np.ndarray, threshold: float, max_peaks: int, stride: float = 8.0) -> Peaks:
    """Peaks of keypoint heatmaps ``(B, K, h, w)`` (no background channel) at ``stride`` px per cell.

    Every local maximum above ``threshold`` is kept, best first, up to ``max_peaks`` per part; if
    that cap leaves some out, a warning says how many (a crowd is never cut silently).  Positions
    are in input pixels with cell ``(i, j)``'s centre at ``stride*j + (stride-1)/2``; ``stride=1``
    for maps already upsampled to input resolution.
    """
    maps = np.asarray(heatmaps, np.float32)
    nb, nk = maps.shape[:2]
    b, k, rows, cols = local_maxima(maps, threshold)
    score = maps[b, k, rows, cols]
    order = np.lexsort((-score, k, b))  # per (image, part) row, best first
    b, k, rows, cols, score = b[order], k[order], rows[order], cols[order], score[order]
    row = b * nk + k
    counts = np.bincount(row, minlength=nb * nk)
    rank = np.arange(len(row)) - (np.cumsum(counts) - counts)[row]
    top = int(min(counts.max(initial=0), max_peaks))
    keep = rank < top
    dropped = int((~keep).sum())
    if dropped:
        warnings.warn(f"max_peaks={max_peaks} left out {dropped} heatmap peaks (raise max_peaks to keep "
                      "every person of a crowd this size)", RuntimeWarning, stacklevel=2)
    b, k, rows, cols, score, rank = b[keep], k[keep], rows[keep], cols[keep], score[keep], rank[keep]
    offsets = _offsets(maps, (b, k, rows, cols))
    half = (stride - 1) / 2.0
    xy = np.zeros((nb, nk, top, 2), np.float32)
    scores = np.zeros((nb, nk, top), np.float32)
    valid = np.zeros((nb, nk, top), bool)
    xy[b, k, rank] = (np.stack((cols, rows), axis=-1) + offsets.T) * stride + half
    scores[b, k, rank] = score
    valid[b, k, rank] = True
    return Peaks(xy=xy, score=scores, valid=valid, dropped=dropped)
