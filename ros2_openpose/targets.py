"""Ideal maps from keypoints: Gaussian heatmaps and unit-vector PAFs on the network's cell grid.

Training renders its targets with these, and the tests use them as a "network" that returns the
maps of known people.  Both functions work on a grid of ``out_hw`` cells at ``stride`` input pixels
per cell; cell ``(i, j)`` has its centre at input pixel ``(stride*j + (stride-1)/2, stride*i +
(stride-1)/2)`` (3.5 at stride 8), the convention ``decode`` inverts (see docs/decoding.md).

Keypoints are ``(N, K, 3)`` arrays of ``x, y, v`` in input pixels; only ``v > 0`` is drawn.
Everything is vectorised over the grid; the loops run over people and limbs only.
"""
from __future__ import annotations

import math

import numpy as np

from .skeletons import Skeleton

#: Gaussians are cut (set to 0) where exp(-e) < 0.01, i.e. where the exponent exceeds ln 100.
GAUSSIAN_CUT = math.log(100.0)


def cell_centres(n: int, stride: int) -> np.ndarray:
    """Input-pixel coordinate of the centres of ``n`` cells along one axis."""
    return np.arange(n, dtype=np.float32) * stride + (stride - 1) / 2.0


def _as_keypoints(keypoints: np.ndarray, num_keypoints: int | None = None) -> np.ndarray:
    kps = np.asarray(keypoints, dtype=np.float32)
    if kps.ndim == 2:  # one person
        kps = kps[None]
    if kps.ndim != 3 or kps.shape[-1] != 3:
        raise ValueError(f"keypoints must be (N, K, 3) x, y, v; got shape {kps.shape}")
    if num_keypoints is not None and kps.shape[0] and kps.shape[1] != num_keypoints:
        raise ValueError(f"keypoints have {kps.shape[1]} keypoints, the skeleton {num_keypoints}")
    return kps


def render_heatmaps(keypoints: np.ndarray, out_hw: tuple[int, int], stride: int = 8,
                    sigma: float = 7.0, num_keypoints: int | None = None) -> np.ndarray:
    """``(K+1, h, w)`` float32: one Gaussian (peak 1, ``sigma`` in input pixels) per labelled keypoint.

    People are merged by maximum (an average would lower the peak where two people's parts meet and
    move it between them).  Values below 0.01 are cut to 0.  The last channel is the background,
    ``max(0, 1 - max over keypoint channels)``.  ``num_keypoints`` sets K when there are no people.
    """
    kps = _as_keypoints(keypoints, num_keypoints)
    k = kps.shape[1] if num_keypoints is None else int(num_keypoints)
    h, w = int(out_hw[0]), int(out_hw[1])
    heat = np.zeros((k + 1, h, w), dtype=np.float32)
    ys, xs = cell_centres(h, stride), cell_centres(w, stride)
    two_var = 2.0 * float(sigma) ** 2
    for person in kps:
        on = person[:, 2] > 0
        if not on.any():
            continue
        pts = person[on, :2]
        # Separable exponent: (x - cx)^2 + (y - cy)^2 over the whole grid for every keypoint at once.
        ex = (xs[None, :] - pts[:, :1]) ** 2 / two_var   # (k_on, w)
        ey = (ys[None, :] - pts[:, 1:2]) ** 2 / two_var  # (k_on, h)
        e = ey[:, :, None] + ex[:, None, :]
        g = np.where(e <= GAUSSIAN_CUT, np.exp(-e), 0.0).astype(np.float32)
        idx = np.flatnonzero(on)
        heat[idx] = np.maximum(heat[idx], g)
    heat[k] = np.maximum(0.0, 1.0 - heat[:k].max(axis=0)) if k else 1.0
    return heat


def render_pafs(keypoints: np.ndarray, skeleton: Skeleton, out_hw: tuple[int, int], stride: int = 8,
                limb_width: float = 1.0, overhang: float | None = None) -> np.ndarray:
    """``(2L, h, w)`` float32: the unit vector A->B of each limb at the cells near it, 0 elsewhere.

    A cell belongs to a limb when its centre, in cell units, lies at most ``limb_width`` across the
    segment and at most ``overhang`` beyond either end along it (a rectangle around the segment).
    ``overhang=None`` extends the rectangle by ``limb_width`` (the training targets: a short limb
    still gets an area); ``overhang=0`` is the paper's definition (Cao et al. eq. 8-9: only cells
    between the two ends), which the decode benchmark uses to check that decoding does not depend
    on this renderer's choice.
    Both ends need ``v > 0``; zero-length limbs have no direction and are skipped.  Where the same
    limb of several people covers a cell the vectors are averaged by count (as in the paper), so a
    crossing of two people shows their mean direction.  Channels follow ``skeleton.paf_channels``.
    """
    kps = _as_keypoints(keypoints, skeleton.num_keypoints)
    h, w = int(out_hw[0]), int(out_hw[1])
    pafs = np.zeros((skeleton.num_pafs, h, w), dtype=np.float32)
    if kps.shape[0] == 0 or h == 0 or w == 0:
        return pafs
    half = (stride - 1) / 2.0
    cells = (kps[..., :2] - half) / stride  # keypoints in cell units: cell (i, j) centre is (j, i)
    width = float(limb_width)
    beyond = width if overhang is None else float(overhang)
    for k, (a, b) in enumerate(skeleton.limbs):
        both = (kps[:, a, 2] > 0) & (kps[:, b, 2] > 0)
        if not both.any():
            continue
        sum_x = np.zeros((h, w), np.float32)
        sum_y = np.zeros((h, w), np.float32)
        count = np.zeros((h, w), np.float32)
        for pa, pb in zip(cells[both, a], cells[both, b], strict=True):
            d = pb - pa
            length = float(np.hypot(d[0], d[1]))
            if length < 1e-6:
                continue
            ux, uy = d / length
            # Only the cells of the limb's bounding box (grown by the width) can be inside.
            reach = max(width, beyond)
            lo = np.floor(np.minimum(pa, pb) - reach).astype(int)
            hi = np.ceil(np.maximum(pa, pb) + reach).astype(int)
            j0, i0 = max(lo[0], 0), max(lo[1], 0)
            j1, i1 = min(hi[0], w - 1), min(hi[1], h - 1)
            if j0 > j1 or i0 > i1:
                continue
            rx = np.arange(j0, j1 + 1, dtype=np.float32)[None, :] - pa[0]
            ry = np.arange(i0, i1 + 1, dtype=np.float32)[:, None] - pa[1]
            along = rx * ux + ry * uy
            across = np.abs(rx * uy - ry * ux)
            on = (along >= -beyond) & (along <= length + beyond) & (across <= width)
            sum_x[i0:i1 + 1, j0:j1 + 1] += on * ux
            sum_y[i0:i1 + 1, j0:j1 + 1] += on * uy
            count[i0:i1 + 1, j0:j1 + 1] += on
        cx, cy = skeleton.paf_channels[k]
        covered = count > 0
        pafs[cx][covered] = sum_x[covered] / count[covered]
        pafs[cy][covered] = sum_y[covered] / count[covered]
    return pafs
