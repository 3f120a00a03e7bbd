"""Drawing a posed figure: part shapes into an owner buffer, then clothes, hair and face colours.

Shapes are drawn with OpenCV's sub-pixel fixed point (SHIFT bits) so they land on the float
keypoints exactly.  The owner buffer (person * PARTS + part, -1 for none) is what visibility and
the COCO silhouettes are read from.
"""
from __future__ import annotations

import cv2
import numpy as np

from .anatomy import ARM_PARTS, HEAD, LEG_PARTS, PARTS, TORSO
from .looks import Body, palette, tint
from .rig import EAR, EYE, NOSE, PLACKET, Rig

SHIFT = 4  # sub-pixel bits for OpenCV drawing
ONE = 1 << SHIFT


def _fix(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * ONE).astype(np.int32)


def _capsule(img: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float, value: int) -> None:
    """A tapered capsule: round ends of radii ``ra`` and ``rb`` joined by a quadrilateral."""
    for p, r in ((a, ra), (b, rb)):
        cv2.circle(img, tuple(int(v) for v in _fix(p)), round(r * ONE), value, -1, cv2.LINE_8, SHIFT)
    d = b - a
    n = float(np.hypot(*d))
    if n > 1e-6:
        perp = np.array([-d[1], d[0]]) / n
        quad = np.stack([a + perp * ra, b + perp * rb, b - perp * rb, a - perp * ra])
        cv2.fillConvexPoly(img, _fix(quad), value, cv2.LINE_8, SHIFT)


def _draw_shape(img: np.ndarray, kind: str, points: np.ndarray, radii: tuple, value: int) -> None:
    if kind == "capsule":
        _capsule(img, points[0], points[1], radii[0], radii[1], value)
    elif kind == "polygon":
        hull = cv2.convexHull(_fix(points).reshape(-1, 1, 2))
        cv2.fillConvexPoly(img, hull, value, cv2.LINE_8, SHIFT)
    else:  # circles
        for p, r in zip(points, radii, strict=True):
            cv2.circle(img, tuple(int(v) for v in _fix(p)), round(r * ONE), value, -1, cv2.LINE_8, SHIFT)


def clip_box(bounds: tuple[int, int, int, int], w: int, h: int) -> tuple[int, int, int, int] | None:
    """``bounds`` (x0, y0, x1, y1) cut to a ``w`` x ``h`` image; None when nothing is left."""
    x0, y0, x1, y1 = max(bounds[0], 0), max(bounds[1], 0), min(bounds[2], w), min(bounds[3], h)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def draw_figure(canvas: np.ndarray, owner: np.ndarray, index: int, rig: Rig, body: Body) -> None:
    """Draw one posed figure onto ``canvas`` and write ``index * PARTS + part`` into ``owner``."""
    box = clip_box(rig.bounds, canvas.shape[1], canvas.shape[0])
    if box is None:
        return
    x0, y0, x1, y1 = box
    off = np.array([x0, y0], float)
    parts = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for shape in rig.shapes:  # far to near: the painter's algorithm
        _draw_shape(parts, shape.kind, shape.points - off, shape.radii, shape.part)
    on = parts > 0
    if not on.any():
        return
    colour = palette(body)[parts]
    # Pixel positions relative to the hip centre: patterns move with the person, not the image.
    rows = np.arange(y0, y1, dtype=np.float32)[:, None] - rig.origin[1]
    cols = np.arange(x0, x1, dtype=np.float32)[None, :] - rig.origin[0]
    _patterns(colour, parts, rows, cols, body.pattern_period * rig.scale, body)
    _two_tone_trunk(colour, parts, rows, cols, rig)
    _hair(colour, parts, off, rig, body)
    _marks(colour, parts, off, rig, body)
    canvas[y0:y1, x0:x1][on] = np.clip(colour[on], 0, 255).astype(np.uint8)
    owner[y0:y1, x0:x1][on] = index * PARTS + parts[on].astype(np.int32)


