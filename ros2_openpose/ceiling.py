"""The connectivity ceiling: what a perfect decoder could find, given which limbs a skeleton has.

A PAF decoder can only join two keypoints through a chain of limbs whose both ends are labelled.
``ceiling_people`` splits each annotated person into those limb-connected pieces and returns them as
perfect people (every keypoint exact, score 1).  Scored with COCOeval like a decoder's output, they
give the AP no decoder of that skeleton can beat on those annotations: the reference that the decode
tests and benchmarks report their AP against ("ratio to the ceiling").
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .people import Person, keypoint_bbox
from .skeletons import Skeleton


def ceiling_people(keypoints: np.ndarray, skeleton: Skeleton, limb_ids: Sequence[int],
                   min_parts: int = 1) -> list[Person]:
    """Ground truth ``(N, K, 3)`` (x, y, v in ``skeleton``'s layout) split into limb-connected pieces.

    Each piece with at least ``min_parts`` keypoints comes back as a ``Person`` with score 1 (the
    decoder's ``min_parts`` filter applied to the truth, so the ceiling keeps what it may keep).
    """
    out = []
    for person in np.asarray(keypoints, np.float32):
        labelled = person[:, 2] > 0
        group = list(range(len(person)))
        for limb in limb_ids:
            a, b = skeleton.limbs[limb]
            if labelled[a] and labelled[b]:
                group[_root(group, a)] = _root(group, b)
        for r in {_root(group, int(i)) for i in np.flatnonzero(labelled)}:
            parts = [i for i in np.flatnonzero(labelled) if _root(group, int(i)) == r]
            if len(parts) < min_parts:
                continue
            kps = np.full((len(person), 3), np.nan, np.float32)
            kps[:, 2] = 0
            kps[parts, :2], kps[parts, 2] = person[parts, :2], 1.0
            out.append(Person(kps, 1.0, keypoint_bbox(kps)))
    return out


def _root(group: list[int], i: int) -> int:
    while group[i] != i:
        i = group[i]
    return i
