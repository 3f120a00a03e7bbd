"""Limbs -> people: the ``Person`` record, assembly of matched limbs into people, and output formats.

Assembly (``assemble``) walks the matched limbs of the skeleton's tree limbs in skeleton order, then
(when ``config.use_extra_pafs``) the extra limbs, and grows people greedily, strongest match first
within a limb.  For a match (peak a, peak b):

* neither peak owned yet: a new person (fragment) of the two;
* one owned: the other joins that person if its slot for that part is free (else it is left out:
  a part that is already filled is never overwritten);
* both owned by one person: the match confirms it (its score counts towards the person's score);
* owned by two people: they merge when they share no part type (e.g. an arm fragment whose elbow
  was missed meets its body through an extra shoulder->wrist limb); otherwise the match is dropped.

Extra limbs therefore only add evidence and merge fragments; they never undo a tree-limb decision.
Given every candidate pair's PAF score, the people then go through ``regroup.py``, which swaps parts
between two people where the layout's loops disagree with the tree limbs' choices.

Person score: the mean of its part scores (heatmap peak values) and its limb scores (PAF line
integrals of every match used, extra limbs included; limbs paired by proximity have no integral and
are left out), so it lies in about [0, 1].  People with
fewer than ``min_parts`` parts or a score below ``min_person_score`` are dropped.  COCO results
carry ``ranking_score`` (score x fraction of keypoints found), since AP ranks by it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .config import DecodeConfig
from .matching import closeness
from .regroup import regroup
from .skeletons import Skeleton, get_skeleton


@dataclass
class Person:
    """One person: ``keypoints`` (K, 3) float32 x, y, score in the skeleton's order (score 0 means
    not found, and then x = y = NaN); ``score`` the person's confidence; ``bbox`` (x, y, w, h) over
    the found keypoints."""

    keypoints: np.ndarray
    score: float
    bbox: tuple[float, float, float, float]

    @property
    def found(self) -> np.ndarray:
        """(K,) bool: which keypoints were found."""
        return np.asarray(self.keypoints)[:, 2] > 0

    @property
    def num_parts(self) -> int:
        return int(self.found.sum())


def keypoint_bbox(keypoints: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, w, h) around the found keypoints; all zeros when none is found."""
    kps = np.asarray(keypoints)
    pts = kps[kps[:, 2] > 0, :2]
    if len(pts) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    lo, hi = pts.min(0), pts.max(0)
    return (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))


# ------------------------------------------------------------------------------------ assembly

@dataclass
class _Fragment:
    parts: list[int]                       # peak index per part, -1 = empty (a list: cheap to poke)
    limb_scores: list[float] = field(default_factory=list)


