"""Posing a figure: joint angles -> a 3D body -> shapes and keypoints in image pixels.

The body is built in body axes (x = the person's left, y = up, z = forward, units of standing
height), turned to its view and projected orthographically, so turning foreshortens limbs.  The
result (:class:`Rig`) is everything drawing and labelling need; neither looks at angles again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ros2_openpose.skeletons import COCO17_NAMES

from .anatomy import (
    ARM_PARTS,
    EAR_HIDDEN,
    FOOT,
    FOREARM,
    HAND,
    HEAD,
    HEAD_R,
    HIP_HALF,
    KP,
    LEG_PARTS,
    NECK,
    NECK_PART,
    PARTS,
    R_FOOT,
    R_FOREARM,
    R_HAND,
    R_NECK,
    R_SHIN,
    R_THIGH,
    R_UPPER_ARM,
    SHIN,
    SHOULDER_HALF,
    SIDES,
    THIGH,
    TORSO,
    TRUNK,
    UPPER_ARM,
)
from .looks import Body
from .poses import Pose

# Codes of the marks drawn on top of a part (eyes, nose, ears on the head; placket on the shirt).
EYE, NOSE, EAR, PLACKET = 1, 2, 3, 4
# Where the face sits on the head sphere (head radii; x = left, y = up, z = forward).
FACE = {"nose": (0, -0.25, 1.0), "left_eye": (0.36, 0.12, 0.9), "right_eye": (-0.36, 0.12, 0.9),
        "left_ear": (0.97, 0.0, -0.1), "right_ear": (-0.97, 0.0, -0.1)}


@dataclass
class Figure:
    """A person placed in an image: ``x`` is the hip centre's column, ``ground`` the row of the
    figure's lowest point, ``height`` the standing height in pixels."""

    pose: Pose
    body: Body
    x: float
    ground: float
    height: float


class Shape(NamedTuple):
    """One filled shape of a part, in image pixels; drawn far to near by ``depth``."""

    depth: float          # pixels, larger = nearer the camera
    part: int
    kind: str             # capsule (2 points, 2 radii), polygon (convex hull, no radii), circles
    points: np.ndarray    # (n, 2)
    radii: tuple


class Mark(NamedTuple):
    """A detail (EYE, NOSE, EAR, PLACKET) drawn only where its part is on top."""

    code: int
    kind: str             # circle (one point) or line (two points)
    points: np.ndarray
    size: float           # radius, or line thickness


class Head(NamedTuple):
    """The head sphere in the image: hair is drawn from its orientation."""

    centre: np.ndarray    # (2,) pixels
    radius: float
    forward: np.ndarray   # (3,) camera axes
    up: np.ndarray        # (3,) camera axes


@dataclass
class Rig:
    """A figure posed and projected into image pixels, ready to draw and to label."""

    keypoints: np.ndarray   # (17, 3): x, y in pixels, depth in pixels (larger = nearer the camera)
    shapes: list[Shape]     # in depth order
    marks: list[Mark]
    head: Head
    unlabelled: set         # keypoints on the face of a head turned away
    self_hidden: set        # keypoints hidden behind their own head (the far ear)
    origin: np.ndarray      # hip centre in pixels
    lateral: np.ndarray     # image direction of the person's left, shortened as the body turns
    spine: np.ndarray       # image unit vector up the trunk
    bounds: tuple[int, int, int, int]  # x0, y0, x1, y1 covering every shape
    scale: float            # pixels per unit of body height (the standing height in pixels)
    part_depth: np.ndarray = field(default_factory=lambda: np.zeros(PARTS))


class Bone(NamedTuple):
    """A limb segment in body axes, drawn as a capsule tapering from ``r_a`` to ``r_b``."""

    part: int
    a: np.ndarray
    b: np.ndarray
    r_a: float
    r_b: float


@dataclass
class Posed:
    """The posed body in body axes, before any view."""

    points: dict[str, np.ndarray]   # the 17 keypoints by COCO name
    bones: list[Bone]
    neck: np.ndarray
    head: np.ndarray                # centre of the head sphere
    head_rot: np.ndarray
    spine: np.ndarray               # unit vector up the trunk
    chest: np.ndarray               # unit vector out of the chest
    trunk: np.ndarray               # (24, 3): the trunk is the convex hull of these
    placket: tuple[np.ndarray, np.ndarray]


class View(NamedTuple):
    """Body axes -> image pixels: rotation ``cam`` (camera x right, y down, z towards the camera)."""

    cam: np.ndarray
    origin: np.ndarray   # image position of the hip centre
    scale: float         # pixels per unit of height

    def px(self, v: np.ndarray) -> np.ndarray:
        """(x, y, depth) in pixels of a body-axes point."""
        q = self.cam @ v
        return np.array([self.origin[0] + q[0] * self.scale, self.origin[1] + q[1] * self.scale, q[2] * self.scale])


