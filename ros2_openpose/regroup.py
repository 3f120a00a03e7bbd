"""People -> people: swap body parts between people where the layout's loops say they were mixed up.

Assembly (``people.py``) decides limb by limb: each limb's matching is optimal for that limb alone.
Where two people overlap, a tree limb can pair one person's shoulder with a neighbour's hip, and the
rest of each body follows whichever part it was joined to.  A layout with loops (coco17: the torso's
four sides, the face's eye-eye and ear-shoulder limbs) holds more than one limb across such a cut, and
those limbs then disagree with the choice.  ``regroup`` looks at every such cut at once for all people:
for a cut (a set of parts, e.g. one leg, or the face) and two people X and Y, swapping what X and Y
hold inside the cut changes only the limbs that cross it, so the gain is

    gain(X, Y) = C[X, Y] + C[Y, X] - C[X, X] - C[Y, Y]

where ``C[X, Y]`` sums the matching weights (PAF score x sqrt of the two peaks' confidences, as in
``matching.py``) of the crossing limbs from X's parts outside the cut to Y's parts inside it.  Swaps
with a positive gain are made best first, each person in at most one swap per cut and round, until
a round changes nothing.  A piece with nothing outside the cut (a leg on its own) swaps too: it
takes the part of X that was joined to the wrong body, or, where X had none, joins X whole.

Only cuts crossed by two or more of the layout's own limbs are used, and the extra limbs
(shoulder->wrist, hip->ankle, coco18's ear->shoulder) are not counted: one limb alone cannot
overrule its own optimal matching, and the extra limbs, long and weak on a real network's maps,
swapped a real person's correct leg for a neighbour's in the measurements (docs/decoding.md).  So
coco18, a tree, is never changed, and coco17's legs, arms and face are checked against the torso.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .matching import pair_certainty
from .skeletons import Skeleton

Cut = tuple[np.ndarray, np.ndarray]  # (K,) bool parts inside, indices of the limbs that cross it


@lru_cache(maxsize=32)
def _cuts(skeleton: Skeleton, limb_ids: tuple[int, ...]) -> tuple[Cut, ...]:
    """The subtrees of a spanning tree of the layout's own limbs (rooted at the most connected part)
    that two or more of those limbs cross."""
    k = skeleton.num_keypoints
    own = [n for n, i in enumerate(limb_ids) if not skeleton.extra[i]]
    ends = [skeleton.limbs[limb_ids[n]] for n in own]
    neighbours: dict[int, list[int]] = {p: [] for p in range(k)}
    for a, b in ends:
        neighbours[a].append(b)
        neighbours[b].append(a)
    root = max(range(k), key=lambda p: len(neighbours[p]))
    parent, order = {root: -1}, [root]
    for p in order:  # breadth first: order grows while it is walked
        for q in neighbours[p]:
            if q not in parent:
                parent[q] = p
                order.append(q)
    cuts = []
    for top in order[1:]:
        inside = np.zeros(k, bool)
        inside[top] = True
        for p in order:  # a part is inside when its parent is: parents come first in `order`
            if parent[p] >= 0 and inside[parent[p]]:
                inside[p] = True
        crossing = np.array([n for n, (a, b) in zip(own, ends, strict=True) if inside[a] != inside[b]], np.int64)
        if len(crossing) >= 2:
            cuts.append((inside, crossing))
    return tuple(cuts)


def _cross(parts: np.ndarray, weights: np.ndarray, ends: np.ndarray, cut: Cut) -> np.ndarray:
    """``C`` (F, F): the crossing limbs' weights from row people's parts outside the cut to column
    people's parts inside it (0 where either end is missing), all crossing limbs in one gather."""
    inside, crossing = cut
    a, b = ends[crossing, 0], ends[crossing, 1]
    a_outside = ~inside[a]  # (C,): the row person holds end a, else end b
    rows_a, cols_a = parts[:, None, a], parts[None, :, a]  # (F, 1, C), (1, F, C)
    rows_b, cols_b = parts[:, None, b], parts[None, :, b]
    peak_a = np.where(a_outside, rows_a, cols_a)  # (F, F, C)
    peak_b = np.where(a_outside, cols_b, rows_b)
    found = (peak_a >= 0) & (peak_b >= 0)
    values = weights[crossing, np.maximum(peak_a, 0), np.maximum(peak_b, 0)]
    return np.where(found, values, 0.0).sum(-1)


def regroup(parts: np.ndarray, scores: np.ndarray, peak_scores: np.ndarray, limb_ids: Sequence[int],
            skeleton: Skeleton, max_rounds: int = 4) -> np.ndarray:
    """People's parts after the swaps (see the module docstring).

    ``parts`` (F, K): each person's peak index per part, -1 where missing; ``scores`` (L, P, Q): the
    PAF scores of every candidate pair of the ``limb_ids`` limbs; ``peak_scores`` (K, P).  Returns a
    new (F, K) array; rows keep their order.
    """
    parts = np.array(parts, np.int64, copy=True)
    cuts = _cuts(skeleton, tuple(limb_ids))
    if len(parts) < 2 or not cuts:
        return parts
    ends = np.array([skeleton.limbs[i] for i in limb_ids], np.int64).reshape(-1, 2)
    weights = scores * pair_certainty(peak_scores[ends[:, 0]], peak_scores[ends[:, 1]])
    for _ in range(max_rounds):
        changed = False
        for cut in cuts:
            c = _cross(parts, weights, ends, cut)
            gain = c + c.T - np.diag(c)[:, None] - np.diag(c)[None, :]
            np.fill_diagonal(gain, 0.0)
            while True:
                x, y = np.unravel_index(int(np.argmax(gain)), gain.shape)
                if gain[x, y] <= 1e-6:
                    break
                inside = cut[0]
                parts[[x, y]] = np.where(inside, parts[[y, x]], parts[[x, y]])
                gain[[x, y], :] = gain[:, [x, y]] = 0.0  # one swap per person per cut and round
                changed = True
        if not changed:
            break
    return parts