def assemble(xy: np.ndarray, peak_scores: np.ndarray, counts: Sequence[int],
             matches: Sequence[Sequence[tuple[int, int, float]]], limb_ids: Sequence[int],
             skeleton: Skeleton, config: DecodeConfig, scores: np.ndarray | None = None,
             short: float = 0.0) -> list[Person]:
    """Group matched limbs into people (see the module docstring for the rules).

    ``xy`` (K, P, 2) and ``peak_scores`` (K, P) hold the peaks, ``counts[k]`` how many of part k are
    valid; ``matches[n]`` the ``(i, j, score)`` matches of limb ``limb_ids[n]`` (peak i of its part A,
    peak j of its part B).  With ``scores`` (L, P, Q), the PAF scores of every candidate pair, the
    people are then checked against the layout's loops (``regroup.py``), where a pair the matching
    joined by proximity (score 0, closer than ``short`` pixels) weighs its closeness.  Returns people sorted by
    score, best first.
    """
    k_parts = skeleton.num_keypoints
    fragments: list[_Fragment] = []
    merged: set[int] = set()  # fragments moved into another one
    owner: dict[tuple[int, int], int] = {}  # (part, peak) -> fragment index

    def put(f: int, part: int, peak: int) -> None:
        fragments[f].parts[part] = peak
        owner[(part, peak)] = f

    # Tree limbs in skeleton order first, extra limbs after: the extras only add to what the tree built.
    order = sorted(range(len(limb_ids)), key=lambda n: (skeleton.extra[limb_ids[n]], n))
    for n in order:
        a, b = skeleton.limbs[limb_ids[n]]
        for i, j, s in sorted(matches[n], key=lambda m: -m[2]):
            fa, fb = owner.get((a, i), -1), owner.get((b, j), -1)
            if fa < 0 and fb < 0:
                fragments.append(_Fragment([-1] * k_parts, [s]))
                put(len(fragments) - 1, a, i)
                put(len(fragments) - 1, b, j)
            elif fb < 0:
                if fragments[fa].parts[b] < 0:
                    put(fa, b, j)
                    fragments[fa].limb_scores.append(s)
            elif fa < 0:
                if fragments[fb].parts[a] < 0:
                    put(fb, a, i)
                    fragments[fb].limb_scores.append(s)
            elif fa == fb:
                fragments[fa].limb_scores.append(s)
            elif all(p < 0 or q < 0 for p, q in zip(fragments[fa].parts, fragments[fb].parts, strict=True)):
                moved = fragments[fb]
                for part, peak in enumerate(moved.parts):
                    if peak >= 0:
                        put(fa, part, peak)
                fragments[fa].limb_scores += [*moved.limb_scores, s]
                merged.add(fb)

    kept = [f for n, f in enumerate(fragments) if n not in merged]
    if scores is not None and len(kept) > 1:
        evidence = _with_proximity(scores, matches, xy, limb_ids, skeleton, short)
        kept = _regrouped(kept, scores, evidence, peak_scores, limb_ids, skeleton)
    if config.min_parts <= 1:  # lone peaks are people only when a single part is enough
        for part in range(k_parts):
            for peak in range(int(counts[part])):
                if (part, peak) not in owner:
                    kept.append(_Fragment([-1 if k != part else peak for k in range(k_parts)]))
    return _to_people(kept, xy, peak_scores, config)


def _with_proximity(scores: np.ndarray, matches: Sequence[Sequence[tuple[int, int, float]]], xy: np.ndarray,
                    limb_ids: Sequence[int], skeleton: Skeleton, short: float) -> np.ndarray:
    """``scores`` with each proximity match (score 0: a limb shorter than ``short`` pixels, which no
    PAF sample supports) raised to its closeness, the weight that paired it (``matching.closeness``).
    Otherwise a small face's eye-ear pair, joined by proximity, would weigh nothing in the regrouping
    and any longer crossing limb could outvote it."""
    near = [(n, i, j) for n, found in enumerate(matches) for i, j, s in found if s == 0]
    if short <= 0 or not near:
        return scores
    n, i, j = np.array(near, np.int64).T
    ends = skeleton.limb_ends(limb_ids)[n]
    close = closeness(xy[ends[:, 0], i], xy[ends[:, 1], j], short)
    out = np.array(scores, copy=True)
    out[n, i, j] = np.maximum(out[n, i, j], close)
    return out


def _regrouped(fragments: list[_Fragment], scores: np.ndarray, evidence: np.ndarray, peak_scores: np.ndarray,
               limb_ids: Sequence[int], skeleton: Skeleton) -> list[_Fragment]:
    """The fragments after ``regroup``'s swaps weighed on ``evidence``; a changed one's limb scores are
    read anew from ``scores`` (every limb whose two ends it holds, where the pair is a PAF candidate)."""
    before = np.array([f.parts for f in fragments], np.int64)
    after = regroup(before, evidence, peak_scores, limb_ids, skeleton)
    out = []
    for fragment, old, new in zip(fragments, before, after, strict=True):
        if (old == new).all():
            out.append(fragment)
            continue
        if (new < 0).all():  # a piece that moved whole into a person lacking it
            continue
        limb_scores = [float(scores[n, new[a], new[b]]) for n, (a, b) in enumerate(skeleton.limbs[i] for i in limb_ids)
                       if new[a] >= 0 and new[b] >= 0 and scores[n, new[a], new[b]] > 0]
        out.append(_Fragment(new.tolist(), limb_scores))
    return out