def _rx(deg: float) -> np.ndarray:
    """Rotation about the body's left axis: positive tips 'up' towards 'forward'."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(deg: float) -> np.ndarray:
    """Rotation about the vertical: positive turns 'forward' towards the person's left."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _limb_axes(abd: float, flex: float, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit direction of a limb from its root (body axes), and the unit direction its far end moves
    when flexion grows (elbows bend towards it)."""
    a, f = math.radians(abd), math.radians(flex)
    u = np.array([side * math.sin(a), -math.cos(a) * math.cos(f), math.cos(a) * math.sin(f)])
    w = np.array([0.0, math.sin(f), math.cos(f)])  # orthogonal to u for any a
    return u, w


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else fallback


def _arm(pose: Pose, body: Body, neck: np.ndarray, side: int, p: str) -> tuple[list[np.ndarray], list[Bone]]:
    """``([shoulder, elbow, wrist], bones)`` of one arm."""
    ex = np.eye(3)[0]
    shoulder = neck + ex * side * SHOULDER_HALF * body.breadth
    u, w = _limb_axes(getattr(pose, f"{p}_shoulder_abd"), getattr(pose, f"{p}_shoulder_flex"), side)
    twist = math.radians(getattr(pose, f"{p}_twist"))
    w = math.cos(twist) * w + side * math.sin(twist) * np.cross(w, u)
    bend = math.radians(getattr(pose, f"{p}_elbow"))
    fore = math.cos(bend) * u + math.sin(bend) * w
    elbow = shoulder + u * UPPER_ARM * body.limb
    wrist = elbow + fore * FOREARM * body.limb
    hand = wrist + fore * HAND * 0.6
    upper_p, fore_p, hand_p = ARM_PARTS[side]
    return [shoulder, elbow, wrist], [Bone(upper_p, shoulder, elbow, *R_UPPER_ARM),
                                      Bone(fore_p, elbow, wrist, *R_FOREARM),
                                      Bone(hand_p, wrist, hand, R_HAND, R_HAND * 0.9)]


def _leg(pose: Pose, body: Body, side: int, p: str) -> tuple[list[np.ndarray], list[Bone]]:
    """``([hip, knee, ankle], bones)`` of one leg; the foot points forward, square to the shin."""
    ex, ey, ez = np.eye(3)
    hip = ex * side * HIP_HALF * body.breadth
    u, w = _limb_axes(getattr(pose, f"{p}_hip_abd"), getattr(pose, f"{p}_hip_flex"), side)
    bend = math.radians(getattr(pose, f"{p}_knee"))
    shin = math.cos(bend) * u - math.sin(bend) * w  # knees bend backwards
    knee = hip + u * THIGH * body.limb
    ankle = knee + shin * SHIN * body.limb
    toe = ankle + _unit(_unit(ez - (ez @ shin) * shin, -ey) + 0.35 * shin, ez) * FOOT
    thigh_p, shin_p, foot_p = LEG_PARTS[side]
    return [hip, knee, ankle], [Bone(thigh_p, hip, knee, *R_THIGH), Bone(shin_p, knee, ankle, *R_SHIN),
                                Bone(foot_p, ankle, toe, *R_FOOT)]


def _pose_3d(pose: Pose, body: Body) -> Posed:
    """Joint angles -> joint positions and bones in body axes."""
    ex, ey, ez = np.eye(3)
    trunk = _rx(pose.pitch)
    spine, chest = trunk @ ey, trunk @ ez
    neck = spine * TRUNK * body.limb
    head_rot = _rx(0.6 * pose.pitch + pose.head_pitch) @ _ry(pose.head_yaw)
    head = neck + (head_rot @ ey) * (NECK + HEAD_R)
    points: dict[str, np.ndarray] = {}
    bones: list[Bone] = []
    for side, p, name in SIDES:
        arm, arm_bones = _arm(pose, body, neck, side, p)
        leg, leg_bones = _leg(pose, body, side, p)
        points.update(zip((f"{name}_{j}" for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")),
                          arm + leg, strict=True))
        bones += arm_bones + leg_bones
    for name, off in FACE.items():
        points[name] = head + head_rot @ np.array(off) * HEAD_R
    # The trunk: convex hull of an ellipse across the shoulders and a wider one across the pelvis.
    brd, gir = body.breadth, body.girth
    angles = np.linspace(0, 2 * math.pi, 12, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], 1)
    top = neck + spine * 0.015 + ring[:, :1] * ex * (SHOULDER_HALF * brd + 0.012) + ring[:, 1:] * chest * 0.06 * gir
    bottom = -spine * 0.035 + ring[:, :1] * ex * (HIP_HALF * brd + 0.045) + ring[:, 1:] * chest * 0.07 * gir
    # Placket down the front of the shirt: a front/back cue on the trunk that survives a flip.
    placket = (neck + chest * 0.062 - spine * 0.03, chest * 0.072 + spine * 0.03)
    return Posed(points, bones, neck, head, head_rot, spine, chest, np.concatenate([top, bottom]), placket)


def _view(figure: Figure, posed: Posed) -> View:
    """Turn by yaw, flip y to image rows, lean by roll; stand the lowest point on ``figure.ground``."""
    pose = figure.pose
    c, s = math.cos(math.radians(pose.roll)), math.sin(math.radians(pose.roll))
    cam = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([1.0, -1.0, 1.0]) @ _ry(pose.yaw)
    lowest = max(float((cam @ end)[1]) for bone in posed.bones for end in (bone.a, bone.b)) \
        + R_FOOT[0] * figure.body.girth
    scale = figure.height
    return View(cam, np.array([figure.x, figure.ground - lowest * scale]), scale)


def _body_shapes(posed: Posed, view: View, girth: float, head_c: np.ndarray) -> list[Shape]:
    """Limb capsules, the trunk polygon and the neck."""
    scale, px = view.scale, view.px
    shapes = []
    limb_bias = 0.01 * scale  # ties go to the limb: an arm at the trunk's side is drawn over it
    for part, a, b, ra, rb in posed.bones:
        pa, pb = px(a), px(b)
        shapes.append(Shape((pa[2] + pb[2]) / 2 + limb_bias, part, "capsule", np.stack([pa[:2], pb[:2]]),
                            (ra * girth * scale, rb * girth * scale)))
    hull = np.array([px(v) for v in posed.trunk])
    trunk_depth = float(hull[:, 2].mean())
    shapes.append(Shape(trunk_depth, TORSO, "polygon", hull[:, :2], ()))
    # The neck goes under both trunk and head (else it shows on the back of the head).
    shapes.append(Shape(min(trunk_depth, float(head_c[2])) - 1e-3, NECK_PART, "capsule",
                        np.stack([px(posed.neck)[:2], head_c[:2]]), (R_NECK * girth * scale,) * 2))
    return shapes


def _head_shape(head_c: np.ndarray, head_r: float, keypoints: np.ndarray,
                face: dict[str, float]) -> tuple[Shape, list[Mark]]:
    """The head (a circle, plus the ears not turned away) and its face marks.

    ``face``: each face point's depth in front of the head's centre, in head radii."""
    points, radii, marks = [head_c[:2]], [head_r], []
    for name in ("left_ear", "right_ear"):
        if face[name] > EAR_HIDDEN:  # an ear not turned away sticks out of the head's outline
            points.append(keypoints[KP[name], :2])
            radii.append(0.24 * head_r)
            marks.append(Mark(EAR, "circle", keypoints[KP[name], :2], 0.2 * head_r))
    for name, code, size in (("left_eye", EYE, 0.17), ("right_eye", EYE, 0.17), ("nose", NOSE, 0.15)):
        if face[name] > 0.15:
            marks.append(Mark(code, "circle", keypoints[KP[name], :2], max(0.7, size * head_r)))
    return Shape(float(head_c[2]), HEAD, "circles", np.array(points), tuple(radii)), marks


def _bounds(shapes: list[Shape]) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 covering every shape with its radius, plus 2 px."""
    all_xy = np.concatenate([shape.points for shape in shapes])
    margin = max(max(shape.radii) if shape.radii else 0.0 for shape in shapes) + 2
    x0, y0 = np.floor(all_xy.min(0) - margin).astype(int)
    x1, y1 = np.ceil(all_xy.max(0) + margin).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def pose_figure(figure: Figure) -> Rig:
    """Pose the body in 3D, turn it to its view and project it (orthographic) into the image."""
    posed = _pose_3d(figure.pose, figure.body)
    view = _view(figure, posed)
    cam, scale = view.cam, view.scale
    ey, ez = np.eye(3)[1:]
    keypoints = np.array([view.px(posed.points[n]) for n in COCO17_NAMES])
    head_c, head_r = view.px(posed.head), HEAD_R * scale
    face = {n: float((cam @ (posed.points[n] - posed.head))[2]) / HEAD_R for n in FACE}
    shapes = _body_shapes(posed, view, figure.body.girth, head_c)
    head_shape, marks = _head_shape(head_c, head_r, keypoints, face)
    shapes.append(head_shape)
    if (cam @ posed.chest)[2] > 0.3:  # the chest faces the camera
        marks.append(Mark(PLACKET, "line", np.stack([view.px(end)[:2] for end in posed.placket]),
                          max(1.0, 0.012 * scale)))
    head = Head(head_c[:2], head_r, cam @ posed.head_rot @ ez, cam @ posed.head_rot @ ey)
    rig = Rig(keypoints, sorted(shapes, key=lambda shape: shape.depth), marks, head,
              unlabelled={KP[n] for n in ("nose", "left_eye", "right_eye") if face[n] < 0},
              self_hidden={KP[n] for n in ("left_ear", "right_ear") if face[n] <= EAR_HIDDEN},
              origin=view.origin, lateral=(cam @ np.eye(3)[0])[:2],
              spine=_unit((cam @ posed.spine)[:2], np.array([0.0, -1.0])), bounds=_bounds(shapes), scale=scale)
    for shape in shapes:
        rig.part_depth[shape.part] = shape.depth
    return rig
