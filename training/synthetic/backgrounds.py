"""Random backgrounds: gradients, blotches, patterns and clutter, so that edges alone don't mean 'person'."""
from __future__ import annotations

import math

import cv2
import numpy as np


def background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A colour gradient with blotches, a pattern, clutter shapes and noise: edges alone don't mean
    'person'.  Some clutter is limb-like (thick round-ended lines) on purpose."""
    corners = rng.integers(0, 256, (2, 2, 3)).astype(np.float32)
    img = cv2.resize(corners, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.6:
        cells = rng.normal(0, rng.uniform(10, 40), (max(2, h // 24), max(2, w // 24), 3)).astype(np.float32)
        img += cv2.resize(cells, (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.35:  # stripes or checks at a random angle
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        a, period = rng.uniform(0, math.pi), rng.uniform(6, 40)
        wave = np.sin((xx * math.cos(a) + yy * math.sin(a)) * 2 * math.pi / period)
        if rng.random() < 0.4:
            wave = wave * np.sin((-xx * math.sin(a) + yy * math.cos(a)) * 2 * math.pi / period)
        img += (np.sign(wave) * rng.uniform(8, 35))[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 9))):
        _clutter(rng, img, w, h)
    if rng.random() < 0.7:
        img = np.clip(img + rng.normal(0, rng.uniform(2, 10), (h, w, 1)).astype(np.float32), 0, 255).astype(np.uint8)
    return img


def _clutter(rng: np.random.Generator, img: np.ndarray, w: int, h: int) -> None:
    """One random rectangle, ellipse or thick line."""
    col = tuple(int(c) for c in rng.integers(0, 256, 3))
    x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
    kind = rng.random()
    if kind < 0.35:
        corner = (x + int(rng.integers(3, max(4, w // 3))), y + int(rng.integers(3, max(4, h // 3))))
        cv2.rectangle(img, (x, y), corner, col, -1)
    elif kind < 0.7:
        axes = (int(rng.integers(2, max(3, w // 6))), int(rng.integers(2, max(3, h // 6))))
        cv2.ellipse(img, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, col, -1, cv2.LINE_AA)
    else:
        end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.line(img, (x, y), end, col, int(rng.integers(1, max(2, h // 25))), cv2.LINE_AA)


def finish(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Camera-ish degradations of a finished image: a little blur and sensor noise."""
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    if rng.random() < 0.5:
        noise = rng.normal(0, rng.uniform(1, 5), image.shape).astype(np.float32)
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
    return image
