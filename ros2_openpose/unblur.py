"""Maps -> unblurred maps: a frame whose maps were blurred on their way is deconvolved before its peaks.

A smooth network or a defocused camera blurs a frame's maps: each heatmap peak widens from the Gaussian
the decode expects (``peak_sigma``) to ``W``, drops to ``(sigma / W)^2`` of its height, and the peaks of
neighbours' same parts add up and run into one another, so no grouping finds them again.  Such a frame
says so itself: all its peaks are wider than ``peak_sigma`` (``peaks.peak_widths``; its lower quartile
is) and, unlike a network that draws wide Gaussians, no taller than a blur leaves them.  It is then
deconvolved, heatmaps and PAFs alike, by the blur its widths show (variance ``W^2 - sigma^2``): its
peaks are found and fitted on the deconvolved heatmaps, among the cells above the threshold as they
are, and scored as they are (a deconvolution separates and places peaks, it never adds or strengthens
one), and its limbs are scored on the deconvolved PAFs (docs/decoding.md, "Blurred frames are
deconvolved").

The blur is taken to be a Gaussian on the cell grid whose edge cells repeat outwards (what a blurred
image's border looks like).  Its inverse is separable: one small ``(n, n)`` matrix per axis, the
blur's least-squares inverse with a floor (Tikhonov) that keeps the gain finite where the blur left
nothing to recover; two small matrix products per map, exact at the border where a Fourier inverse
rings.
"""
from __future__ import annotations

import numpy as np

from .peaks import Maxima

#: Tikhonov floor of each axis's inverse, relative to the blur's unit gain (chosen on the benchmark
#: matrix's tune split: 3e-5 to 3e-4 decode the same within 0.005 of the ceiling; docs/decoding.md).
FLOOR = 1e-4

#: A frame is deconvolved when the lower quartile of its peaks' widths exceeds ``peak_sigma`` by this
#: factor (a blur of at least 0.83 ``peak_sigma``).  Milder excess is left to ``peaks.py``'s sharpened
#: NMS (``peaks.BLURRED``): the shipped model's widest frames reach 1.26 (held-out split, docs/decoding.md),
#: the matrix's blurred maps 1.52.
UNBLUR = 1.3

#: A blur lowers a peak of height at most 1 to ``(sigma / W)^2``: a frame whose peaks are taller than
#: that by more than this factor is no blur but a network that draws wider Gaussians, and is left to the
#: sharpened NMS.  UNBLUR^2: what unit Gaussians just wide enough to pass reach (measured: blurred
#: renderings 0.91-1.23; sigma 9 px Gaussians 1.44-1.64, sigma 10 px would be 2.04).
TALL = UNBLUR ** 2


def blur_variances(heatmaps: np.ndarray, found: Maxima, peak_sigma: float) -> np.ndarray:
    """``(B,)``: per image of ``(B, K, h, w)`` heatmaps whose maxima are ``found``, the variance
    (cells^2) of the Gaussian blur its peaks show, 0 where they show none (module docstring)."""
    variances = np.zeros(heatmaps.shape[0])
    if peak_sigma <= 0:
        return variances
    for image, widths in enumerate(found.frame_widths):
        # The lower quartile: a blur widens every peak, while neighbours that ran into one another or a
        # network's unsure peaks widen only some.
        width = float(widths[len(widths) // 4]) if widths.size else 0.0
        if not width > UNBLUR * peak_sigma:
            continue
        mine = found.index[0] == image
        heights = np.sort(heatmaps[tuple(axis[mine] for axis in found.index)])
        if heights[len(heights) // 4] > TALL * (peak_sigma / width) ** 2:
            continue
        variances[image] = width ** 2 - peak_sigma ** 2
    return variances


def unblur_matrix(n: int, variance: float, floor: float = FLOOR) -> np.ndarray:
    """``(n, n)``: the regularised least-squares inverse of a Gaussian blur of ``variance`` along an axis
    of ``n`` cells whose edge cells repeat outwards."""
    radius = int(np.ceil(4 * np.sqrt(variance)))
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-taps ** 2 / (2 * variance))
    kernel /= kernel.sum()
    # Cell i reads cell i + t of the edge-repeated axis: a band on a grid ``radius`` wider each side,
    # whose outer columns then fold onto the edge cells.
    band = np.zeros((n, n + 2 * radius))
    cells = np.arange(n)
    band[cells[:, None], cells[:, None] + radius + taps] = kernel
    blur = band[:, radius:radius + n].copy()
    blur[:, 0] += band[:, :radius].sum(1)
    blur[:, -1] += band[:, radius + n:].sum(1)
    return np.linalg.solve(blur.T @ blur + floor * np.eye(n), blur.T)


def deblurred(maps: np.ndarray, variance: float, floor: float = FLOOR) -> np.ndarray:
    """``(C, h, w)`` maps with a Gaussian blur of ``variance`` (cells^2, per axis) undone."""
    h, w = maps.shape[-2:]
    rows = unblur_matrix(h, variance, floor).astype(np.float32)
    cols = unblur_matrix(w, variance, floor).astype(np.float32)
    return np.ascontiguousarray(rows @ np.asarray(maps, np.float32) @ cols.T)


def unblurred(heatmaps: np.ndarray, pafs: np.ndarray, found: Maxima,
              peak_sigma: float) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """For ``(B, K, h, w)`` keypoint heatmaps whose maxima are ``found`` and their ``(B, 2L, h, w)``
    PAFs: each blurred image's heatmaps deconvolved (image -> ``(K, h, w)``, for ``peaks.find_peaks``),
    and the PAFs with each blurred image's deconvolved (the array itself when no image is blurred)."""
    variances = blur_variances(heatmaps, found, peak_sigma)
    clear: dict[int, np.ndarray] = {}
    if not variances.any():
        return clear, pafs
    pafs = pafs.copy()
    channels = heatmaps.shape[1]
    for image in np.flatnonzero(variances):
        both = deblurred(np.concatenate((heatmaps[image], pafs[image])), variances[image])
        clear[int(image)], pafs[image] = both[:channels], both[channels:]
    return clear, pafs
