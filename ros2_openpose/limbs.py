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

from functools import lru_cache
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
PRUNE_FROM_PAIRS = 600
#: Candidate pairs scored at once (bounds the sample arrays to a few tens of MB).
PAIRS_PER_BLOCK = 1 << 16


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
    ends, offsets = _limb_arrays(skeleton, tuple(limb_ids), pafs.shape[-2] * pafs.shape[-1])
    # Candidates: only the pairs of valid peaks.
    pair_ok = valid[ends[:, 0]][:, :, None] & valid[ends[:, 1]][:, None, :]
    limb, ia, ib = np.nonzero(pair_ok)
    if limb.size == 0:
        return scores
    # In blocks of pairs: memory stays bounded however large the crowd (all pairs of 500 people at
    # once took 21 GB).
    for start in range(0, limb.size, PAIRS_PER_BLOCK):
        block = slice(start, start + PAIRS_PER_BLOCK)
        _score_pairs(scores, pafs, xy, ends, offsets, limb[block], ia[block], ib[block], skeleton, limb_ids,
                     config, stride)
    return scores


def _score_pairs(scores: np.ndarray, pafs: np.ndarray, xy: np.ndarray, ends: np.ndarray, offsets: np.ndarray,
                 limb: np.ndarray, ia: np.ndarray, ib: np.ndarray, skeleton: Skeleton, limb_ids: Sequence[int],
                 config: DecodeConfig, stride: float) -> None:
    """Score the candidate pairs ``(limb, ia, ib)`` into ``scores`` (see ``score_limbs``)."""
    a = xy[ends[limb, 0], ia]  # (M, 2)
    d = xy[ends[limb, 1], ib] - a
    length = np.hypot(d[:, 0], d[:, 1])
    n = np.clip(np.ceil(length / stride * SAMPLES_PER_CELL), MIN_SAMPLES, MAX_SAMPLES)
    # (6, M) per pair: start, step (cell units), unit vector; rows stay contiguous so that (M, 1)
    # broadcasts are cheap.  (2, M): where the pair's x / y PAF channels start in the flat maps.
    half = (stride - 1) / 2.0
    geometry = np.concatenate(((a.T - half) / stride, d.T / stride, d.T / np.maximum(length, 1e-6)))
    channels = offsets[:, limb]
    flat = np.ascontiguousarray(pafs, np.float32).reshape(-1)
    hw = pafs.shape[1:]

    # Pass 1: q evenly spread samples, EXTRA_PROBES more than the fraction test lets fail, each
    # looked up in a map of where a sample can pass at all (one gather instead of eight).
    allowed = n - np.ceil(n * config.paf_min_fraction - 1e-6)
    q = int(allowed.max()) + 1 + EXTRA_PROBES
    if q < int(n.max()) and limb.size >= PRUNE_FROM_PAIRS:
        j = np.arange(1, q + 1, dtype=np.float32)
        index = np.round((n[:, None] - 1) * (j / (q + 1)))  # sample numbers among the pair's n
        possible = _possible(pafs, skeleton, tuple(limb_ids), config.paf_threshold)
        fails = ~_lookup(possible, limb, geometry, index / (n[:, None] - 1))
        fails[:, 1:] &= index[:, 1:] != index[:, :-1]  # a short pair may get a sample twice: count once
        alive = np.flatnonzero(fails.sum(1) <= allowed)
        if alive.size == 0:
            return
        limb, ia, ib, n, length = limb[alive], ia[alive], ib[alive], n[alive], length[alive]
        geometry, channels = geometry[:, alive], channels[:, alive]

    # Pass 2: all n samples of the survivors.
    steps = np.arange(int(n.max()), dtype=np.float32)
    used = steps[None, :] < n[:, None]  # (M', S): the first n[m] samples of pair m
    dots = line_dots(flat, hw, geometry, channels, np.minimum(steps[None, :] / (n[:, None] - 1), 1.0))
    supported = ((dots > config.paf_threshold) & used).sum(1) / n
    mean = (dots * used).sum(1) / n
    height = hw[0] * stride
    penalty = np.minimum(config.max_limb_length * height / np.maximum(length, 1e-6) - 1.0, 0.0)
    score = mean + penalty
    ok = (supported >= config.paf_min_fraction) & (score > 0) & (score >= config.match_threshold) \
        & (length > 1e-6)
    scores[limb, ia, ib] = np.where(ok, score, 0.0)


