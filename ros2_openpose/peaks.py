"""Heatmaps -> peaks: 3x3 NMS, every peak kept (up to a cap that warns), sub-cell refinement.

numpy on the host, vectorised over all parts and images at once: numpy's element-wise operations
run on the calling thread, so the decode neither pays torch's per-operation overhead (~5-10 us a
call, most of the decode's time on small maps) nor waits for torch's intra-op thread pool, which
collapses when other processes load the cores (docs/decoding.md, "Speed").

Refinement fits a parabola to the log of the three values across the peak in x and in y: a
Gaussian's log is a parabola, so on a Gaussian heatmap this recovers the centre exactly from the
coarse grid, which is both faster and more precise than upsampling the maps first (docs/decoding.md
has the numbers).

The same fit gives each peak's width.  A frame whose peaks are clearly wider than the Gaussian the
decode expects (``peak_sigma``: CMU's 7 px at stride 8) has been blurred on its way (a smooth
network, a defocused camera), and its neighbouring people's peaks run into one another: NMS then
runs on the heatmaps sharpened by the excess width, ``m - (w^2 - sigma^2) * laplacian(m)``; the
threshold, scores and sub-cell offsets still come from the maps as they are (docs/decoding.md,
"Blurred heatmaps").  A frame whose wide peaks are a blur's comes with its deconvolved heatmaps
(``unblur.py``): NMS and the sub-cell offsets run on those instead, threshold and scores as before.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
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


@dataclass
class Maxima:
    """A batch of ``images``' local maxima ``(b, k, row, col)`` above the threshold and their widths
    (cells; NaN where the fit has none): found once per frame, read by the unblur and peak steps alike."""

    index: tuple[np.ndarray, ...]
    widths: np.ndarray
    images: int

    @functools.cached_property
    def frame_widths(self) -> list[np.ndarray]:
        """Per image, the defined widths of its peaks, sorted."""
        finite = np.isfinite(self.widths)
        return [np.sort(self.widths[finite & (self.index[0] == image)]) for image in range(self.images)]


def maxima(maps: np.ndarray, threshold: float) -> Maxima:
    """The local maxima of ``(B, K, h, w)`` maps above ``threshold``, with their widths."""
    index = local_maxima(maps, threshold)
    return Maxima(index, peak_widths(maps, index), maps.shape[0])


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


def _stencil_logs(maps: np.ndarray, index: tuple[np.ndarray, ...]) -> np.ndarray:
    """``(5, N)``: the log of each peak's left, upper, right and lower neighbours and of the peak
    itself, in one gather (clamped at the border; values below LOG_FLOOR raised to it)."""
    b, k, rows, cols = index
    h, w = maps.shape[-2:]
    rows_n = np.clip(np.stack((rows, rows - 1, rows, rows + 1, rows)), 0, h - 1)
    cols_n = np.clip(np.stack((cols - 1, cols, cols + 1, cols, cols)), 0, w - 1)
    return np.log(np.maximum(maps[b, k, rows_n, cols_n], LOG_FLOOR))


def _offsets(maps: np.ndarray, index: tuple[np.ndarray, ...]) -> np.ndarray:
    """Sub-cell offsets ``(2, N)`` (dx, dy) in [-0.5, 0.5] from the log values around each peak.

    ``maps`` is ``(B, K, h, w)``, ``index`` the peaks' ``(b, k, row, col)``.  A parabola through
    log(before), log(centre), log(after) peaks at ``(before - after) / (2 * curvature)``.  On the map
    border one neighbour is missing: the fit then borrows the other axis's curvature (the Gaussian
    is round) and stands in the missing value that gives it, so a keypoint at the image edge is not
    pulled onto the first cell centre.  Both axes are fitted at once (index 0 = x, 1 = y).
    """
    _, _, rows, cols = index
    h, w = maps.shape[-2:]
    values = _stencil_logs(maps, index)
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


def peak_widths(maps: np.ndarray, index: tuple[np.ndarray, ...]) -> np.ndarray:
    """Per peak ``(b, k, row, col)``, the width (sigma, in cells) of the Gaussian whose log has the
    peak's curvature, averaged over x and y; NaN on the border or where the log is not concave."""
    _, _, rows, cols = index
    h, w = maps.shape[-2:]
    values = _stencil_logs(maps, index)
    curve = (values[:4].sum(0) - 4 * values[4]) / 2
    ok = (rows > 0) & (rows < h - 1) & (cols > 0) & (cols < w - 1) & (curve < -1e-6)
    return np.where(ok, np.sqrt(-1.0 / np.where(ok, curve, -1.0)), np.nan)