def _to_people(fragments: list[_Fragment], xy: np.ndarray, peak_scores: np.ndarray,
               config: DecodeConfig) -> list[Person]:
    """Keypoints, scores and boxes of all fragments at once; the ones that pass the filters as people."""
    if not fragments:
        return []
    parts = np.array([f.parts for f in fragments], dtype=np.int64)  # (F, K)
    found = parts >= 0
    kinds = np.arange(parts.shape[1])[None, :]
    peaks = np.where(found, parts, 0)
    keypoints = np.empty((*parts.shape, 3), np.float32)
    keypoints[..., :2] = np.where(found[..., None], xy[kinds, peaks], np.nan)
    keypoints[..., 2] = np.where(found, peak_scores[kinds, peaks], 0.0)
    n_parts = found.sum(1)
    limb_sum = np.array([sum(f.limb_scores) for f in fragments])
    # A proximity pair (a limb shorter than a map cell, matching.py) carries score 0: no PAF evidence
    # either way, so it neither raises nor lowers the mean (counting it as 0 dropped small people
    # of the real model below min_person_score; docs/decoding.md).
    n_limbs = np.array([sum(s > 0 for s in f.limb_scores) for f in fragments])
    scores = (keypoints[..., 2].sum(1) + limb_sum) / np.maximum(n_parts + n_limbs, 1)
    lo = np.where(found[..., None], keypoints[..., :2], np.inf).min(1)
    hi = np.where(found[..., None], keypoints[..., :2], -np.inf).max(1)
    keep = (n_parts >= config.min_parts) & (scores >= config.min_person_score)
    size = hi - lo
    people = [Person(keypoints=keypoints[f], score=float(scores[f]),
                     bbox=(float(lo[f, 0]), float(lo[f, 1]), float(size[f, 0]), float(size[f, 1])))
              for f in np.flatnonzero(keep)]
    people.sort(key=lambda p: -p.score)
    return people


# ------------------------------------------------------------------------------------ formats

def ranking_score(person: Person, num_keypoints: int) -> float:
    """``score`` times the fraction of the layout's keypoints found: the score COCO results carry.

    COCO AP ranks detections by score, and a fragment (a lone arm, a head without a body) is far more
    often a false positive than a whole person, so completeness is weighed in, as OpenPose does when
    it divides the total part and limb score by the layout's part and limb count.
    """
    return float(person.score) * person.num_parts / max(1, num_keypoints)


def to_coco_results(people: Sequence[Person], skeleton: Skeleton | str, image_id: int,
                    category_id: int = 1) -> list[dict]:
    """COCO keypoint results (``loadRes`` / ``COCOeval`` input) in COCO's 17-keypoint order.

    Each found keypoint is ``x, y, c`` with ``c`` its score (COCOeval ignores it but other tools
    read it as a confidence); a keypoint not found, or one the layout lacks, is ``0, 0, 0``.  The
    result's ``score`` is ``ranking_score``.
    """
    skeleton = get_skeleton(skeleton)
    results = []
    for person in people:
        kps = skeleton.to_coco17_keypoints(np.asarray(person.keypoints, np.float32))
        flat = np.where((kps[:, 2] > 0)[:, None], kps, 0.0).astype(float)
        results.append({"image_id": int(image_id), "category_id": int(category_id),
                        "keypoints": [round(v, 3) for v in flat.reshape(-1).tolist()],
                        "score": round(ranking_score(person, skeleton.num_keypoints), 6)})
    return results


def openpose_keypoints(person: Person) -> list[float]:
    """OpenPose's flat ``pose_keypoints_2d``: x, y, c per keypoint in the layout's order (0, 0, 0 if
    not found).  For coco18 this is exactly OpenPose's COCO body order."""
    kps = np.asarray(person.keypoints, np.float32)
    flat = np.where((kps[:, 2] > 0)[:, None], kps, 0.0).astype(float)
    return [round(v, 3) for v in flat.reshape(-1).tolist()]


def to_openpose_json(people: Sequence[Person]) -> dict:
    """One frame in OpenPose's ``--write_json`` format (version 1.3; body keypoints only)."""
    empty: list[float] = []
    return {"version": 1.3, "people": [
        {"person_id": [-1], "pose_keypoints_2d": openpose_keypoints(p), "face_keypoints_2d": empty,
         "hand_left_keypoints_2d": empty, "hand_right_keypoints_2d": empty, "pose_keypoints_3d": empty,
         "face_keypoints_3d": empty, "hand_left_keypoints_3d": empty, "hand_right_keypoints_3d": empty}
        for p in people]}
