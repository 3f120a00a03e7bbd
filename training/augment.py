"""Training augmentation: one affine matrix moves image, keypoints and loss mask together.

The random part (:func:`random_affine`) draws scale, rotation, crop-centre jitter and a flip, and
returns a 2x3 matrix from image pixels to network-input pixels.  Targets are rendered afterwards from
the transformed keypoints, so a flipped PAF is right by construction; :func:`flip_maps` is the
map-level equivalent (used to check that claim and for flip test-time augmentation).

Pixel convention: pixel-index coordinates (pixel ``x`` covers ``[x - 0.5, x + 0.5)``), the same as
``cv2.warpAffine`` and ``docs/architecture.md``, so a horizontal flip of a ``W`` wide input maps
``x`` to ``W - 1 - x``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np

from ros2_openpose.skeletons import Skeleton


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transform; the defaults are the original CMU training's."""

    scale_min: float = 0.5        # multiplier on the scale that makes the main person target_dist tall
    scale_max: float = 1.1
    target_dist: float = 0.6      # main person's height as a fraction of the input size at multiplier 1
    max_rotate: float = 40.0      # degrees, uniform in [-max_rotate, max_rotate]
    center_jitter: float = 0.11   # crop centre shift, fraction of the input size (CMU: 40 px at 368)
    flip_prob: float = 0.5
    brightness: float = 0.3       # multiplicative, uniform in [1 - b, 1 + b]
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.05             # fraction of the hue circle
    main_min_keypoints: int = 5   # people centred on (and scaled by) need this many labelled parts

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> AugmentConfig:
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown augment setting(s): {sorted(unknown)}")
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def affine_matrix(center: tuple[float, float], scale: float, angle: float, out_size: int,
                  flip: bool = False, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """2x3 matrix taking image point ``center`` to the output centre (plus ``shift``).

    ``scale`` is output pixels per image pixel, ``angle`` in degrees (OpenCV's sense), ``flip``
    mirrors the output horizontally about its centre.
    """
    a = math.radians(angle)
    cos, sin = math.cos(a) * scale, math.sin(a) * scale
    lin = np.array([[cos, sin], [-sin, cos]], dtype=np.float64)
    mid = (out_size - 1) / 2.0
    t = np.array([mid + shift[0], mid + shift[1]]) - lin @ np.asarray(center, dtype=np.float64)
    m = np.concatenate([lin, t[:, None]], axis=1)
    if flip:
        m = np.array([[-1.0, 0.0, out_size - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    return m


def letterbox_affine(image_hw: tuple[int, int], out_size: int) -> np.ndarray:
    """The deterministic transform for validation: whole image fitted and centred, no flip."""
    h, w = image_hw
    scale = out_size / max(h, w)
    return affine_matrix(((w - 1) / 2.0, (h - 1) / 2.0), scale, 0.0, out_size)


def choose_main_person(keypoints: np.ndarray, rng: np.random.Generator,
                       min_keypoints: int) -> int | None:
    """Index of a random person to centre the crop on: well-labelled people first, else anyone."""
    if len(keypoints) == 0:
        return None
    labelled = (keypoints[..., 2] > 0).sum(axis=1)
    pool = np.flatnonzero(labelled >= min_keypoints)
    if pool.size == 0:
        pool = np.flatnonzero(labelled > 0)
    if pool.size == 0:
        return None
    return int(rng.choice(pool))


def random_affine(rng: np.random.Generator, image_hw: tuple[int, int], keypoints: np.ndarray,
                  boxes: np.ndarray, out_size: int, cfg: AugmentConfig) -> tuple[np.ndarray, bool]:
    """Draw one training transform; returns ``(matrix 2x3, flipped)``.

    The crop is centred on a random labelled person (bbox centre), scaled so that person is
    ``target_dist * out_size`` tall times a multiplier in ``[scale_min, scale_max]``; images without
    labelled people are fitted whole and only jittered.
    """
    h, w = image_hw
    main = choose_main_person(keypoints, rng, cfg.main_min_keypoints)
    if main is None:
        center = ((w - 1) / 2.0, (h - 1) / 2.0)
        base = out_size / max(h, w)
    else:
        x, y, bw, bh = boxes[main]
        center = (x + bw / 2.0, y + bh / 2.0)
        # Tiny boxes would be blown up by 10x+: cap the zoom at 4x (CMU crops had the same effect).
        base = min(cfg.target_dist * out_size / max(bh, 1.0), 4.0)
    scale = base * rng.uniform(cfg.scale_min, cfg.scale_max)
    angle = rng.uniform(-cfg.max_rotate, cfg.max_rotate)
    jitter = cfg.center_jitter * out_size
    shift = (rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter))
    flip = bool(rng.random() < cfg.flip_prob)
    return affine_matrix(center, scale, angle, out_size, flip, shift), flip


def warp_image(image: np.ndarray, matrix: np.ndarray, out_size: int,
               pad_bgr: tuple[float, float, float] = (128.0, 128.0, 128.0)) -> np.ndarray:
    """Warp a BGR image; outside the source is ``pad_bgr`` (the input format's zero, as at inference)."""
    return cv2.warpAffine(image, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in pad_bgr))


def warp_mask(mask: np.ndarray, matrix: np.ndarray, out_size: int) -> np.ndarray:
    """Warp a 0/1 loss mask to the input; outside the source image is padding, real background (1).

    Nearest neighbour keeps it 0/1 per input pixel, so after the stride-8 area average a cell's
    weight is exactly the fraction of its pixels outside every ignored region.
    """
    return cv2.warpAffine(mask.astype(np.float32), matrix, (out_size, out_size),
                          flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 ``matrix`` to (..., 2) points."""
    pts = np.asarray(points, np.float32)
    return pts @ matrix[:, :2].T.astype(np.float32) + matrix[:, 2].astype(np.float32)


def transform_keypoints(keypoints: np.ndarray, matrix: np.ndarray, flip: bool,
                        skeleton: Skeleton) -> np.ndarray:
    """Apply ``matrix`` to (N, K, 3) keypoints; after a flip, swap left/right labels.

    Unlabelled keypoints (v == 0) keep x = y = 0 so nothing downstream mistakes them for points.
    Keypoints that leave the crop keep their v: their Gaussian tails and limbs still reach into it.
    """
    out = np.array(keypoints, dtype=np.float32, copy=True)
    if out.size == 0:
        return out.reshape(0, skeleton.num_keypoints, 3)
    out[..., :2] = transform_points(out[..., :2], matrix)
    out[out[..., 2] <= 0] = 0.0
    if flip:
        out = out[:, skeleton.flip_permutation()]
    return out


def flip_keypoints(keypoints: np.ndarray, width: int, skeleton: Skeleton) -> np.ndarray:
    """Mirror (N, K, 3) keypoints in an image ``width`` pixels wide and swap left/right labels."""
    m = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])
    return transform_keypoints(keypoints, m, True, skeleton)


def flip_maps(heatmaps: np.ndarray, pafs: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Map-level horizontal flip of (K+1, h, w) heatmaps and (2L, h, w) PAFs.

    Heatmap channels follow the keypoint permutation (background stays last).  A PAF's x component
    changes sign under a mirror, and its channel moves to the mirror limb; a cross-body limb (say
    l_hip -> r_hip) is its own mirror pointing the other way (``skeleton.flip_channels``).  Equal to
    rendering flipped keypoints when the input width is ``stride * w``.
    """
    heatmap_source, paf_source, paf_sign = skeleton.flip_channels()
    hm = heatmaps[heatmap_source, :, ::-1]
    out = pafs[paf_source, :, ::-1] * paf_sign[:, None, None].astype(pafs.dtype)
    return np.ascontiguousarray(hm), out


def color_jitter(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Random brightness, contrast, saturation and hue on a BGR uint8 image (a new array)."""
    img = image.astype(np.float32)
    if cfg.brightness > 0:
        img *= rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
    if cfg.contrast > 0:
        mean = img.mean()
        img = (img - mean) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + mean
    if cfg.saturation > 0:
        gray = img @ np.array([0.114, 0.587, 0.299], np.float32)
        img = gray[..., None] + (img - gray[..., None]) * rng.uniform(1 - cfg.saturation,
                                                                      1 + cfg.saturation)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if cfg.hue > 0:
        hsv = cv2.cvtColor(out, cv2.COLOR_BGR2HSV)
        shift = round(rng.uniform(-cfg.hue, cfg.hue) * 180)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    return out
