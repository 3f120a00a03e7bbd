"""Limb candidates -> matches: one-to-one matching per limb, then limbs shorter than a cell by proximity.

Per limb A->B, each A peak goes with at most one B peak and
back, and the matching maximises the total of ``PAF score * sqrt(confidence A * confidence B)``
(the confidence is the peak's heatmap value).  Without the confidence, a weak spurious peak lying on a
limb's PAF (noise, a blurred neighbour) pairs with the limb's other end as well as the true peak does,
and since every extra match adds to the total it takes the true peak's partner and splits the person
(0.21 of the ceiling on the benchmark's noisy maps at native resolution; docs/decoding.md).

**Proximity.**  Then the peaks still free are paired when closer than ``config.short_limb`` cells,
nearest first, with score 0: a limb shorter than a cell may cover no cell centre at all, so its PAF is
0 however good the network (docs/decoding.md).

The assignment solver is scipy's ``linear_sum_assignment`` (exact, as Munkres: test_decode checks
identical assignments), run only on the candidates that compete (``assign``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

#: Pairs of one limb: ``(limb, i, j)`` index arrays and, with a score, ``(limb, i, j, score)``.
Matches = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def match_scipy(scores: np.ndarray) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(i, j, score)`` maximising the total score; 0 entries never match.

    A zero entry is "no candidate": a maximum-weight assignment of the full matrix restricted to its
    positive entries is a maximum-weight matching of the candidates, so no special handling is needed.
    """
    if scores.size == 0 or not (scores > 0).any():
        return []
    rows, cols = linear_sum_assignment(scores, maximize=True)
    return [(int(i), int(j), float(scores[i, j])) for i, j in zip(rows, cols, strict=True) if scores[i, j] > 0]


def match_munkres(scores: np.ndarray) -> list[tuple[int, int, float]]:
    """The same matching with the ``munkres`` package (pure Python; the reference for the tests)."""
    from munkres import Munkres

    if scores.size == 0 or not (scores > 0).any():
        return []
    top = float(scores.max())
    cost = (top - scores).tolist()  # minimising top - score maximises the score
    pairs = Munkres().compute(cost)
    return [(int(i), int(j), float(scores[i, j])) for i, j in pairs if scores[i, j] > 0]


MATCHERS: dict[str, Callable[[np.ndarray], list[tuple[int, int, float]]]] = {
    "scipy": match_scipy, "munkres": match_munkres}


def assign(weights: np.ndarray, matcher: str = "scipy") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-weight one-to-one matching of every limb's ``(P, Q)`` block of ``weights`` ``(L, P, Q)``
    (0 = no candidate), as ``(limb, i, j)`` index arrays sorted by limb.

    A candidate alone in its row and its column is matched as it is, for all limbs at once: any
    optimal assignment takes it.  Only the rows and columns where candidates compete go to the
    assignment solver, limb by limb: with one person, or people apart, no solver runs at all.
    """
    positive = weights > 0
    rows, cols = positive.sum(2), positive.sum(1)
    alone = positive & (rows[:, :, None] == 1) & (cols[:, None, :] == 1)
    parts = [np.nonzero(alone)]
    contested_rows = (rows > 0) & ~alone.any(2)
    contested_cols = (cols > 0) & ~alone.any(1)
    match = MATCHERS[matcher]
    for n in np.flatnonzero(contested_rows.any(1)):
        r, c = np.flatnonzero(contested_rows[n]), np.flatnonzero(contested_cols[n])
        found = np.array([(i, j) for i, j, _ in match(weights[n][np.ix_(r, c)])], np.int64).reshape(-1, 2)
        parts.append((np.full(len(found), n), r[found[:, 0]], c[found[:, 1]]))
    limb, i, j = (np.concatenate(p).astype(np.int64) for p in zip(*parts, strict=True))
    order = np.argsort(limb, kind="stable")
    return limb[order], i[order], j[order]


def pair_certainty(confidence_a: np.ndarray | None, confidence_b: np.ndarray | None) -> np.ndarray | float:
    """``sqrt(confidence_a * confidence_b)`` per pair ``(L, P, Q)``, or 1 without confidences: what a
    pair's PAF score is weighed by in the matching (and in ``regroup.py``'s gains)."""
    if confidence_a is None or confidence_b is None:
        return 1.0
    return np.sqrt(np.maximum(confidence_a[:, :, None] * confidence_b[:, None, :], 0.0))


def _match(scores: np.ndarray, free_a: np.ndarray, free_b: np.ndarray, certainty: np.ndarray | float,
           matcher: str) -> Matches:
    """Matches ``(limb, i, j, PAF score)`` of the free peaks' candidates; marks the matched peaks taken."""
    weights = np.where(free_a[:, :, None] & free_b[:, None, :], scores * certainty, 0.0)
    limb, i, j = assign(weights, matcher)
    free_a[limb, i] = False
    free_b[limb, j] = False
    return limb, i, j, scores[limb, i, j]


