"""Peaks -> limb candidates: the PAF score of candidate pairs of peaks (``matching.py`` matches them).

A candidate is a pair (peak of part A, peak of part B) of a limb A->B.  Its score is the line
integral of the limb's PAF along the segment: the mean over sample points of ``dot(PAF(p), u)``
with ``u`` the unit vector A->B.  The dot product makes it direction-aware: a PAF pointing B->A
gives negative samples and never connects.  A candidate is kept when

* at least ``paf_min_fraction`` of its samples exceed ``paf_threshold`` (a real limb is supported
  all along, not only where it crosses another person's limb),
* ``mean + min(0, max_limb_length * H / length - 1) >= match_threshold`` (and > 0): the second
  term penalises segments longer than a plausible limb, ``H`` is the map height in input pixels.

The PAFs are sampled bilinearly straight from the network's coarse grid (cell centres at
``stride*j + (stride-1)/2``), which equals sampling the bilinearly upsampled map without computing
it.  The pairs of all limbs are scored at once: by numpy passes vectorised over pairs and samples,
or, when numba is installed, by ``limbs_kernel``'s compiled loop (same scores; docs/decoding.md).
"""
from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import numpy as np

from .config import DecodeConfig
from .skeletons import Skeleton

#: Samples per candidate segment: one per map cell of length (the PAF between cell centres is the
#: bilinear blend of its neighbours, so denser samples add little), at least 10 (the original's
#: count) so the fraction test stays meaningful on short limbs, at most 24.
MIN_SAMPLES = 10
MAX_SAMPLES = 24
#: "numba": the compiled loop of ``limbs_kernel`` (when numba is installed), else "numpy": the passes
#: below.  Both give the same scores (test_decode); benchmarks set this to compare them.
KERNEL = "numba" if importlib.util.find_spec("numba") is not None else "numpy"
#: Pass 1 takes this many samples more than the fraction test tolerates to fail, so a wrong pair
#: that crosses a little PAF near one end is still dropped there (measured: 2 is the fastest).
EXTRA_PROBES = 2
#: Below this many candidate pairs one full pass is cheaper than two (per-operation overhead wins;
#: measured: about 8 people, 1,000-1,500 pairs).
PRUNE_FROM_PAIRS = 1500
#: Candidate pairs scored at once (bounds the sample arrays to a few tens of MB).
PAIRS_PER_BLOCK = 1 << 16
#: Direction bins of the first pass's can-pass masks (``_possible``).
DIRECTIONS = 16


class Field:
    """The used limbs' PAFs as one complex map per limb, ``x + i*y``, padded by a copy of the last row
    and column: one gather reads both components of a cell, and a bilinear block's right and lower
    corners always exist (at the border they repeat it, as an upsampled map's edge would)."""

    def __init__(self, pafs: np.ndarray, skeleton: Skeleton, limb_ids: Sequence[int]) -> None:
        channels = np.array([skeleton.paf_channels[i] for i in limb_ids], np.int64).reshape(-1, 2).T
        n, self.h, self.w = len(limb_ids), pafs.shape[-2], pafs.shape[-1]
        field = np.empty((n, self.h + 1, self.w + 1), np.complex64)
        field.real[:, :self.h, :self.w] = pafs[channels[0]]
        field.imag[:, :self.h, :self.w] = pafs[channels[1]]
        field[:, self.h] = field[:, self.h - 1]
        field[:, :, self.w] = field[:, :, self.w - 1]
        self.flat = field.reshape(-1)
        self.xy = field.view(np.float32).reshape((*field.shape, 2))  # (L, h+1, w+1, 2): x, y per cell
        self.row = self.w + 1
        self.plane = (self.h + 1) * self.row

    def dots(self, pairs: Pairs, t: np.ndarray) -> np.ndarray:
        """``dot(PAF(start + t*step), unit)`` ``(M, S)`` for pairs ``(M,)`` and fractions ``t`` ``(M, S)``,
        the PAF sampled bilinearly from the coarse grid.  Points outside the grid take the border
        cells' values (as an upsampled map's edge would)."""
        x = np.clip(pairs.x[:, None] + t * pairs.dx[:, None], 0, self.w - 1)
        y = np.clip(pairs.y[:, None] + t * pairs.dy[:, None], 0, self.h - 1)
        x0, y0 = x.astype(np.int32), y.astype(np.int32)  # floor: both are >= 0
        fx, fy = x - x0, y - y0
        base = pairs.limb[:, None] * self.plane + y0 * self.row + x0
        f = self.flat
        top = f[base]
        top += (f[base + 1] - top) * fx
        bottom = f[base + self.row]
        bottom += (f[base + self.row + 1] - bottom) * fx
        top += (bottom - top) * fy
        return top.real * pairs.ux[:, None] + top.imag * pairs.uy[:, None]


