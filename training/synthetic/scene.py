"""Scenes: several figures and occluders drawn in order into one image and its owner buffer."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from .backgrounds import background
from .draw import draw_figure
from .looks import Colour, random_body
from .poses import random_pose
from .rig import Figure, Rig, pose_figure


@dataclass(frozen=True)
class Occluder:
    """A box or ellipse drawn after the first ``after`` people (``after`` = all: in front of everyone)."""

    box: tuple[int, int, int, int]   # x0, y0, x1, y1 (inclusive)
    colour: Colour = (128.0, 128.0, 128.0)
    ellipse: bool = False
    stripes: bool = False
    after: int = 10 ** 6


@dataclass
class Scene:
    image: np.ndarray          # (H, W, 3) uint8 BGR
    owner: np.ndarray          # (H, W) int32: person * PARTS + part on top, -1 for none
    rigs: list[Rig]            # in drawing order (back to front)


class Layout(NamedTuple):
    """What :func:`random_scene` places: figures sorted far to near, and occluders."""

    figures: list[Figure]
    occluders: list[Occluder]


def draw_occluder(canvas: np.ndarray, owner: np.ndarray, occ: Occluder) -> None:
    """Paint ``occ`` and clear the owner buffer under it (nobody shows there)."""
    x0, y0, x1, y1 = occ.box
    mask = np.zeros(owner.shape, np.uint8)
    if occ.ellipse:
        axes = (max(1, (x1 - x0) // 2), max(1, (y1 - y0) // 2))
        cv2.ellipse(mask, ((x0 + x1) // 2, (y0 + y1) // 2), axes, 0, 0, 360, 1, -1)
    else:
        cv2.rectangle(mask, (x0, y0), (x1, y1), 1, -1)
    on = mask > 0
    colour = np.asarray(occ.colour, np.float32)
    if occ.stripes:
        stripe = (np.arange(canvas.shape[1]) // 5) % 2 == 0
        canvas[on & stripe[None, :]] = np.clip(colour * 0.6, 0, 255).astype(np.uint8)
        canvas[on & ~stripe[None, :]] = colour.astype(np.uint8)
    else:
        canvas[on] = colour.astype(np.uint8)
    owner[on] = -1


def render_scene(size: tuple[int, int], figures: Sequence[Figure], occluders: Sequence[Occluder] = (),
                 bg: np.ndarray | None = None, rng: np.random.Generator | None = None) -> Scene:
    """Draw ``figures`` in the given order (later ones in front) over ``bg`` (or a random one from
    ``rng``), with each occluder after its ``after`` people."""
    w, h = size
    image = bg.copy() if bg is not None else background(rng or np.random.default_rng(0), w, h)
    owner = np.full((h, w), -1, np.int32)
    rigs = []
    for i, fig in enumerate(figures):
        for occ in occluders:
            if occ.after == i:
                draw_occluder(image, owner, occ)
        rig = pose_figure(fig)
        draw_figure(image, owner, i, rig, fig.body)
        rigs.append(rig)
    for occ in occluders:
        if occ.after >= len(figures):
            draw_occluder(image, owner, occ)
    return Scene(image, owner, rigs)


def random_scene(rng: np.random.Generator, size: tuple[int, int], max_people: int,
                 occluder_prob: float = 0.35, bg: np.ndarray | None = None) -> Layout:
    """1..``max_people`` figures sorted far to near (by the row of their feet), and occluders."""
    avoid = None if bg is None else bg.reshape(-1, 3).mean(0)
    figures = _random_figures(rng, size, int(rng.integers(1, max_people + 1)), avoid)
    figures.sort(key=lambda f: f.ground)
    return Layout(figures, _random_occluders(rng, size, figures, occluder_prob))


def _random_figures(rng: np.random.Generator, size: tuple[int, int], count: int,
                    avoid: np.ndarray | None) -> list[Figure]:
    w, h = size
    if count == 1:
        lo, hi = 0.40, 0.95
    else:  # crowds: smaller people, so several fit
        hi = max(0.45, 0.8 - 0.08 * (count - 2))
        lo = max(0.2, hi - 0.35)
    figures: list[Figure] = []
    for _ in range(count):
        height = rng.uniform(lo, hi) * h
        ground = rng.uniform(min(height * 0.98, h), h + 0.05 * height)
        if rng.random() < 0.08:  # cut off by the bottom edge
            ground = h + rng.uniform(0.1, 0.4) * height
        if figures and rng.random() < 0.5:  # stand close to someone: crowds overlap
            x = figures[int(rng.integers(len(figures)))].x + rng.choice([-1, 1]) * rng.uniform(0.1, 0.35) * height
        else:
            x = rng.uniform(0.08, 0.92) * w
        figures.append(Figure(random_pose(rng), random_body(rng, avoid), float(x), float(ground), float(height)))
    return figures


def _random_occluders(rng: np.random.Generator, size: tuple[int, int], figures: list[Figure],
                      occluder_prob: float) -> list[Occluder]:
    w, h = size
    occluders = []
    for _ in range(int(rng.random() < occluder_prob) * int(rng.integers(1, 3))):
        ow, oh = int(rng.uniform(0.08, 0.35) * w), int(rng.uniform(0.08, 0.5) * h)
        if rng.random() < 0.6:  # over someone, so it hides something
            f = figures[int(rng.integers(len(figures)))]
            cx, cy = f.x + rng.normal(0, 0.15) * f.height, f.ground - rng.uniform(0.1, 0.9) * f.height
        else:
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        box = (int(cx - ow / 2), int(cy - oh / 2), int(cx + ow / 2), int(cy + oh / 2))
        occluders.append(Occluder(box, colour=tuple(float(c) for c in rng.integers(0, 256, 3)),
                                  ellipse=bool(rng.random() < 0.3), stripes=bool(rng.random() < 0.3),
                                  after=int(rng.integers(0, len(figures) + 1))))
    return occluders
