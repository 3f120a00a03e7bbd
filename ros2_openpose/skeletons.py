"""Skeleton layouts: the one place that says which keypoints exist and which limbs join them.

Everything else (networks, targets, decoding, messages, drawing, training, evaluation) reads its
keypoint count, limb list and PAF channel order from here.

Two layouts:

* ``coco17`` -- the original design's layout: COCO's 17 keypoints in COCO order, heatmap channel 17
  is background, 23 limbs (the 19 COCO skeleton edges plus 4 "extra" long-range limbs
  shoulder->wrist and hip->ankle that help in crowds), PAF channels ``2k`` (x) and ``2k+1`` (y).
* ``coco18`` -- CMU OpenPose's COCO body model: 18 keypoints with a neck, channel 18 is background,
  19 limbs whose PAF channel pairs follow CMU's (non-sequential) order.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: COCO's keypoint names, in COCO order (``categories[0]['keypoints']`` of person_keypoints json).
COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

#: COCO's per-keypoint OKS sigmas (pycocotools ``COCOeval.params.kpt_oks_sigmas``), COCO order.
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89],
                       dtype=np.float32) / 10.0


@dataclass(frozen=True)
class Skeleton:
    """A keypoint layout and the limbs (PAF fields) that connect it.

    ``limbs[k] = (a, b)`` is a directed limb: its PAF points from keypoint ``a`` to keypoint ``b``
    and lives in PAF channels ``paf_channels[k] = (cx, cy)``.  ``extra[k]`` marks limbs that are
    redundant long-range evidence (not needed to connect the tree).  ``to_coco17[j]`` is the index
    in this layout of COCO keypoint ``j``.  ``flip_pairs`` are the left/right keypoint pairs swapped
    by a horizontal flip.
    """

    name: str
    keypoint_names: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]
    paf_channels: tuple[tuple[int, int], ...]
    extra: tuple[bool, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    to_coco17: tuple[int, ...]
    description: str = ""
    _limb_index: dict[tuple[int, int], int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        k, n = self.num_keypoints, len(self.limbs)
        if len(self.paf_channels) != n or len(self.extra) != n:
            raise ValueError(f"{self.name}: limbs, paf_channels and extra must have one entry per limb")
        chans = sorted(c for pair in self.paf_channels for c in pair)
        if chans != list(range(2 * n)):
            raise ValueError(f"{self.name}: PAF channels must be a permutation of 0..{2 * n - 1}")
        if any(not (0 <= a < k and 0 <= b < k and a != b) for a, b in self.limbs):
            raise ValueError(f"{self.name}: limb endpoint out of range")
        if len(self.to_coco17) != 17:
            raise ValueError(f"{self.name}: to_coco17 must have 17 entries")
        object.__setattr__(self, "_limb_index", {limb: i for i, limb in enumerate(self.limbs)})

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @property
    def num_limbs(self) -> int:
        return len(self.limbs)

    @property
    def num_heatmaps(self) -> int:
        """Keypoint channels plus one background channel (the last)."""
        return self.num_keypoints + 1

    @property
    def num_pafs(self) -> int:
        return 2 * self.num_limbs

    def limb_ids(self, use_extra: bool = True) -> list[int]:
        """Indices of the limbs to decode; the extra limbs only when ``use_extra``."""
        return [i for i, e in enumerate(self.extra) if use_extra or not e]

    def limb_ends(self, limb_ids: Sequence[int]) -> np.ndarray:
        """``(L, 2)`` int64: the (part A, part B) of each of ``limb_ids``."""
        return np.array([self.limbs[i] for i in limb_ids], np.int64).reshape(-1, 2)

    def flip_permutation(self) -> np.ndarray:
        """Keypoint index permutation that a horizontal flip applies (left <-> right)."""
        perm = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def flip_limb_permutation(self) -> tuple[np.ndarray, np.ndarray]:
        """For each limb after a flip: which limb it came from and whether its direction reversed.

        A flipped image relabels left and right, so limb (a, b) becomes (perm[a], perm[b]).  That is
        either another limb of the skeleton with the same direction, or (for cross-body limbs such
        as l_hip->r_hip) the same limb pointing the other way.  Returns ``(source, sign)`` with
        ``new_paf[k] = sign[k] * flipped(old_paf[source[k]])``.
        """
        perm = self.flip_permutation()
        source = np.zeros(self.num_limbs, dtype=np.int64)
        sign = np.ones(self.num_limbs, dtype=np.float32)
        for k, (a, b) in enumerate(self.limbs):
            fa, fb = int(perm[a]), int(perm[b])
            if (fa, fb) in self._limb_index:
                source[self._limb_index[(fa, fb)]] = k
            elif (fb, fa) in self._limb_index:
                j = self._limb_index[(fb, fa)]
                source[j], sign[j] = k, -1.0
            else:
                raise ValueError(f"{self.name}: limb {a}->{b} has no mirror limb")
        return source, sign

    def flip_channels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """How a horizontal mirror moves map channels: ``(heatmap_source, paf_source, paf_sign)``.

        The mirrored image's maps, flipped back along x, become this image's maps with
        ``heatmaps[c] = flipped[heatmap_source[c]]`` (background stays last) and
        ``pafs[c] = paf_sign[c] * flipped[paf_source[c]]``: the limb's channel moves to its mirror
        limb (``flip_limb_permutation``) and the x component changes sign under the mirror.
        Used by the training augmentation and by flip test-time augmentation alike.
        """
        heatmap_source = np.concatenate([self.flip_permutation(), [self.num_keypoints]])
        source, sign = self.flip_limb_permutation()
        paf_source = np.zeros(self.num_pafs, dtype=np.int64)
        paf_sign = np.ones(self.num_pafs, dtype=np.float32)
        for k, (cx, cy) in enumerate(self.paf_channels):
            sx, sy = self.paf_channels[source[k]]
            paf_source[cx], paf_sign[cx] = sx, -sign[k]
            paf_source[cy], paf_sign[cy] = sy, sign[k]
        return heatmap_source, paf_source, paf_sign

    def from_coco17(self, keypoints: np.ndarray) -> np.ndarray:
        """Convert COCO keypoints ``(..., 17, 3)`` (x, y, v) into this layout ``(..., K, 3)``.

        Keypoints this layout has but COCO lacks are derived: coco18's neck is the midpoint of the
        shoulders, and only when both shoulders are labelled (v > 0); its v is the lower of the two.
        """
        kps = np.asarray(keypoints, dtype=np.float32)
        out = np.zeros((*kps.shape[:-2], self.num_keypoints, 3), dtype=np.float32)
        for j, i in enumerate(self.to_coco17):
            out[..., i, :] = kps[..., j, :]
        if self.name == "coco18":
            ls, rs = kps[..., 5, :], kps[..., 6, :]
            both = (ls[..., 2] > 0) & (rs[..., 2] > 0)
            neck = np.where(both[..., None],
                            np.concatenate([(ls[..., :2] + rs[..., :2]) / 2,
                                            np.minimum(ls[..., 2:], rs[..., 2:])], axis=-1), 0.0)
            out[..., 1, :] = neck
        return out

    def to_coco17_keypoints(self, keypoints: np.ndarray) -> np.ndarray:
        """Select this layout's keypoints ``(..., K, C)`` in COCO order ``(..., 17, C)``."""
        return np.asarray(keypoints)[..., list(self.to_coco17), :]


