"""People -> people: swap body parts between people where the layout's loops say they were mixed up.

Assembly (``people.py``) decides limb by limb: each limb's matching is optimal for that limb alone.
Where two people overlap, a tree limb can pair one person's shoulder with a neighbour's hip, and the
rest of each body follows whichever part it was joined to.  A layout with loops (coco17: the torso's
four sides, the face's eye-eye and ear-shoulder limbs; coco18: the face's ear-shoulder limbs) has
more than one limb across such a cut, and those limbs then disagree with the choice.  For a cut (a
set of parts: a leg, one side, the face) and two people X and Y, swapping what X and Y hold inside
the cut changes only the limbs that cross it, so the gain is

    gain(X, Y) = C[X, Y] + C[Y, X] - C[X, X] - C[Y, Y]

where ``C[X, Y]`` sums the matching weights (PAF score x sqrt of the two peaks' confidences:
``matching.pair_certainty``) of the crossing limbs from X's parts outside the cut to Y's parts
inside it.  The cuts are every subtree of a breadth-first spanning tree of the weighed limbs
(below), one tree per root part, that two or more of those limbs cross (coco17: 29, coco18: 22).
Only pairs of people joined by some candidate limb can gain; their gains for every cut come from one
gather, the best swap is made, the pairs it touched are weighed again, and so on while a swap
gains.  Every swap raises the sum of all people's crossing weights, so this ends.  A piece with
nothing outside the cut (a leg on its own) swaps too: it takes the part of X that was joined to the
wrong body, or, where X had none, joins X whole.

Counted are the layout's own limbs and the extra ones that close a loop of their own (coco18's
ear->shoulder: coco17 has it as an own limb); not counted are the extra limbs that skip a joint
(shoulder->wrist past the elbow, hip->ankle past the knee): long PAFs across a bending joint, weak and
left/right-confused on a real network's maps, they swapped a real person's correct leg for a
neighbour's in the measurements (docs/decoding.md).  One limb alone never overrules its own matching.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .matching import pair_certainty
from .skeletons import Skeleton


@dataclass(frozen=True)
class Cuts:
    """A layout's cuts, flattened for one gather over all of them: cut ``n`` is ``inside[n]`` (K,)
    and its crossing limbs are ``limbs[starts[n]:starts[n + 1]]``; ``a_outside`` says which end of
    each lies outside."""

    inside: np.ndarray     # (N, K) bool
    limbs: np.ndarray      # (T,) limb index (into limb_ids)
    a_outside: np.ndarray  # (T,) bool
    starts: np.ndarray     # (N,) first entry of each cut in limbs


def weighed_limbs(skeleton: Skeleton) -> tuple[bool, ...]:
    """Per limb of the layout: whether its PAF weighs a swap.  Every limb but the extra ones whose
    two ends share a neighbour through the own limbs (a limb that skips a joint)."""
    neighbours: dict[int, set[int]] = {p: set() for p in range(skeleton.num_keypoints)}
    for (a, b), extra in zip(skeleton.limbs, skeleton.extra, strict=True):
        if not extra:
            neighbours[a].add(b)
            neighbours[b].add(a)
    return tuple(not extra or not (neighbours[a] & neighbours[b])
                 for (a, b), extra in zip(skeleton.limbs, skeleton.extra, strict=True))


@lru_cache(maxsize=32)
def _cuts(skeleton: Skeleton, limb_ids: tuple[int, ...]) -> Cuts:
    """Every subtree of the breadth-first spanning trees of the weighed limbs (one tree per root part)
    that two or more of those limbs cross, each partition once."""
    k = skeleton.num_keypoints
    weighed = weighed_limbs(skeleton)
    own = [n for n, i in enumerate(limb_ids) if weighed[i]]
    ends = [skeleton.limbs[limb_ids[n]] for n in own]
    neighbours: dict[int, list[int]] = {p: [] for p in range(k)}
    for a, b in ends:
        neighbours[a].append(b)
        neighbours[b].append(a)
    insides, crossings, seen = [], [], set()
    for root in range(k):
        parent, order = {root: -1}, [root]
        for p in order:  # breadth first: order grows while it is walked
            for q in neighbours[p]:
                if q not in parent:
                    parent[q] = p
                    order.append(q)
        for top in order[1:]:
            inside = np.zeros(k, bool)
            inside[top] = True
            for p in order:  # a part is inside when its parent is: parents come first in `order`
                if parent[p] >= 0 and inside[parent[p]]:
                    inside[p] = True
            key = min(inside.tobytes(), (~inside).tobytes())  # a cut and its complement: one swap
            crossing = [n for n, (a, b) in zip(own, ends, strict=True) if inside[a] != inside[b]]
            if key not in seen and len(crossing) >= 2:
                seen.add(key)
                insides.append(inside)
                crossings.append(crossing)
    limbs = np.array([n for crossing in crossings for n in crossing], np.int64)
    a_side = np.array([skeleton.limbs[limb_ids[n]][0] for n in limbs], np.int64)
    cut_of = np.repeat(np.arange(len(crossings)), [len(c) for c in crossings])
    inside_all = np.array(insides, bool).reshape(-1, k)
    starts = np.cumsum([0] + [len(c) for c in crossings])[:-1].astype(np.int64)
    return Cuts(inside_all, limbs, ~inside_all[cut_of, a_side], starts)


class _Crossings:
    """``C[X, Y]`` per cut for many pairs of people at once (module docstring): one gather from the
    weights, padded by a zero row and column so that a missing part (-1, the last entry) reads 0."""

    def __init__(self, weights: np.ndarray, ends: np.ndarray, cuts: Cuts) -> None:
        n_limbs, p, q = weights.shape
        self.size = max(p, q) + 1
        padded = np.zeros((n_limbs, self.size, self.size), weights.dtype)
        padded[:, :p, :q] = weights
        self.flat = padded.reshape(-1)
        a, b = ends[cuts.limbs, 0], ends[cuts.limbs, 1]
        out = cuts.a_outside
        self.outside, self.inside = np.where(out, a, b), np.where(out, b, a)  # (T,) parts
        # weights[limb, peak of a, peak of b] as a flat offset: the outside end's peak takes a's
        # stride where a lies outside the cut, b's where b does.
        self.base = cuts.limbs * self.size * self.size
        self.outside_stride = np.where(out, self.size, 1)
        self.inside_stride = np.where(out, 1, self.size)
        self.starts = cuts.starts

    def __call__(self, parts: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(N, E): per cut, the crossing limbs' weights from ``rows``' parts outside the cut to
        ``cols``' parts inside it, summed."""
        offsets = self.base + parts[rows][:, self.outside] * self.outside_stride \
            + parts[cols][:, self.inside] * self.inside_stride
        return np.add.reduceat(self.flat[offsets], self.starts, axis=1).T


