"""``limbs.score_limbs``'s loop compiled with numba (imported by ``limbs`` only when numba is installed:
``pip install 'ros2_openpose[fast]'``); ``limbs.py``'s numpy passes are the reference it must equal
(test_decode).

Why a compiled loop: numpy scores every candidate pair with whole-array operations, so a wrong pair
costs as much as a true one, and the pairs grow with the square of the people.  Here each pair stops
sampling at the first failure the fraction test cannot tolerate, so a wrong pair costs a few samples:
5-12x less time for limb scoring at 5-60 people, and the decode's time grows about linearly with the
crowd (docs/decoding.md, "Speed").  It runs on the calling thread (no thread pool: ``nogil``, no
``parallel``), as the numpy path does.  Compiled once per machine (~1 s, cached on disk by numba);
``warm()`` does it before the first frame.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _score(field, xy, valid, ends, threshold, min_fraction, match_threshold, longest, stride, lo, hi, out):
    """Entry [n, i, j] of ``out``: the score of peak i of limb n's part A with peak j of its part B.

    ``field`` (L, h+1, w+1, 2) float32: the limbs' PAFs padded by a copy of the last row and column
    (``limbs.Field``); ``xy`` (K, P, 2) peaks in input pixels, ``valid`` (K, P); ``ends`` (L, 2).
    Samples per pair: ceil(length in cells) within [lo, hi].  The same criteria as ``limbs``.
    """
    h, w = field.shape[1] - 1, field.shape[2] - 1
    half = (stride - 1.0) / 2.0
    for n in range(ends.shape[0]):
        a, b = ends[n, 0], ends[n, 1]
        for i in range(xy.shape[1]):
            if not valid[a, i]:
                continue
            ax, ay = (xy[a, i, 0] - half) / stride, (xy[a, i, 1] - half) / stride
            for j in range(xy.shape[1]):
                if not valid[b, j]:
                    continue
                dx = (xy[b, j, 0] - half) / stride - ax
                dy = (xy[b, j, 1] - half) / stride - ay
                length = np.sqrt(dx * dx + dy * dy) * stride
                if length <= 1e-6:
                    continue
                samples = int(min(max(np.ceil(length / stride), lo), hi))
                allowed = samples - int(np.ceil(samples * min_fraction - 1e-6))
                ux, uy = dx * stride / length, dy * stride / length
                fails, total = 0, 0.0
                mid = (samples - 1) // 2
                for m in range(samples):
                    # Middle first, then outwards: a wrong pair leaves the PAF far from both peaks,
                    # so it fails there first (near its ends it often lies on a true limb of A or B).
                    k = mid + (m + 1) // 2 if m % 2 else mid - m // 2
                    t = k / (samples - 1)
                    x = min(max(ax + t * dx, 0.0), w - 1.0)
                    y = min(max(ay + t * dy, 0.0), h - 1.0)
                    x0, y0 = int(x), int(y)
                    fx, fy = x - x0, y - y0
                    d00 = field[n, y0, x0, 0] * ux + field[n, y0, x0, 1] * uy
                    d01 = field[n, y0, x0 + 1, 0] * ux + field[n, y0, x0 + 1, 1] * uy
                    d10 = field[n, y0 + 1, x0, 0] * ux + field[n, y0 + 1, x0, 1] * uy
                    d11 = field[n, y0 + 1, x0 + 1, 0] * ux + field[n, y0 + 1, x0 + 1, 1] * uy
                    top = d00 + (d01 - d00) * fx
                    dot = top + (d10 + (d11 - d10) * fx - top) * fy
                    total += dot
                    if not dot > threshold:
                        fails += 1
                        if fails > allowed:
                            break
                if fails > allowed:
                    continue
                value = total / samples + min(longest / length - 1.0, 0.0)
                if value > 0 and value >= match_threshold:
                    out[n, i, j] = value


def score_limbs(field: np.ndarray, xy: np.ndarray, valid: np.ndarray, ends: np.ndarray, threshold: float,
                min_fraction: float, match_threshold: float, longest: float, stride: float, lo: int,
                hi: int) -> np.ndarray:
    """``(L, P, P)`` scores (see ``limbs.score_limbs``); ``longest`` = max_limb_length x map height, px."""
    out = np.zeros((len(ends), xy.shape[1], xy.shape[1]), np.float32)
    _score(field, np.ascontiguousarray(xy, np.float32), np.ascontiguousarray(valid, bool), ends, float(threshold),
           float(min_fraction), float(match_threshold), float(longest), float(stride), int(lo), int(hi), out)
    return out


def warm() -> None:
    """Compile (or load from numba's cache) the kernel now, not on the first frame with people."""
    score_limbs(np.zeros((1, 2, 2, 2), np.float32), np.zeros((2, 1, 2), np.float32), np.ones((2, 1), bool),
                np.array([[0, 1]], np.int64), 0.1, 0.8, 0.1, 100.0, 8.0, 10, 24)