def sharpened(maps: np.ndarray, amount: float) -> np.ndarray:
    """``maps - amount * laplacian(maps)`` over the last two axes (5-point stencil, edges repeated):
    undoes about a Gaussian blur of variance ``amount / 2`` per axis, more at 1 cell's scale."""
    pad = np.pad(maps, [(0, 0)] * (maps.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    laplacian = pad[..., :-2, 1:-1] + pad[..., 2:, 1:-1] + pad[..., 1:-1, :-2] + pad[..., 1:-1, 2:] - 4 * maps
    return maps - amount * laplacian


#: A frame counts as blurred when the median width of its peaks exceeds ``peak_sigma`` by this factor
#: (the shipped model's own maps: median 0.81 cells, 8 of 331 held-out photos above; blurred maps 1.33).
BLURRED = 1.15


def _unblurred_maxima(maps: np.ndarray, found: Maxima, threshold: float, peak_sigma: float,
                      unblurred: Mapping[int, np.ndarray]) -> tuple[np.ndarray, ...]:
    """``found.index`` with the peaks of each image in ``unblurred`` found again on its deconvolved maps,
    and of each other wide image on its sharpened maps (module docstring), among the cells above
    ``threshold`` as they are."""
    index = found.index
    b = index[0]
    kept = np.ones(len(b), bool)  # the peaks of the images that are not blurred
    again: list[tuple[np.ndarray, ...]] = []
    for image, measured in enumerate(found.frame_widths):
        width = float(measured[len(measured) // 2]) if measured.size else 0.0  # the (upper) median
        if image not in unblurred and not width > BLURRED * peak_sigma:
            continue
        mine = b == image
        raw = maps[image]
        clear = unblurred[image] if image in unblurred else sharpened(raw, width ** 2 - peak_sigma ** 2)
        _, k, rows, cols = local_maxima(np.where(raw > threshold, clear, 0.0)[None].astype(np.float32), 0.0)
        keep = raw[k, rows, cols] > threshold
        kept &= ~mine
        again.append((np.full(int(keep.sum()), image), k[keep], rows[keep], cols[keep]))
    if not again:
        return index
    return tuple(np.concatenate([old[kept], *new]) for old, *new in zip(index, *again, strict=True))


def find_peaks(heatmaps: np.ndarray, threshold: float, max_peaks: int, stride: float = 8.0,
               peak_sigma: float = 0.0, found: Maxima | None = None,
               unblurred: Mapping[int, np.ndarray] | None = None) -> Peaks:
    """Peaks of keypoint heatmaps ``(B, K, h, w)`` (no background channel) at ``stride`` px per cell.

    Every local maximum above ``threshold`` is kept, best first, up to ``max_peaks`` per part; if
    that cap leaves some out, a warning says how many (a crowd is never cut silently).  Positions
    are in input pixels with cell ``(i, j)``'s centre at ``stride*j + (stride-1)/2``; ``stride=1``
    for maps already upsampled to input resolution.  ``peak_sigma`` > 0 (in cells of these maps): an
    image whose peaks are wider is sharpened first (module docstring).  ``found``: these maps' maxima
    above ``threshold``, when the caller has them already (``maxima``).  ``unblurred``: image -> its
    ``(K, h, w)`` heatmaps deconvolved (``unblur.py``); that image's peaks are found and fitted there,
    among the cells above ``threshold`` as they are, and scored on the maps as they are.
    """
    maps = np.asarray(heatmaps, np.float32)
    nb, nk = maps.shape[:2]
    if found is None:
        found = maxima(maps, threshold)
    unblurred = unblurred or {}
    b, k, rows, cols = found.index
    if peak_sigma > 0 and len(b):
        b, k, rows, cols = _unblurred_maxima(maps, found, threshold, peak_sigma, unblurred)
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
    fit = maps
    if unblurred:  # sub-cell offsets where the peaks were found
        fit = maps.copy()
        for image, clear in unblurred.items():
            fit[image] = clear
    offsets = _offsets(fit, (b, k, rows, cols))
    half = (stride - 1) / 2.0
    xy = np.zeros((nb, nk, top, 2), np.float32)
    scores = np.zeros((nb, nk, top), np.float32)
    valid = np.zeros((nb, nk, top), bool)
    xy[b, k, rank] = (np.stack((cols, rows), axis=-1) + offsets.T) * stride + half
    scores[b, k, rank] = score
    valid[b, k, rank] = True
    return Peaks(xy=xy, score=scores, valid=valid, dropped=dropped)