COCO17 = Skeleton(
    name="coco17",
    keypoint_names=COCO17_NAMES,
    limbs=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
           (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
           (5, 9), (6, 10), (11, 15), (12, 16)),
    paf_channels=tuple((2 * k, 2 * k + 1) for k in range(23)),
    extra=(False,) * 19 + (True,) * 4,
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    to_coco17=tuple(range(17)),
    description="COCO 17 keypoints + background; 19 COCO limbs + 4 extra (shoulder->wrist, hip->ankle)",
)

COCO18 = Skeleton(
    name="coco18",
    keypoint_names=("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
                    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
                    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear"),
    limbs=((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
           (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17)),
    # CMU's channel order (pytorch-openpose mapIdx minus the 19 heatmap channels).
    paf_channels=((12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3),
                  (4, 5), (6, 7), (8, 9), (10, 11), (28, 29), (30, 31), (34, 35), (32, 33),
                  (36, 37), (18, 19), (26, 27)),
    # CMU's ear->shoulder limbs are the redundant ones in this layout.
    extra=(False,) * 17 + (True,) * 2,
    flip_pairs=((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17)),
    to_coco17=(0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10),
    description="CMU OpenPose COCO body: 18 keypoints (with neck) + background; 19 limbs",
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (COCO17, COCO18)}


def get_skeleton(name: str | Skeleton) -> Skeleton:
    """Look a skeleton up by name (a Skeleton passes through)."""
    if isinstance(name, Skeleton):
        return name
    try:
        return SKELETONS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton {name!r}; known: {sorted(SKELETONS)}") from None