class Pairs:
    """Candidate pairs ``(limb, ia, ib)`` and their segments in cell units (cell (i, j) at (j, i))."""

    def __init__(self, limb: np.ndarray, ia: np.ndarray, ib: np.ndarray, xy: np.ndarray, ends: np.ndarray,
                 stride: float) -> None:
        self.limb, self.ia, self.ib = limb.astype(np.int32), ia, ib
        a = xy[ends[limb, 0], ia]  # (M, 2) input pixels
        d = (xy[ends[limb, 1], ib] - a) / stride
        a = (a - (stride - 1) / 2.0) / stride
        self.x, self.y = a[:, 0].copy(), a[:, 1].copy()
        self.dx, self.dy = d[:, 0].copy(), d[:, 1].copy()
        self.length = np.hypot(self.dx, self.dy) * stride  # input pixels
        inverse = stride / np.maximum(self.length, 1e-6)
        self.ux, self.uy = self.dx * inverse, self.dy * inverse
        # Samples: one per cell of length, within [MIN_SAMPLES, MAX_SAMPLES].
        self.n = np.clip(np.ceil(self.length / stride), MIN_SAMPLES, MAX_SAMPLES)

    def take(self, keep: np.ndarray) -> Pairs:
        """The pairs ``keep`` indexes."""
        out = object.__new__(Pairs)
        for name, value in vars(self).items():
            setattr(out, name, value[keep])
        return out


def score_limbs(pafs: np.ndarray, xy: np.ndarray, valid: np.ndarray, skeleton: Skeleton,
                limb_ids: Sequence[int], config: DecodeConfig, stride: float = 8.0) -> np.ndarray:
    """Scores ``(len(limb_ids), P, P)`` of every candidate pair; 0 where a pair is rejected.

    ``pafs`` is ``(2L, h, w)`` float32, ``xy`` ``(K, P, 2)`` peak positions in input pixels and
    ``valid`` ``(K, P)``.  Entry ``[n, i, j]`` scores peak ``i`` of limb ``limb_ids[n]``'s part A
    with peak ``j`` of its part B.  ``KERNEL`` says which implementation runs.
    """
    n_limbs, p = len(limb_ids), xy.shape[1]
    if n_limbs == 0 or p == 0 or pafs.shape[-1] == 0 or pafs.shape[-2] == 0:
        return np.zeros((n_limbs, p, p), np.float32)
    pafs = np.asarray(pafs, np.float32)
    ends = skeleton.limb_ends(limb_ids)
    field = Field(pafs, skeleton, limb_ids)
    height = pafs.shape[-2] * stride
    if KERNEL == "numba":
        from . import limbs_kernel

        return limbs_kernel.score_limbs(field.xy, xy, valid, ends, config.paf_threshold, config.paf_min_fraction,
                                        config.match_threshold, config.max_limb_length * height, stride,
                                        MIN_SAMPLES, MAX_SAMPLES)
    scores = np.zeros((n_limbs, p, p), np.float32)
    limb, ia, ib = np.nonzero(valid[ends[:, 0]][:, :, None] & valid[ends[:, 1]][:, None, :])
    possible = None
    # Two passes keep the work near the number of true limbs rather than of all pairs: the first
    # samples a few of each pair's own sample points, more than the fraction test lets fail, and drops
    # the pairs where too many fail already (exact: those points are among the full set); the second
    # samples the survivors fully.  In blocks, so memory stays bounded in any crowd (all pairs of 500
    # people at once took 21 GB).
    for start in range(0, limb.size, PAIRS_PER_BLOCK):
        block = slice(start, start + PAIRS_PER_BLOCK)
        pairs = Pairs(limb[block], ia[block], ib[block], xy, ends, stride)
        if limb.size >= PRUNE_FROM_PAIRS:
            if possible is None:
                possible = _possible(pafs, skeleton, tuple(limb_ids), config.paf_threshold)
            pairs = _first_pass(pairs, possible, config)
        scores[pairs.limb, pairs.ia, pairs.ib] = _second_pass(pairs, field, config, height)
    return scores


def warm_kernel() -> None:
    """Compile the numba kernel now (when it is used), not on the first frame with people in it."""
    if KERNEL == "numba":
        from . import limbs_kernel

        limbs_kernel.warm()