def _patterns(colour: np.ndarray, parts: np.ndarray, rows: np.ndarray, cols: np.ndarray, period: float,
              body: Body) -> None:
    """Striped or checked shirts (sleeves included when long), checked trousers."""
    shirt = (parts == TORSO) | (parts == ARM_PARTS[1][0]) | (parts == ARM_PARTS[-1][0])
    if body.long_sleeves:
        shirt |= (parts == ARM_PARTS[1][1]) | (parts == ARM_PARTS[-1][1])
    if body.shirt_pattern == "stripes":
        colour[shirt & ((rows / period) % 1.0 < 0.45)] *= 0.62
    elif body.shirt_pattern == "checks":
        colour[shirt & (((rows // period) + (cols // period)) % 2 == 0)] *= 0.7
    if body.checked_pants:
        legs = [LEG_PARTS[1][0], LEG_PARTS[-1][0]] + ([] if body.shorts else [LEG_PARTS[1][1], LEG_PARTS[-1][1]])
        pants = np.isin(parts, legs)
        colour[pants & (((rows // (0.6 * period)) + (cols // (0.6 * period))) % 2 == 0)] *= 0.75


def _two_tone_trunk(colour: np.ndarray, parts: np.ndarray, rows: np.ndarray, cols: np.ndarray, rig: Rig) -> None:
    """The trunk's left half lighter, as the left limbs are; only when the body is not in profile."""
    lat = float(np.hypot(*rig.lateral))
    if lat <= 0.35:
        return
    normal = rig.lateral - (rig.lateral @ rig.spine) * rig.spine
    side = cols * normal[0] + rows * normal[1]
    trunk = parts == TORSO
    colour[trunk & (side > 0)] = colour[trunk & (side > 0)] * 0.85 + 255 * 0.15
    colour[trunk & (side < 0)] *= 0.85


def _hair(colour: np.ndarray, parts: np.ndarray, off: np.ndarray, rig: Rig, body: Body) -> None:
    """Hair over the back and top of the head sphere: from behind, the head is all hair."""
    if body.bald:
        return
    centre, r, fwd, up = rig.head
    ys, xs = np.nonzero(parts == HEAD)
    if len(ys) == 0:
        return
    dx, dy = (xs + off[0] - centre[0]) / r, (ys + off[1] - centre[1]) / r
    dz = np.sqrt(np.clip(1 - dx * dx - dy * dy, 0, None))  # the visible hemisphere faces the camera
    facing = dx * fwd[0] + dy * fwd[1] + dz * fwd[2]
    upward = dx * up[0] + dy * up[1] + dz * up[2]
    hair = (facing < 0.05) | (upward > 0.55)
    colour[ys[hair], xs[hair]] = body.hair


def _marks(colour: np.ndarray, parts: np.ndarray, off: np.ndarray, rig: Rig, body: Body) -> None:
    """Eyes, nose and ears on the head, the placket on the shirt; only where their part is on top."""
    if not rig.marks:
        return
    layer = np.zeros(parts.shape, np.uint8)
    for mark in rig.marks:
        if mark.kind == "circle":
            centre = tuple(int(v) for v in _fix(mark.points - off))
            cv2.circle(layer, centre, round(mark.size * ONE), mark.code, -1, cv2.LINE_8, SHIFT)
        else:
            a, b = (tuple(int(v) for v in end) for end in _fix(mark.points - off))
            cv2.line(layer, a, b, mark.code, max(1, round(mark.size)), cv2.LINE_8, SHIFT)
    shirt = np.asarray(body.shirt, np.float32)
    placket = np.array((235.0, 235.0, 235.0)) if shirt.mean() < 128 else np.array((25.0, 25.0, 25.0))
    for code, part, value in ((EAR, HEAD, tint(body.skin, -0.2)), (EYE, HEAD, (35.0, 25.0, 25.0)),
                              (NOSE, HEAD, tint(body.skin, -0.35)), (PLACKET, TORSO, placket)):
        sel = (layer == code) & (parts == part)
        colour[sel] = value
