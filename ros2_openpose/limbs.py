"""Peaks -> limbs: score every candidate pair of every limb in one batch on the device, then match.

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
it.  Every pair of every limb is scored at once (numpy, vectorised over pairs and samples); then
each limb is matched one-to-one.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from .config import DecodeConfig
from .skeletons import Skeleton

#: Samples per candidate segment: one per map cell of length (the PAF between cell centres is the
#: bilinear blend of its neighbours, so denser samples add little), at least 10 (the original's
#: count) so the fraction test stays meaningful on short limbs, at most 24.
MIN_SAMPLES = 10
MAX_SAMPLES = 24
SAMPLES_PER_CELL = 1.0
#: Pass 1 takes this many samples more than the fraction test tolerates to fail, so a wrong pair
#: that crosses a little PAF near one end is still dropped there (measured: 2 is the fastest).
EXTRA_PROBES = 2
#: Below this many candidate pairs one full pass is cheaper than two (per-operation overhead wins;
#: measured: ~5 people).
PRUNE_FROM_PAIRS = 1500
#: Candidate pairs scored at once (bounds the sample arrays to a few tens of MB).
PAIRS_PER_BLOCK = 1 << 16
#: Direction bins of the first pass's can-pass maps (``_possible``).
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
        self.row = self.w + 1
        self.plane = (self.h + 1) * self.row

    def dots(self, pairs: "Pairs", t: np.ndarray) -> np.ndarray:
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
        self.n = np.clip(np.ceil(self.length / stride * SAMPLES_PER_CELL), MIN_SAMPLES, MAX_SAMPLES)

    def take(self, keep: np.ndarray) -> "Pairs":
        out = object.__new__(Pairs)
        for name, value in vars(self).items():
            setattr(out, name, value[keep])
        return out


def score_limbs(pafs: np.ndarray, xy: np.ndarray, valid: np.ndarray, skeleton: Skeleton,
                limb_ids: Sequence[int], config: DecodeConfig, stride: float = 8.0) -> np.ndarray:
    """Scores ``(len(limb_ids), P, P)`` of every candidate pair; 0 where a pair is rejected.

    ``pafs`` is ``(2L, h, w)`` float32, ``xy`` ``(K, P, 2)`` peak positions in input pixels and
    ``valid`` ``(K, P)``.  Entry ``[n, i, j]`` scores peak ``i`` of limb ``limb_ids[n]``'s part A
    with peak ``j`` of its part B.

    Two passes keep the work near the number of true limbs rather than of all pairs (which grows
    with the square of the people): the first samples a few of each pair's own sample points, more
    than the fraction test lets fail, and drops the pairs where too many fail already (exact: those
    points are among the full set); the second samples the survivors fully.
    """
    n_limbs, p = len(limb_ids), xy.shape[1]
    scores = np.zeros((n_limbs, p, p), np.float32)
    if n_limbs == 0 or p == 0:
        return scores
    ends = np.array([skeleton.limbs[i] for i in limb_ids], np.int64).reshape(-1, 2)
    # Candidates: only the pairs of valid peaks.
    pair_ok = valid[ends[:, 0]][:, :, None] & valid[ends[:, 1]][:, None, :]
    limb, ia, ib = np.nonzero(pair_ok)
    if limb.size == 0:
        return scores
    pafs = np.asarray(pafs, np.float32)
    field = Field(pafs, skeleton, limb_ids)
    possible = None
    # In blocks of pairs: memory stays bounded however large the crowd (all pairs of 500 people at
    # once took 21 GB).
    for start in range(0, limb.size, PAIRS_PER_BLOCK):
        block = slice(start, start + PAIRS_PER_BLOCK)
        pairs = Pairs(limb[block], ia[block], ib[block], xy, ends, stride)
        if limb.size >= PRUNE_FROM_PAIRS:
            if possible is None:
                possible = _possible(pafs, skeleton, tuple(limb_ids), config.paf_threshold)
            pairs = _first_pass(pairs, possible, config)
        _second_pass(scores, pairs, field, config, pafs.shape[-2] * stride)
    return scores


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


def _second_pass(scores: np.ndarray, pairs: Pairs, field: Field, config: DecodeConfig, height: float) -> None:
    """All n samples of each pair: the fraction test, the length penalty, the score into ``scores``."""
    if pairs.limb.size == 0:
        return
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
    scores[pairs.limb, pairs.ia, pairs.ib] = np.where(ok, score, 0.0)


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


def match_scipy(scores: np.ndarray) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(i, j, score)`` maximising the total score; 0 entries never match.

    A zero entry is "no candidate": a maximum-weight assignment of the full matrix restricted to its
    positive entries is a maximum-weight matching of the candidates, so no special handling is needed.
    """
    if scores.size == 0 or not (scores > 0).any():
        return []
    rows, cols = linear_sum_assignment(scores, maximize=True)
    return [(int(i), int(j), float(scores[i, j])) for i, j in zip(rows, cols) if scores[i, j] > 0]


def match_munkres(scores: np.ndarray) -> list[tuple[int, int, float]]:
    """The same matching with the ``munkres`` package (pure Python; the reference for the tests)."""
    from munkres import Munkres

    if scores.size == 0 or not (scores > 0).any():
        return []
    top = float(scores.max())
    cost = (top - scores).tolist()  # minimising top - score maximises the score
    pairs = Munkres().compute(cost)
    return [(int(i), int(j), float(scores[i, j])) for i, j in pairs if scores[i, j] > 0]


MATCHERS = {"scipy": match_scipy, "munkres": match_munkres}