def _first_pass(pairs: Pairs, possible: np.ndarray, config: DecodeConfig) -> Pairs:
    """The pairs that may pass the fraction test: q of each pair's own samples, EXTRA_PROBES more than
    the test lets fail, each looked up in the can-pass masks (one gather instead of four)."""
    n = pairs.n
    allowed = n - np.ceil(n * config.paf_min_fraction - 1e-6)
    q = int(allowed.max(initial=0)) + 1 + EXTRA_PROBES
    if q >= int(n.max(initial=0)):
        return pairs
    j = np.arange(1, q + 1, dtype=np.float32)
    index = np.round((n[:, None] - 1) * (j / (q + 1)))  # sample numbers among the pair's n
    fails = ~_lookup(possible, pairs, index / (n[:, None] - 1))
    fails[:, 1:] &= index[:, 1:] != index[:, :-1]  # a short pair may get a sample twice: count once
    return pairs.take(np.flatnonzero(fails.sum(1) <= allowed))


def _second_pass(pairs: Pairs, field: Field, config: DecodeConfig, height: float) -> np.ndarray:
    """All n samples of each pair: the fraction test, the length penalty; the pairs' scores (0: rejected)."""
    if pairs.limb.size == 0:
        return np.zeros(0, np.float32)
    n = pairs.n
    steps = np.arange(int(n.max()), dtype=np.float32)
    used = steps[None, :] < n[:, None]  # (M, S): the first n[m] samples of pair m
    dots = field.dots(pairs, np.minimum(steps[None, :] / (n[:, None] - 1), 1.0))
    supported = ((dots > config.paf_threshold) & used).sum(1) / n
    mean = (dots * used).sum(1) / n
    penalty = np.minimum(config.max_limb_length * height / np.maximum(pairs.length, 1e-6) - 1.0, 0.0)
    score = mean + penalty
    ok = (supported >= config.paf_min_fraction) & (score > 0) & (score >= config.match_threshold) \
        & (pairs.length > 1e-6)
    return np.where(ok, score, 0.0)


def _possible(pafs: np.ndarray, skeleton: Skeleton, limb_ids: tuple[int, ...], threshold: float) -> np.ndarray:
    """``(L, h, w)`` bit masks: bit ``d`` says whether a sample of a pair pointing in direction bin ``d``
    (of ``DIRECTIONS``) whose bilinear cell block starts at cell (i, j) can exceed ``threshold``.

    A bilinear blend of four vectors dotted with a unit vector ``u`` is at most the largest of the
    corners' dot products, and a corner ``v`` (length ``r``, angle ``phi``) gives more than the
    threshold only if ``u`` lies within ``arccos(threshold / r)`` of ``phi``.  Bin ``d`` holds the
    directions within half a bin of its centre, so a cell is marked for every bin whose centre lies
    within that angle plus half a bin of ``phi``: unmarked, every sample fails for sure.  In a crowd
    this drops the pairs that cross other people's limbs at an angle, not only those over empty cells.
    """
    channels = np.array([skeleton.paf_channels[i] for i in limb_ids]).T
    vx, vy = pafs[channels[0]], pafs[channels[1]]
    norm = np.hypot(vx, vy)
    limb, y, x = np.nonzero(norm > threshold)
    bin_width = 2 * np.pi / DIRECTIONS
    reach = 0.5 * bin_width + np.arccos(np.minimum(threshold / norm[limb, y, x], 1.0)) + 1e-4  # + rounding
    phi = np.arctan2(vy[limb, y, x], vx[limb, y, x])
    first = np.ceil((phi - reach) / bin_width).astype(np.int64)   # the bins first..last, circularly
    count = np.floor((phi + reach) / bin_width).astype(np.int64) - first + 1
    run = (np.int64(1) << np.minimum(count, DIRECTIONS)) - 1
    shift = first % DIRECTIONS
    full = (1 << DIRECTIONS) - 1
    masks = np.zeros(norm.shape, np.int64)
    masks[limb, y, x] = ((run << shift) | (run >> (DIRECTIONS - shift))) & full
    block = masks.copy()
    block[..., :-1] |= masks[..., 1:]        # the corner to the right (clamped at the border)
    block[..., :-1, :] |= block[..., 1:, :]  # and the row below
    return block


def _lookup(possible: np.ndarray, pairs: Pairs, t: np.ndarray) -> np.ndarray:
    """Whether ``possible`` marks the cell block of each sample ``start + t * step`` (positions as in
    ``Field.dots``) for the direction bin of the pair's unit vector."""
    _, h, w = possible.shape
    x = np.clip(pairs.x[:, None] + t * pairs.dx[:, None], 0, w - 1).astype(np.int32)
    y = np.clip(pairs.y[:, None] + t * pairs.dy[:, None], 0, h - 1).astype(np.int32)
    direction = np.round(np.arctan2(pairs.uy, pairs.ux) * (DIRECTIONS / (2 * np.pi))).astype(np.int64)
    bit = np.int64(1) << (direction % DIRECTIONS)
    return (possible.reshape(-1)[(pairs.limb[:, None] * h + y) * w + x] & bit[:, None]) != 0