def _free_first(free: np.ndarray) -> np.ndarray:
    """``(L, F)`` peak indices, each limb's free peaks first (F = the most any limb has, at least 1)."""
    return np.argsort(~free, axis=1, kind="stable")[:, :max(int(free.sum(1).max(initial=0)), 1)]


def closeness(xy_a: np.ndarray, xy_b: np.ndarray, short: float) -> np.ndarray:
    """``1 - distance / short`` between the points ``xy_a`` and ``xy_b`` (``(..., 2)``, broadcast
    against each other), 0 from ``short`` pixels on: how strongly proximity alone pairs two peaks."""
    return np.maximum(1.0 - np.hypot(xy_a[..., 0] - xy_b[..., 0], xy_a[..., 1] - xy_b[..., 1]) / short, 0.0)


def _match_near(free_a: np.ndarray, free_b: np.ndarray, xy_a: np.ndarray, xy_b: np.ndarray, short: float,
                certainty: np.ndarray | float, matcher: str) -> Matches:
    """``(limb, i, j, 0)`` matches by proximity among the free peaks (closer than ``short`` pixels)."""
    order_a, order_b = _free_first(free_a), _free_first(free_b)
    rows = np.arange(len(free_a))[:, None]
    free = free_a[rows, order_a][:, :, None] & free_b[rows, order_b][:, None, :]
    close = closeness(xy_a[rows, order_a][:, :, None], xy_b[rows, order_b][:, None], short) * free
    if isinstance(certainty, np.ndarray):
        close *= certainty[rows[:, :, None], order_a[:, :, None], order_b[:, None, :]]
    limb, i, j = assign(close, matcher)
    return limb, order_a[limb, i], order_b[limb, j], np.zeros(len(limb), np.float32)


def _as_lists(found: Sequence[Matches], n_limbs: int) -> list[list[tuple[int, int, float]]]:
    out: list[list[tuple[int, int, float]]] = [[] for _ in range(n_limbs)]
    for limb, i, j, score in found:
        for n, a, b, s in zip(limb.tolist(), i.tolist(), j.tolist(), np.asarray(score, float).tolist(), strict=True):
            out[n].append((a, b, s))
    return out


def match_limbs(scores: np.ndarray, counts_a: Sequence[int], counts_b: Sequence[int],
                confidence_a: np.ndarray | None = None, confidence_b: np.ndarray | None = None,
                matcher: str = "scipy", xy_a: np.ndarray | None = None, xy_b: np.ndarray | None = None,
                short: float = 0.0) -> list[list[tuple[int, int, float]]]:
    """Per limb, the one-to-one matches ``(i, j, PAF score)`` of its ``(counts_a[n], counts_b[n])`` block
    of ``scores`` ``(L, P, Q)``, in one round (the module docstring has the rules).

    ``confidence_a`` / ``confidence_b`` ``(L, P)``: the end peaks' heatmap values, weighing the
    matching.  ``xy_a`` / ``xy_b`` ``(L, P, 2)`` and ``short`` > 0 (input pixels): the peaks left free
    are then paired by proximity, with score 0.
    """
    n_limbs, p, q = scores.shape
    free_a = np.arange(p)[None, :] < np.asarray(counts_a)[:, None]
    free_b = np.arange(q)[None, :] < np.asarray(counts_b)[:, None]
    certainty = pair_certainty(confidence_a, confidence_b)
    found = [_match(scores, free_a, free_b, certainty, matcher)]
    if short > 0 and xy_a is not None and xy_b is not None:
        found.append(_match_near(free_a, free_b, xy_a, xy_b, short, certainty, matcher))
    return _as_lists(found, n_limbs)