@lru_cache(maxsize=64)
def _limb_arrays(skeleton: Skeleton, limb_ids: tuple[int, ...], cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Per used limb: its end parts ``(L, 2)``, and where its x / y PAF start in the flat maps ``(2, L)``."""
    ends = np.array([skeleton.limbs[i] for i in limb_ids], np.int64).reshape(-1, 2)
    channels = np.array([skeleton.paf_channels[i] for i in limb_ids], np.int64).reshape(-1, 2)
    return ends, channels.T * cells


def _possible(pafs: np.ndarray, skeleton: Skeleton, limb_ids: tuple[int, ...], threshold: float) -> np.ndarray:
    """``(L, h, w)`` bool: can a sample whose bilinear cell block starts at cell (i, j) exceed ``threshold``?

    A bilinear blend of four vectors is no longer than the longest of them, and its dot product with
    a unit vector no larger, so where no corner's PAF is longer than the threshold every sample fails.
    """
    channels = np.array([skeleton.paf_channels[i] for i in limb_ids]).T
    norm = np.hypot(pafs[channels[0]], pafs[channels[1]]) > threshold
    block = norm.copy()
    block[:, :, :-1] |= norm[:, :, 1:]   # the corner to the right (clamped at the border)
    block[:, :-1] |= block[:, 1:]        # and the row below
    return block


def _lookup(possible: np.ndarray, limb: np.ndarray, geometry: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``possible`` at the cell block of each sample ``start + t * step`` (positions as in ``line_dots``)."""
    _, h, w = possible.shape
    x = np.clip(geometry[0, :, None] + t * geometry[2, :, None], 0, w - 1).astype(np.int64)
    y = np.clip(geometry[1, :, None] + t * geometry[3, :, None], 0, h - 1).astype(np.int64)
    return possible.reshape(-1)[(limb[:, None] * h + y) * w + x]


def line_dots(flat: np.ndarray, hw: Sequence[int], geometry: np.ndarray, channels: np.ndarray,
              t: np.ndarray) -> np.ndarray:
    """``dot(PAF(start + t*step), unit)`` ``(M, S)``, the PAF sampled bilinearly from the coarse grid.

    ``flat`` is the PAF maps flattened; ``geometry`` rows are start x, y and step x, y in cell units
    (cell ``(i, j)`` at ``(j, i)``) and the unit vector x, y; ``channels`` rows the offsets of each
    pair's x and y channel in ``flat``.  Points outside the grid take the border cells' values (as
    an upsampled map's edge would).  Bilinear is linear, so each corner's dot product is blended
    rather than its vector.
    """
    h, w = int(hw[0]), int(hw[1])
    x = np.clip(geometry[0, :, None] + t * geometry[2, :, None], 0, w - 1)
    y = np.clip(geometry[1, :, None] + t * geometry[3, :, None], 0, h - 1)
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    row0 = y0 * w + channels[0, :, None]
    row1 = y1 * w + channels[0, :, None]
    ix = np.stack((row0 + x0, row0 + x1, row1 + x0, row1 + x1))  # (4, M, S): x channel
    iy = ix + (channels[1] - channels[0])[:, None]                # same cells, y channel
    ux, uy = geometry[4, :, None].astype(np.float32), geometry[5, :, None].astype(np.float32)
    d00, d01, d10, d11 = flat[ix] * ux + flat[iy] * uy
    top = d00 + (d01 - d00) * fx
    return top + (d10 + (d11 - d10) * fx - top) * fy


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
