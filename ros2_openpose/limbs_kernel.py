"""``limbs.score_limbs``'s loop compiled with numba (imported by ``limbs`` only when numba is installed:
``pip install 'ros2_openpose[fast]'``); ``limbs.py``'s numpy passes are the reference it must equal
(test_decode).

Why a compiled loop: numpy scores every candidate pair with whole-array operations, so a wrong pair
costs as much as a true one, and the pairs grow with the square of the people.  Here each pair stops
sampling at the first failure the fraction test cannot tolerate, so a wrong pair costs a few samples:
5-12x less time for limb scoring at 5-60 people (docs/decoding.md, "Speed").  It runs on the calling
thread (no thread pool: ``nogil``, no ``parallel``), as the numpy path does.  Compiled once per
machine (~1 s, cached on disk by numba); ``warm()`` does it before the first frame.
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: LLVM may replace x / y by x * (1 / y) and contract a * b + c into one fused operation, and with
#: the unsigned offsets below that is 25-30% less time in a crowd, the same scores (docs/decoding.md,
#: "Speed").  Not allowed: reordering sums (the mean stays the numpy passes' sum, in the same order)
#: and assuming no NaN or infinity (a NaN sample must still fail the ``dot > threshold`` test).
FAST = {"nsz", "arcp", "contract"}


@njit(cache=True, nogil=True, fastmath=FAST)
def _score(field, xy, valid, ends, threshold, min_fraction, match_threshold, longest, stride, lo, hi, out):
    """Entry [n, i, j] of ``out``: the score of peak i of limb n's part A with peak j of its part B.

    ``field`` (L, h+1, w+1, 2) float32: the limbs' PAFs padded by a copy of the last row and column
    (``limbs.Field``); ``xy`` (K, P, 2) peaks in input pixels, ``valid`` (K, P); ``ends`` (L, 2).
    Samples per pair: ceil(length in cells) within [lo, hi].  The same criteria as ``limbs``.
    """
    h, w = field.shape[1] - 1, field.shape[2] - 1
    right, bottom = w - 1.0, h - 1.0
    row = np.uint64(2 * (w + 1))  # floats per padded row: x, y per cell
    flat = field.reshape(-1)
    half = (stride - 1.0) / 2.0
    # Each part's valid peaks, listed once, in cells (cell (i, j) at (j, i)).
    k, p = xy.shape[0], xy.shape[1]
    count = np.zeros(k, np.int64)
    index = np.empty((k, p), np.int64)
    cell = np.empty((k, p, 2), np.float64)
    for part in range(k):
        for i in range(p):
            if valid[part, i]:
                c = count[part]
                index[part, c], count[part] = i, c + 1
                cell[part, c, 0] = (xy[part, i, 0] - half) / stride
                cell[part, c, 1] = (xy[part, i, 1] - half) / stride
    # The order samples are taken in: middle first, then outwards.  A wrong pair leaves the PAF far
    # from both peaks, so it fails there first (near its ends it often lies on a true limb of A or B).
    order = np.zeros((hi + 1, hi), np.int64)
    for samples in range(2, hi + 1):
        mid = (samples - 1) // 2
        for m in range(samples):
            order[samples, m] = mid + (m + 1) // 2 if m % 2 else mid - m // 2
    for n in range(ends.shape[0]):
        a, b = ends[n, 0], ends[n, 1]
        plane = np.uint64(n) * np.uint64(h + 1) * row
        for ci in range(count[a]):
            ax, ay = cell[a, ci, 0], cell[a, ci, 1]
            for cj in range(count[b]):
                dx, dy = cell[b, cj, 0] - ax, cell[b, cj, 1] - ay
                length = np.sqrt(dx * dx + dy * dy) * stride
                if length <= 1e-6:
                    continue
                samples = int(min(max(np.ceil(length / stride), lo), hi))
                allowed = samples - int(np.ceil(samples * min_fraction - 1e-6))
                ux, uy = dx * stride / length, dy * stride / length
                spacing = 1.0 / (samples - 1)
                fails, total = 0, 0.0
                for m in range(samples):
                    t = order[samples, m] * spacing
                    x, y = ax + t * dx, ay + t * dy
                    x = 0.0 if x < 0.0 else (right if x > right else x)  # clamped to the grid
                    y = 0.0 if y < 0.0 else (bottom if y > bottom else y)
                    # Unsigned offsets into the flat field: numba adds no negative-index checks.
                    x0, y0 = np.uint64(x), np.uint64(y)
                    fx, fy = x - x0, y - y0
                    top = plane + y0 * row + x0 * np.uint64(2)
                    low = top + row
                    d00 = flat[top] * ux + flat[top + np.uint64(1)] * uy
                    d01 = flat[top + np.uint64(2)] * ux + flat[top + np.uint64(3)] * uy
                    d10 = flat[low] * ux + flat[low + np.uint64(1)] * uy
                    d11 = flat[low + np.uint64(2)] * ux + flat[low + np.uint64(3)] * uy
                    upper = d00 + (d01 - d00) * fx
                    dot = upper + (d10 + (d11 - d10) * fx - upper) * fy
                    total += dot
                    if not dot > threshold:
                        fails += 1
                        if fails > allowed:
                            break
                if fails > allowed:
                    continue
                value = total / samples + min(longest / length - 1.0, 0.0)
                if value > 0 and value >= match_threshold:
                    out[n, index[a, ci], index[b, cj]] = value


def score_limbs(field: np.ndarray, xy: np.ndarray, valid: np.ndarray, ends: np.ndarray, threshold: float,
                min_fraction: float, match_threshold: float, longest: float, stride: float, lo: int,
                hi: int) -> np.ndarray:
    """``(L, P, P)`` scores (see ``limbs.score_limbs``); ``longest`` = max_limb_length x map height, px."""
    out = np.zeros((len(ends), xy.shape[1], xy.shape[1]), np.float32)
    _score(np.ascontiguousarray(field, np.float32), np.ascontiguousarray(xy, np.float32),
           np.ascontiguousarray(valid, bool), ends, float(threshold), float(min_fraction), float(match_threshold),
           float(longest), float(stride), int(lo), int(hi), out)
    return out


def warm() -> None:
    """Compile (or load from numba's cache) the kernel now, not on the first frame with people."""
    score_limbs(np.zeros((1, 2, 2, 2), np.float32), np.zeros((2, 1, 2), np.float32), np.ones((2, 1), bool),
                np.array([[0, 1]], np.int64), 0.1, 0.8, 0.1, 100.0, 8.0, 10, 24)