def _neighbours(parts: np.ndarray, candidates: tuple[np.ndarray, ...],
                peaks: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of people ``(x, y)``, x < y, with a candidate limb between a part of one and a part of
    the other: no other pair can gain from a swap (its crossing weights are all 0).  ``candidates``:
    the ``(part a, peak a, part b, peak b)`` of every pair with a weight, ``peaks`` the most per part."""
    owner = np.full((parts.shape[1], peaks), -1, np.int64)  # (part, peak) -> person
    person, part = np.nonzero(parts >= 0)
    owner[part, parts[person, part]] = person
    a, i, b, j = candidates
    x, y = owner[a, i], owner[b, j]
    keep = (x >= 0) & (y >= 0) & (x != y)
    x, y = x[keep], y[keep]
    pairs = np.unique(np.minimum(x, y) * len(parts) + np.maximum(x, y))  # one code per pair, sorted
    return pairs // len(parts), pairs % len(parts)


def _gains(parts: np.ndarray, x: np.ndarray, y: np.ndarray, crossings: _Crossings,
           own: np.ndarray) -> np.ndarray:
    """(N, E): per cut, what swapping it between people x[e] and y[e] adds to the crossing limbs'
    weights: C[x, y] + C[y, x] - C[x, x] - C[y, y]; ``own`` (N, F) holds every person's C[X, X]."""
    return crossings(parts, x, y) + crossings(parts, y, x) - own[:, x] - own[:, y]


def regroup(parts: np.ndarray, scores: np.ndarray, peak_scores: np.ndarray, limb_ids: Sequence[int],
            skeleton: Skeleton, max_rounds: int = 8) -> np.ndarray:
    """People's parts after the swaps (see the module docstring).

    ``parts`` (F, K): each person's peak index per part, -1 where missing; ``scores`` (L, P, Q): the
    PAF scores of every candidate pair of the ``limb_ids`` limbs; ``peak_scores`` (K, P).  Returns a
    new (F, K) array; rows keep their order.
    """
    parts = np.array(parts, np.int64, copy=True)
    cuts = _cuts(skeleton, tuple(limb_ids))
    if len(parts) < 2 or len(cuts.starts) == 0:
        return parts
    ends = skeleton.limb_ends(limb_ids)
    weights = scores * pair_certainty(peak_scores[ends[:, 0]], peak_scores[ends[:, 1]])
    f, peaks = len(parts), max(weights.shape[1:])
    limb, i, j = np.nonzero(weights > 0)  # the weights stay: their candidates are listed once
    candidates = (ends[limb, 0], i, ends[limb, 1], j)
    crossings = _Crossings(weights, ends, cuts)
    everyone = np.arange(f)
    own = crossings(parts, everyone, everyone)  # (N, F): C[X, X], kept current through the swaps
    x, y = _neighbours(parts, candidates, peaks)
    gain = _gains(parts, x, y, crossings, own)  # (N, E)
    for _ in range(max_rounds):
        swaps = 0
        # Best swap first; then the gains of the pairs it touched are weighed again.  Each swap
        # raises the sum of all people's limb weights, so this ends; the cap bounds the work.
        while swaps < 4 * f and gain.size:
            n, e = np.unravel_index(int(np.argmax(gain)), gain.shape)
            if gain[n, e] <= 1e-6:
                break
            pair = np.array([x[e], y[e]])
            parts[pair] = np.where(cuts.inside[n], parts[pair[::-1]], parts[pair])
            swaps += 1
            own[:, pair] = crossings(parts, pair, pair)
            touched = (x == pair[0]) | (x == pair[1]) | (y == pair[0]) | (y == pair[1])
            gain[:, touched] = _gains(parts, x[touched], y[touched], crossings, own)
        if swaps == 0:
            break
        # A swap can join people that no candidate limb joined before; only those pairs are new
        # (every other pair's gain is current), so only they are weighed.
        nx, ny = _neighbours(parts, candidates, peaks)
        new = ~np.isin(nx * f + ny, x * f + y)
        if not new.any():
            break
        x, y = np.concatenate([x, nx[new]]), np.concatenate([y, ny[new]])
        gain = np.concatenate([gain, _gains(parts, nx[new], ny[new], crossings, own)], axis=1)
    return parts