def assign(weights: np.ndarray, matcher: str = "scipy") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-weight one-to-one matching of every limb's ``(P, Q)`` block of ``weights`` ``(L, P, Q)``
    (0 = no candidate), as ``(limb, i, j)`` index arrays.

    A candidate alone in its row and its column is matched as it is, for all limbs at once: any
    optimal assignment takes it.  Only the rows and columns where candidates compete go to the
    assignment solver, limb by limb: with one person, or people apart, no solver runs at all.
    """
    positive = weights > 0
    rows, cols = positive.sum(2), positive.sum(1)
    alone = positive & (rows[:, :, None] == 1) & (cols[:, None, :] == 1)
    limb, i, j = np.nonzero(alone)
    contested_rows = (rows > 0) & ~alone.any(2)
    contested_cols = (cols > 0) & ~alone.any(1)
    extra = [(limb, i, j)]
    match = MATCHERS[matcher]
    for n in np.flatnonzero(contested_rows.any(1)):
        r, c = np.flatnonzero(contested_rows[n]), np.flatnonzero(contested_cols[n])
        found = match(weights[n][np.ix_(r, c)])
        if found:
            a, b, _ = np.array(found).T
            extra.append((np.full(len(found), n), r[a.astype(np.int64)], c[b.astype(np.int64)]))
    limb, i, j = (np.concatenate(parts).astype(np.int64) for parts in zip(*extra))
    order = np.argsort(limb, kind="stable")
    return limb[order], i[order], j[order]


def match_limbs(scores: np.ndarray, counts_a: Sequence[int], counts_b: Sequence[int],
                confidence_a: np.ndarray | None = None, confidence_b: np.ndarray | None = None,
                matcher: str = "scipy", xy_a: np.ndarray | None = None, xy_b: np.ndarray | None = None,
                short: float = 0.0) -> list[list[tuple[int, int, float]]]:
    """Per limb, the one-to-one matches ``(i, j, PAF score)`` of its ``(counts_a[n], counts_b[n])`` block.

    With ``confidence_a`` / ``confidence_b`` ``(L, P)`` (the end peaks' heatmap values), the matching
    maximises ``score * sqrt(confidence_a * confidence_b)`` instead of the PAF score alone.  Without
    them, a weak spurious peak lying on a limb's PAF (noise, a blurred neighbour) pairs with the limb's
    other end as well as the true peak does, and since every extra match adds to the total, it takes
    the true peak's partner and splits the person; on the benchmark's noisy maps that cost 0.21 of the
    ceiling at native resolution (docs/decoding.md).  The returned score stays the PAF score.

    With ``xy_a`` / ``xy_b`` ``(L, P, 2)`` and ``short`` > 0 (input pixels), the peaks no PAF match
    took are then matched by proximity: pairs closer than ``short``, weighed by closeness
    ``1 - distance / short`` (times the confidence, as above), one-to-one, with score 0 (the PAF gave
    no evidence).  A limb shorter than a map cell may cover no cell centre at all, so its PAF is 0
    however good the network (docs/decoding.md).

    The assignment solver is scipy's ``linear_sum_assignment`` (exact, as Munkres: test_decode checks
    identical assignments), run only on the candidates that compete (``assign``).
    """
    n_limbs, p, q = scores.shape
    valid_a = np.arange(p)[None, :] < np.asarray(counts_a)[:, None]  # (L, P)
    valid_b = np.arange(q)[None, :] < np.asarray(counts_b)[:, None]
    confident = confidence_a is not None and confidence_b is not None
    weights = np.where(valid_a[:, :, None] & valid_b[:, None, :], scores, 0.0)
    if confident:
        weights *= np.sqrt(np.maximum(confidence_a[:, :, None] * confidence_b[:, None, :], 0.0))
    limb, i, j = assign(weights, matcher)
    found = [(limb, i, j, scores[limb, i, j])]
    if short > 0 and xy_a is not None and xy_b is not None:
        valid_a[limb, i] = False
        valid_b[limb, j] = False
        found.append(_match_near(valid_a, valid_b, xy_a, xy_b, short, matcher,
                                 confidence_a if confident else None, confidence_b if confident else None))
    out: list[list[tuple[int, int, float]]] = [[] for _ in range(n_limbs)]
    for limb, i, j, score in found:
        for n, a, b, s in zip(limb.tolist(), i.tolist(), j.tolist(), score.tolist()):
            out[n].append((a, b, s))
    return out


def _match_near(free_a: np.ndarray, free_b: np.ndarray, xy_a: np.ndarray, xy_b: np.ndarray, short: float,
                matcher: str, confidence_a: np.ndarray | None, confidence_b: np.ndarray | None) -> tuple:
    """``(limb, i, j, 0)`` matches by proximity among the free peaks (``match_limbs``, ``short``)."""
    # The free peaks of each limb first (stable), so the distances cover only them: few, after the PAF.
    order_a = np.argsort(~free_a, axis=1, kind="stable")[:, :max(int(free_a.sum(1).max(initial=0)), 1)]
    order_b = np.argsort(~free_b, axis=1, kind="stable")[:, :max(int(free_b.sum(1).max(initial=0)), 1)]
    rows = np.arange(len(free_a))[:, None]
    a, b = xy_a[rows, order_a], xy_b[rows, order_b]
    distance = np.hypot(a[:, :, None, 0] - b[:, None, :, 0], a[:, :, None, 1] - b[:, None, :, 1])
    close = np.maximum(1.0 - distance / short, 0.0) * (free_a[rows, order_a][:, :, None] & free_b[rows, order_b][:, None, :])
    if confidence_a is not None and confidence_b is not None:
        close *= np.sqrt(np.maximum(confidence_a[rows, order_a][:, :, None] * confidence_b[rows, order_b][:, None, :], 0.0))
    limb, i, j = assign(close, matcher)
    return limb, order_a[limb, i], order_b[limb, j], np.zeros(len(limb), np.float32)
