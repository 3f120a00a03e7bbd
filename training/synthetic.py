"""Synthetic people: articulated figures rendered into COCO-format keypoint datasets and clips.

For smoke tests, CI, the demo clip and the shipped demo model.  It is NOT a substitute for COCO:
the figures are flat-shaded capsules, and a network trained on them does not find real people.

A figure is a kinematic tree (trunk, head, two arms, two legs) posed in 3D with joint angles inside
human limits, turned to any view (front, back, side), projected orthographically and drawn far part
first, so turning foreshortens limbs and the near limbs cover the far ones.  The person's left limbs
are drawn lighter and the right limbs darker, the face (eyes, nose) shows only from the front and
hair covers the back of the head, so left/right and front/back can be learnt from appearance.

A per-pixel owner buffer (person and body part on top) decides visibility: a keypoint covered by a
later person, an occluder or a nearer part of its own body gets v=1; one outside the image v=0 with
x = y = 0 (as COCO stores it), and so do eyes and nose on a head turned away (COCO annotators leave
those unlabelled).  Keypoints use the project's pixel-index convention (docs/architecture.md).

    python -m training.synthetic --out DIR --num N --seed S [--size 256] [--max-people 4] [--split val]
    python -m training.synthetic --video clip.mp4 --num FRAMES --seed S [--size 240] [--fps 10]
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ros2_openpose.skeletons import COCO17, COCO17_NAMES

KP = {name: i for i, name in enumerate(COCO17_NAMES)}

# Lengths as fractions of standing height (ground to top of head), close to anthropometric tables:
# ankle 0.04, knee 0.285, hip joint 0.53, shoulder 0.82, top of head 1.0.
ANKLE_HEIGHT, SHIN, THIGH, TRUNK, NECK, HEAD_R = 0.04, 0.245, 0.245, 0.29, 0.05, 0.065
UPPER_ARM, FOREARM, HAND, FOOT = 0.18, 0.15, 0.05, 0.075
SHOULDER_HALF, HIP_HALF = 0.115, 0.085
# Radii (at the near and far joint) as fractions of height; generous so small figures stay visible.
R_UPPER_ARM, R_FOREARM, R_HAND = (0.034, 0.028), (0.027, 0.021), 0.026
R_THIGH, R_SHIN, R_FOOT, R_NECK = (0.056, 0.042), (0.040, 0.029), (0.024, 0.019), 0.03
SIDE_SHADE = 0.35  # left parts this much towards white, right parts towards black

# Body parts (owner buffer value = person * PARTS + part; 0 = none).
TORSO, HEAD, NECK_PART = 1, 2, 3
ARM_PARTS = {1: (4, 5, 6), -1: (7, 8, 9)}        # side +1 = the person's left: upper arm, forearm, hand
LEG_PARTS = {1: (10, 11, 12), -1: (13, 14, 15)}  # thigh, shin, foot
PARTS = 16
SIDES = ((1, "l", "left"), (-1, "r", "right"))


def _adjacent_parts() -> dict[int, set[int]]:
    """The parts a keypoint belongs to: a keypoint under one of them is on top, not covered."""
    adjacent = {KP[n]: {HEAD} for n in COCO17_NAMES[:5]}
    for side, _, name in SIDES:
        upper, fore, hand = ARM_PARTS[side]
        thigh, shin, foot = LEG_PARTS[side]
        adjacent.update({KP[f"{name}_shoulder"]: {upper}, KP[f"{name}_elbow"]: {upper, fore},
                         KP[f"{name}_wrist"]: {fore, hand}, KP[f"{name}_hip"]: {thigh},
                         KP[f"{name}_knee"]: {thigh, shin}, KP[f"{name}_ankle"]: {shin, foot}})
    return adjacent


ADJACENT = _adjacent_parts()
# A keypoint covered by a part of its own body counts as hidden only when that part is this much
# (fraction of height, about the trunk's half depth) nearer the camera: a shoulder under its own
# trunk seen from the front is visible, the far shoulder in profile is not.
SELF_OCCLUSION = 0.08
# An ear is hidden behind its own head once it is this far (head radii) behind the head's centre:
# about 30 degrees of turn away from the camera.
EAR_HIDDEN = -0.45


# ---------------------------------------------------------------------------------------- poses
@dataclass(frozen=True)
class Pose:
    """Joint angles in degrees; the defaults are a relaxed stand facing the camera.

    ``yaw`` turns the body about the vertical (90: facing image right, 180: back to the camera),
    ``roll`` leans it in the image plane, ``pitch`` bends the trunk forward.  Shoulder and hip
    ``flex`` swings a limb forward (180: straight up in front), ``abd`` out to the side (180: up
    over the head).  Elbows bend forward, knees backward; ``twist`` turns the elbow's bending plane
    from forward (0) to upward (90), which is how a raised arm waves.
    """

    yaw: float = 0.0
    roll: float = 0.0
    pitch: float = 0.0
    head_yaw: float = 0.0
    head_pitch: float = 0.0
    l_shoulder_flex: float = 0.0
    l_shoulder_abd: float = 8.0
    l_elbow: float = 10.0
    l_twist: float = 0.0
    r_shoulder_flex: float = 0.0
    r_shoulder_abd: float = 8.0
    r_elbow: float = 10.0
    r_twist: float = 0.0
    l_hip_flex: float = 0.0
    l_hip_abd: float = 4.0
    l_knee: float = 0.0
    r_hip_flex: float = 0.0
    r_hip_abd: float = 4.0
    r_knee: float = 0.0


# Joint-angle limits (degrees), per joint without its side prefix; yaw is free.
LIMITS = {"roll": (-12, 12), "pitch": (-10, 50), "head_yaw": (-45, 45), "head_pitch": (-25, 25),
          "shoulder_flex": (-50, 180), "shoulder_abd": (-15, 180), "elbow": (0, 145), "twist": (0, 90),
          "hip_flex": (-25, 120), "hip_abd": (-10, 45), "knee": (0, 150)}


def _limit_of(name: str) -> tuple[float, float] | None:
    return LIMITS.get(name[2:] if name[:2] in ("l_", "r_") else name)


def clamp_pose(pose: Pose) -> Pose:
    """The pose with every joint angle clipped into :data:`LIMITS`."""
    values = {}
    for f in fields(pose):
        limit = _limit_of(f.name)
        value = getattr(pose, f.name)
        values[f.name] = float(np.clip(value, *limit)) if limit else float(value)
    return Pose(**values)


def interpolate(a: Pose, b: Pose, t: float) -> Pose:
    """Joint angles blended linearly: ``t`` = 0 gives ``a``, 1 gives ``b``."""
    return Pose(**{f.name: (1 - t) * getattr(a, f.name) + t * getattr(b, f.name) for f in fields(a)})


def walking_pose(phase: float, yaw: float = 90.0) -> Pose:
    """A walking cycle (radians): legs swing in opposition to the arms, the swing knee bends."""
    s, c = math.sin(phase), math.cos(phase)
    return Pose(yaw=yaw, pitch=4.0,
                l_shoulder_flex=-22 * s, r_shoulder_flex=22 * s,
                l_elbow=15 + 20 * max(0.0, -s), r_elbow=15 + 20 * max(0.0, s),
                l_hip_flex=24 * s, r_hip_flex=-24 * s,
                l_knee=6 + 40 * max(0.0, c) ** 1.5, r_knee=6 + 40 * max(0.0, -c) ** 1.5)


def random_yaw(rng: np.random.Generator) -> float:
    """Mostly front views (the face shows), some backs, some profiles; never exactly square-on."""
    r = rng.random()
    base = 0.0 if r < 0.5 else 180.0 if r < 0.7 else 90.0 * (1 if rng.random() < 0.5 else -1)
    return base + rng.uniform(-35, 35)


def _arm(rng: np.random.Generator, kind: str) -> dict[str, float]:
    u = rng.uniform
    if kind == "raised":
        if rng.random() < 0.5:  # out to the side and up
            return {"shoulder_abd": u(60, 175), "shoulder_flex": u(-10, 40), "elbow": u(0, 110), "twist": u(40, 90)}
        return {"shoulder_flex": u(60, 175), "shoulder_abd": u(0, 40), "elbow": u(0, 110), "twist": u(40, 90)}
    if kind == "forward":
        return {"shoulder_flex": u(10, 90), "shoulder_abd": u(0, 30), "elbow": u(10, 110), "twist": u(0, 40)}
    if kind == "free":
        return {k: u(*LIMITS[k]) for k in ("shoulder_flex", "shoulder_abd", "elbow", "twist")}
    return {"shoulder_flex": rng.normal(0, 12), "shoulder_abd": u(3, 25), "elbow": u(0, 35), "twist": u(0, 30)}


def _leg(rng: np.random.Generator, kind: str) -> dict[str, float]:
    u = rng.uniform
    if kind == "sitting":
        return {"hip_flex": u(65, 100), "hip_abd": u(0, 20), "knee": u(65, 110)}
    if kind == "crouch":
        return {"hip_flex": u(80, 120), "hip_abd": u(0, 25), "knee": u(100, 150)}
    if kind == "free":
        return {k: u(*LIMITS[k]) for k in ("hip_flex", "hip_abd", "knee")}
    return {"hip_flex": u(-5, 10), "hip_abd": u(0, 12), "knee": u(0, 12)}


POSE_KINDS = ("standing", "walking", "arms_raised", "sitting", "crouch", "free")
POSE_WEIGHTS = (0.22, 0.25, 0.18, 0.1, 0.1, 0.15)


def random_pose(rng: np.random.Generator, kind: str | None = None) -> Pose:
    """A pose of ``kind`` (one of :data:`POSE_KINDS`; random when None), inside the joint limits."""
    u = rng.uniform
    if kind is None:
        kind = POSE_KINDS[int(rng.choice(len(POSE_KINDS), p=POSE_WEIGHTS))]
    yaw = random_yaw(rng)
    if kind == "walking":
        base = walking_pose(u(0, 2 * math.pi), yaw)
        values = {f.name: getattr(base, f.name) + (rng.normal(0, 5) if f.name != "yaw" else 0.0)
                  for f in fields(base)}
    else:
        arms = {"arms_raised": ("raised", "raised" if rng.random() < 0.5 else "low"),
                "sitting": ("forward", "low"), "crouch": ("forward", "forward"),
                "free": ("free", "free")}.get(kind, ("low", "low"))
        legs = kind if kind in ("sitting", "crouch", "free") else "standing"
        order = [0, 1] if rng.random() < 0.5 else [1, 0]  # which side gets the first arm kind
        values = {"yaw": yaw}
        for (_, prefix, _), arm_kind in zip(SIDES, [arms[i] for i in order]):
            values.update({f"{prefix}_{k}": v for k, v in _arm(rng, arm_kind).items()})
        for _, prefix, _ in SIDES:
            values.update({f"{prefix}_{k}": v for k, v in _leg(rng, legs).items()})
        values["pitch"] = {"sitting": u(-5, 20), "crouch": u(20, 50), "free": u(-10, 40)}.get(kind, u(-5, 8))
    values.update(roll=u(-6, 6), head_yaw=u(-30, 30), head_pitch=u(-15, 15))
    return clamp_pose(Pose(**values))


# ----------------------------------------------------------------------------------- body looks
Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Body:
    """What a person looks like: proportions, clothes (BGR colours) and their patterns."""

    limb: float = 1.0      # limb length factor
    breadth: float = 1.0   # shoulder and hip width factor
    girth: float = 1.0     # limb thickness factor
    shirt: Colour = (160.0, 90.0, 40.0)
    pants: Colour = (60.0, 60.0, 60.0)
    skin: Colour = (120.0, 160.0, 210.0)
    hair: Colour = (30.0, 30.0, 40.0)
    shoes: Colour = (30.0, 30.0, 30.0)
    long_sleeves: bool = True
    shorts: bool = False
    shirt_pattern: str = "plain"   # plain, stripes, checks
    pattern_period: float = 0.05   # fraction of height
    checked_pants: bool = False
    bald: bool = False


def _colour_away_from(rng: np.random.Generator, avoid: np.ndarray | None, lo: int = 20, hi: int = 236) -> Colour:
    """A random colour, re-drawn a few times while it is close to ``avoid`` (the background)."""
    for _ in range(6):
        c = rng.integers(lo, hi, 3).astype(float)
        if avoid is None or np.abs(c - avoid).sum() > 120:
            break
    return tuple(float(v) for v in c)


def random_body(rng: np.random.Generator, avoid: np.ndarray | None = None) -> Body:
    """Random proportions and clothes; ``avoid`` (BGR) keeps clothes from matching the background."""
    u = rng.uniform
    t = u(0, 1)  # skin tone from dark brown to pale
    skin = tuple(float(a + (b - a) * t + rng.normal(0, 6)) for a, b in zip((45, 65, 100), (185, 205, 240)))
    hair = [(25, 25, 30), (30, 50, 90), (80, 140, 190), (170, 170, 175), (20, 40, 140)][int(rng.integers(0, 5))]
    return Body(limb=u(0.93, 1.07), breadth=u(0.88, 1.12), girth=u(0.85, 1.25),
                shirt=_colour_away_from(rng, avoid), pants=_colour_away_from(rng, avoid),
                skin=skin, hair=tuple(float(c) for c in hair), shoes=_colour_away_from(rng, None, 10, 120),
                long_sleeves=bool(rng.random() < 0.6), shorts=bool(rng.random() < 0.25),
                shirt_pattern=("plain", "stripes", "checks")[int(rng.choice(3, p=(0.5, 0.3, 0.2)))],
                pattern_period=u(0.035, 0.08), checked_pants=bool(rng.random() < 0.2),
                bald=bool(rng.random() < 0.1))


def _tint(colour: Colour, amount: float) -> np.ndarray:
    """Move a colour towards white (amount > 0) or black (amount < 0)."""
    c = np.asarray(colour, np.float32)
    return c + ((255.0 if amount > 0 else 0.0) - c) * abs(amount)


def _palette(body: Body) -> np.ndarray:
    """(PARTS, 3) float32 BGR colour of each part; left parts lighter, right parts darker."""
    pal = np.zeros((PARTS, 3), np.float32)
    pal[TORSO], pal[HEAD], pal[NECK_PART] = body.shirt, body.skin, body.skin
    for side, _, _ in SIDES:
        shade = SIDE_SHADE * side
        upper, fore, hand = ARM_PARTS[side]
        thigh, shin, foot = LEG_PARTS[side]
        pal[upper] = _tint(body.shirt, shade)
        pal[fore] = _tint(body.shirt if body.long_sleeves else body.skin, shade)
        pal[hand] = _tint(body.skin, shade)
        pal[thigh] = _tint(body.pants, shade)
        pal[shin] = _tint(body.skin if body.shorts else body.pants, shade)
        pal[foot] = _tint(body.shoes, shade)
    return pal


# ------------------------------------------------------------------------------ posed figures
def _rx(deg: float) -> np.ndarray:
    """Rotation about the body's left axis: positive tips 'up' towards 'forward'."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(deg: float) -> np.ndarray:
    """Rotation about the vertical: positive turns 'forward' towards the person's left."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _limb_axes(abd: float, flex: float, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit direction of a limb from its root (body axes: x = person's left, y = up, z = forward),
    and the unit direction its far end moves when flexion grows (elbows bend towards it)."""
    a, f = math.radians(abd), math.radians(flex)
    u = np.array([side * math.sin(a), -math.cos(a) * math.cos(f), math.cos(a) * math.sin(f)])
    w = np.array([0.0, math.sin(f), math.cos(f)])  # orthogonal to u for any a
    return u, w


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else fallback


@dataclass
class Figure:
    """A person placed in an image: ``x`` is the hip centre's column, ``ground`` the row of the
    figure's lowest point, ``height`` the standing height in pixels."""

    pose: Pose
    body: Body
    x: float
    ground: float
    height: float


@dataclass
class Rig:
    """A figure posed and projected into image pixels, ready to draw and to label."""

    keypoints: np.ndarray   # (17, 3): x, y in pixels, depth in pixels (larger = nearer the camera)
    shapes: list            # (depth, part, kind, points (n, 2), radii) drawn in depth order
    marks: list             # (code, kind, points, size): face and shirt details, drawn on their part
    head: tuple             # centre (2,), radius, forward (3,), up (3,) in camera axes
    unlabelled: set         # keypoints on the face of a head turned away
    self_hidden: set        # keypoints hidden behind their own head (the far ear)
    origin: np.ndarray      # hip centre in pixels
    lateral: np.ndarray     # image direction of the person's left, shortened as the body turns
    spine: np.ndarray       # image unit vector up the trunk
    bounds: tuple[int, int, int, int]  # x0, y0, x1, y1 covering every shape
    scale: float            # pixels per unit of body height (the standing height in pixels)
    part_depth: np.ndarray = field(default_factory=lambda: np.zeros(PARTS))


def pose_figure(figure: Figure) -> Rig:
    """Pose the body in 3D, turn it to its view and project it (orthographic) into the image."""
    pose, body = figure.pose, figure.body
    lim, brd, gir = body.limb, body.breadth, body.girth
    ex, ey, ez = np.eye(3)
    trunk = _rx(pose.pitch)
    spine, chest = trunk @ ey, trunk @ ez
    neck = spine * TRUNK * lim
    head_rot = _rx(0.6 * pose.pitch + pose.head_pitch) @ _ry(pose.head_yaw)
    head = neck + (head_rot @ ey) * (NECK + HEAD_R)
    pts: dict[str, np.ndarray] = {}
    caps = []  # (part, a, b, r_a, r_b)
    for side, p, name in SIDES:
        shoulder = neck + ex * side * SHOULDER_HALF * brd
        flex, abd = getattr(pose, f"{p}_shoulder_flex"), getattr(pose, f"{p}_shoulder_abd")
        u, w = _limb_axes(abd, flex, side)
        twist = math.radians(getattr(pose, f"{p}_twist"))
        w = math.cos(twist) * w + side * math.sin(twist) * np.cross(w, u)
        bend = math.radians(getattr(pose, f"{p}_elbow"))
        fore = math.cos(bend) * u + math.sin(bend) * w
        elbow = shoulder + u * UPPER_ARM * lim
        wrist = elbow + fore * FOREARM * lim
        hand = wrist + fore * HAND * 0.6
        hip = ex * side * HIP_HALF * brd
        u, w = _limb_axes(getattr(pose, f"{p}_hip_abd"), getattr(pose, f"{p}_hip_flex"), side)
        bend = math.radians(getattr(pose, f"{p}_knee"))
        shin = math.cos(bend) * u - math.sin(bend) * w  # knees bend backwards
        knee = hip + u * THIGH * lim
        ankle = knee + shin * SHIN * lim
        toe = ankle + _unit(_unit(ez - (ez @ shin) * shin, -ey) + 0.35 * shin, ez) * FOOT
        pts.update({f"{name}_shoulder": shoulder, f"{name}_elbow": elbow, f"{name}_wrist": wrist,
                    f"{name}_hip": hip, f"{name}_knee": knee, f"{name}_ankle": ankle})
        upper_p, fore_p, hand_p = ARM_PARTS[side]
        thigh_p, shin_p, foot_p = LEG_PARTS[side]
        caps += [(upper_p, shoulder, elbow, *R_UPPER_ARM), (fore_p, elbow, wrist, *R_FOREARM),
                 (hand_p, wrist, hand, R_HAND, R_HAND * 0.9), (thigh_p, hip, knee, *R_THIGH),
                 (shin_p, knee, ankle, *R_SHIN), (foot_p, ankle, toe, *R_FOOT)]
    # The trunk: convex hull of an ellipse across the shoulders and a wider one across the pelvis.
    angles = np.linspace(0, 2 * math.pi, 12, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], 1)
    top = neck + spine * 0.015 + ring[:, :1] * ex * (SHOULDER_HALF * brd + 0.012) + ring[:, 1:] * chest * 0.06 * gir
    bottom = -spine * 0.035 + ring[:, :1] * ex * (HIP_HALF * brd + 0.045) + ring[:, 1:] * chest * 0.07 * gir
    offsets = {"nose": (0, -0.25, 1.0), "left_eye": (0.36, 0.12, 0.9), "right_eye": (-0.36, 0.12, 0.9),
               "left_ear": (0.97, 0.0, -0.1), "right_ear": (-0.97, 0.0, -0.1)}
    for name, off in offsets.items():
        pts[name] = head + head_rot @ np.array(off) * HEAD_R
    # Placket down the front of the shirt: a front/back cue on the trunk that survives a flip.
    placket = (neck + chest * 0.062 - spine * 0.03, chest * 0.072 + spine * 0.03)

    # Body axes -> camera axes (x right, y down, z towards the camera), then the in-plane lean.
    c, s = math.cos(math.radians(pose.roll)), math.sin(math.radians(pose.roll))
    cam = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([1.0, -1.0, 1.0]) @ _ry(pose.yaw)
    lowest = max(float((cam @ end)[1]) for cap in caps for end in cap[1:3]) + R_FOOT[0] * gir
    scale = figure.height
    origin = np.array([figure.x, figure.ground - lowest * scale])

    def px(v: np.ndarray) -> np.ndarray:
        q = cam @ v
        return np.array([origin[0] + q[0] * scale, origin[1] + q[1] * scale, q[2] * scale])

    keypoints = np.array([px(pts[n]) for n in COCO17_NAMES])
    head_c, head_r = px(head), HEAD_R * scale
    head_fwd, head_up = cam @ head_rot @ ez, cam @ head_rot @ ey
    rel = {n: float((cam @ (pts[n] - head))[2]) / HEAD_R for n in offsets}
    shapes = []
    limb_bias = 0.01 * scale  # ties go to the limb: an arm at the trunk's side is drawn over it
    for part, a, b, ra, rb in caps:
        pa, pb = px(a), px(b)
        shapes.append(((pa[2] + pb[2]) / 2 + limb_bias, part, "capsule", np.stack([pa[:2], pb[:2]]),
                       (ra * gir * scale, rb * gir * scale)))
    hull = np.array([px(v) for v in np.concatenate([top, bottom])])
    trunk_depth = float(hull[:, 2].mean())
    shapes.append((trunk_depth, TORSO, "polygon", hull[:, :2], ()))
    # The neck goes under both trunk and head (else it shows on the back of the head).
    shapes.append((min(trunk_depth, float(head_c[2])) - 1e-3, NECK_PART, "capsule",
                   np.stack([px(neck)[:2], head_c[:2]]), (R_NECK * gir * scale,) * 2))
    head_pts, head_radii = [head_c[:2]], [head_r]
    marks = []
    for name in ("left_ear", "right_ear"):
        if rel[name] > EAR_HIDDEN:  # an ear not turned away sticks out of the head's outline
            head_pts.append(keypoints[KP[name], :2])
            head_radii.append(0.24 * head_r)
            marks.append((3, "circle", keypoints[KP[name], :2], 0.2 * head_r))
    shapes.append((float(head_c[2]), HEAD, "circles", np.array(head_pts), tuple(head_radii)))
    for name, code, size in (("left_eye", 1, 0.17), ("right_eye", 1, 0.17), ("nose", 2, 0.15)):
        if rel[name] > 0.15:
            marks.append((code, "circle", keypoints[KP[name], :2], max(0.7, size * head_r)))
    if (cam @ chest)[2] > 0.3:
        marks.append((4, "line", np.stack([px(placket[0])[:2], px(placket[1])[:2]]), max(1.0, 0.012 * scale)))
    unlabelled = {KP[n] for n in ("nose", "left_eye", "right_eye") if rel[n] < 0}
    self_hidden = {KP[n] for n in ("left_ear", "right_ear") if rel[n] <= EAR_HIDDEN}

    all_xy = np.concatenate([shape[3] for shape in shapes])
    margin = max(max(shape[4]) if shape[4] else 0.0 for shape in shapes) + 2
    x0, y0 = np.floor(all_xy.min(0) - margin).astype(int)
    x1, y1 = np.ceil(all_xy.max(0) + margin).astype(int)
    lateral = (cam @ ex)[:2]
    spine_img = _unit((cam @ spine)[:2], np.array([0.0, -1.0]))
    rig = Rig(keypoints, sorted(shapes, key=lambda shape: shape[0]), marks, (head_c[:2], head_r, head_fwd, head_up),
              unlabelled, self_hidden, origin, lateral, spine_img, (int(x0), int(y0), int(x1), int(y1)), scale)
    for depth, part, *_ in shapes:
        rig.part_depth[part] = depth
    return rig


# ------------------------------------------------------------------------------------ drawing
SHIFT = 4  # sub-pixel bits for OpenCV drawing: shapes land on float keypoints exactly
ONE = 1 << SHIFT


def _fix(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * ONE).astype(np.int32)


def _capsule(img: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float, value: int) -> None:
    """A tapered capsule: round ends of radii ``ra`` and ``rb`` joined by a quadrilateral."""
    for p, r in ((a, ra), (b, rb)):
        cv2.circle(img, tuple(int(v) for v in _fix(p)), int(round(r * ONE)), value, -1, cv2.LINE_8, SHIFT)
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
        for p, r in zip(points, radii):
            cv2.circle(img, tuple(int(v) for v in _fix(p)), int(round(r * ONE)), value, -1, cv2.LINE_8, SHIFT)


def _clip_box(bounds: tuple[int, int, int, int], w: int, h: int) -> tuple[int, int, int, int] | None:
    x0, y0, x1, y1 = max(bounds[0], 0), max(bounds[1], 0), min(bounds[2], w), min(bounds[3], h)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def draw_figure(canvas: np.ndarray, owner: np.ndarray, index: int, rig: Rig, body: Body) -> None:
    """Draw one posed figure onto ``canvas`` and write ``index * PARTS + part`` into ``owner``."""
    box = _clip_box(rig.bounds, canvas.shape[1], canvas.shape[0])
    if box is None:
        return
    x0, y0, x1, y1 = box
    off = np.array([x0, y0], float)
    parts = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for _, part, kind, points, radii in rig.shapes:  # far to near: the painter's algorithm
        _draw_shape(parts, kind, points - off, radii, part)
    on = parts > 0
    if not on.any():
        return
    colour = _palette(body)[parts]
    rows = np.arange(y0, y1, dtype=np.float32)[:, None] - rig.origin[1]
    cols = np.arange(x0, x1, dtype=np.float32)[None, :] - rig.origin[0]
    period = body.pattern_period * rig.scale
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
    lat = float(np.hypot(*rig.lateral))
    if lat > 0.35:  # two-tone trunk: the left half lighter, as the left limbs are
        normal = rig.lateral - (rig.lateral @ rig.spine) * rig.spine
        side = cols * normal[0] + rows * normal[1]
        trunk = parts == TORSO
        colour[trunk & (side > 0)] = colour[trunk & (side > 0)] * 0.85 + 255 * 0.15
        colour[trunk & (side < 0)] *= 0.85
    _hair(colour, parts, off, rig, body)
    _marks(colour, parts, off, rig, body)
    canvas[y0:y1, x0:x1][on] = np.clip(colour[on], 0, 255).astype(np.uint8)
    owner[y0:y1, x0:x1][on] = index * PARTS + parts[on].astype(np.int32)


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
    for code, kind, points, size in rig.marks:
        if kind == "circle":
            centre = tuple(int(v) for v in _fix(points - off))
            cv2.circle(layer, centre, int(round(size * ONE)), code, -1, cv2.LINE_8, SHIFT)
        else:
            a, b = (tuple(int(v) for v in end) for end in _fix(points - off))
            cv2.line(layer, a, b, code, max(1, int(round(size))), cv2.LINE_8, SHIFT)
    shirt = np.asarray(body.shirt, np.float32)
    placket = np.array((235.0, 235.0, 235.0)) if shirt.mean() < 128 else np.array((25.0, 25.0, 25.0))
    for code, part, value in ((3, HEAD, _tint(body.skin, -0.2)), (1, HEAD, (35.0, 25.0, 25.0)),
                              (2, HEAD, _tint(body.skin, -0.35)), (4, TORSO, placket)):
        sel = (layer == code) & (parts == part)
        colour[sel] = value


# ------------------------------------------------------------------------------ backgrounds
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
    if rng.random() < 0.7:
        img = np.clip(img + rng.normal(0, rng.uniform(2, 10), (h, w, 1)).astype(np.float32), 0, 255).astype(np.uint8)
    return img


@dataclass(frozen=True)
class Occluder:
    """A box or ellipse drawn after the first ``after`` people (``after`` = all: in front of everyone)."""

    box: tuple[int, int, int, int]   # x0, y0, x1, y1 (inclusive)
    colour: Colour = (128.0, 128.0, 128.0)
    ellipse: bool = False
    stripes: bool = False
    after: int = 10 ** 6


def draw_occluder(canvas: np.ndarray, owner: np.ndarray, occ: Occluder) -> None:
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


# ---------------------------------------------------------------------------------- scenes
@dataclass
class Scene:
    image: np.ndarray          # (H, W, 3) uint8 BGR
    owner: np.ndarray          # (H, W) int32: person * PARTS + part on top, -1 for none
    rigs: list[Rig]            # in drawing order (back to front)


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


def visibility(scene: Scene, index: int) -> np.ndarray:
    """(17,) COCO v flags of person ``index``: 2 on top, 1 covered, 0 outside or unlabelled."""
    rig, owner = scene.rigs[index], scene.owner
    h, w = owner.shape
    flags = np.zeros(17, np.int32)
    tol = SELF_OCCLUSION * rig.scale
    for k, (x, y, depth) in enumerate(rig.keypoints):
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1) or k in rig.unlabelled:
            continue
        flags[k] = 1
        if k in rig.self_hidden:
            continue
        xi, yi = int(round(x)), int(round(y))
        patch = owner[max(0, yi - 1):yi + 2, max(0, xi - 1):xi + 2].ravel()
        for value in np.unique(patch[patch // PARTS == index]):
            part = int(value % PARTS)
            if part in ADJACENT[k] or rig.part_depth[part] <= depth + tol:
                flags[k] = 2
                break
    return flags


def _polygons(mask: np.ndarray, x0: int, y0: int) -> list[list[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = [(c.reshape(-1, 2) + (x0, y0)).astype(float).ravel().tolist() for c in contours if len(c) >= 3]
    if not polys:  # specks too thin for a contour: their bounding box
        ys, xs = np.nonzero(mask)
        a, b, c, d = xs.min() + x0, ys.min() + y0, xs.max() + x0, ys.max() + y0
        polys = [[float(a), float(b), float(c), float(b), float(c), float(d), float(a), float(d)]]
    return polys


def annotate(scene: Scene, index: int, image_id: int, ann_id: int) -> dict | None:
    """The COCO annotation of person ``index``, or None when none of it shows or no keypoint is
    labelled (a sliver of limb with every joint off the image teaches nothing, and a detector could
    never report it).  ``bbox``, ``area`` and ``segmentation`` (polygons) describe the visible
    silhouette.
    """
    rig = scene.rigs[index]
    box = _clip_box(rig.bounds, scene.owner.shape[1], scene.owner.shape[0])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    roi = scene.owner[y0:y1, x0:x1]
    silhouette = (roi >= 0) & (roi // PARTS == index)
    if not silhouette.any():
        return None
    flags = visibility(scene, index)
    if not flags.any():
        return None
    keypoints: list[float] = []
    for (x, y, _), v in zip(rig.keypoints, flags):
        keypoints += [round(float(x), 2), round(float(y), 2), int(v)] if v > 0 else [0, 0, 0]
    ys, xs = np.nonzero(silhouette)
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "keypoints": keypoints, "num_keypoints": int((flags > 0).sum()),
            "bbox": [float(xs.min() + x0), float(ys.min() + y0),
                     float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)],
            "area": float(silhouette.sum()), "segmentation": _polygons(silhouette, x0, y0)}


def _finish(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Camera-ish degradations: a little blur and sensor noise."""
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    if rng.random() < 0.5:
        noise = rng.normal(0, rng.uniform(1, 5), image.shape).astype(np.float32)
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
    return image


def random_scene(rng: np.random.Generator, size: tuple[int, int], max_people: int,
                 occluder_prob: float = 0.35, bg: np.ndarray | None = None) -> tuple[list[Figure], list[Occluder]]:
    """1..``max_people`` figures sorted far to near (by the row of their feet), and occluders."""
    w, h = size
    avoid = None if bg is None else bg.reshape(-1, 3).mean(0)
    count = int(rng.integers(1, max_people + 1))
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
    figures.sort(key=lambda f: f.ground)
    occluders = []
    for _ in range(int(rng.random() < occluder_prob) * int(rng.integers(1, 3))):
        ow, oh = int(rng.uniform(0.08, 0.35) * w), int(rng.uniform(0.08, 0.5) * h)
        if rng.random() < 0.6:  # over someone, so it hides something
            f = figures[int(rng.integers(len(figures)))]
            cx, cy = f.x + rng.normal(0, 0.15) * f.height, f.ground - rng.uniform(0.1, 0.9) * f.height
        else:
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        box = (int(cx - ow / 2), int(cy - oh / 2), int(cx + ow / 2), int(cy + oh / 2))
        occluders.append(Occluder(box, tuple(float(c) for c in rng.integers(0, 256, 3)), bool(rng.random() < 0.3),
                                  bool(rng.random() < 0.3), int(rng.integers(0, count + 1))))
    return figures, occluders


def coco_categories() -> list[dict]:
    """COCO's person category: keypoint names and the 1-indexed skeleton (COCO17 minus extra limbs)."""
    edges = [[a + 1, b + 1] for (a, b), extra in zip(COCO17.limbs, COCO17.extra) if not extra]
    return [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO17_NAMES),
             "skeleton": edges}]


def _image_size(rng: np.random.Generator, size: int | tuple[int, int],
                size_range: tuple[int, int] | None) -> tuple[int, int]:
    if size_range is None:
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    lo, hi = size_range
    w = int(rng.integers(lo, hi + 1))
    h = int(np.clip(round(w / rng.uniform(0.75, 1.33)), lo, hi))
    return w, h


def generate_dataset(out_dir: str | Path, num_images: int, seed: int, size: int | tuple[int, int] = 256,
                     max_people: int = 4, split: str = "train", occluder_prob: float = 0.35,
                     size_range: tuple[int, int] | None = None) -> Path:
    """Write ``<out_dir>/<split>/NNNNNN.png`` and ``<out_dir>/person_keypoints_<split>.json``.

    ``size`` is a side or ``(w, h)``; ``size_range=(lo, hi)`` draws each image's sides from it
    instead.  Image ``i`` depends only on ``(seed, i)``, so the same seed gives byte-identical files
    and a longer set starts with the shorter one.  Returns the json path.
    """
    if seed < 0 or num_images < 0 or max_people < 1:
        raise ValueError("seed and num_images must be >= 0 and max_people >= 1")
    out = Path(out_dir)
    (out / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        rng = np.random.default_rng([seed, image_id])
        w, h = _image_size(rng, size, size_range)
        bg = background(rng, w, h)
        figures, occluders = random_scene(rng, (w, h), max_people, occluder_prob, bg)
        scene = render_scene((w, h), figures, occluders, bg)
        name = f"{image_id:06d}.png"
        cv2.imwrite(str(out / split / name), _finish(rng, scene.image), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for i in range(len(figures)):
            ann = annotate(scene, i, image_id, len(annotations) + 1)
            if ann:
                annotations.append(ann)
    path = out / f"person_keypoints_{split}.json"
    info = {"description": "ros2_openpose synthetic people (not real people; see docs/synthetic.md)",
            "seed": seed, "split": split}
    path.write_text(json.dumps({"info": info, "licenses": [], "images": images,
                                "annotations": annotations, "categories": coco_categories()}))
    return path


# ------------------------------------------------------------------------------------ clips
def _video_writer(path: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    # opencv-python-headless writes 'mp4v' .mp4 and 'MJPG' .avi (no H.264 encoder in the wheel).
    fourcc = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write video {path} with codec {fourcc}")
    return writer


def clip_annotations_path(video: str | Path) -> Path:
    """Where :func:`render_clip` writes a clip's per-frame COCO annotations."""
    return Path(video).with_suffix(".json")


def render_clip(out_path: str | Path, num_frames: int, seed: int, size: tuple[int, int] = (320, 240),
                fps: float = 10.0, people: int = 2) -> Path:
    """A clip of people walking across a fixed background (and, with 2 or more, one person in place
    moving smoothly between poses), plus COCO annotations per frame beside it
    (:func:`clip_annotations_path`; image id = frame index, ``track_id`` = person).  Returns the
    video path; ``.avi`` gets MJPG, anything else mp4v."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 2 ** 31])  # its own stream: clips never equal dataset images
    w, h = size
    bg = background(rng, w, h)
    avoid = bg.reshape(-1, 3).mean(0)
    cycle = 1.1 * fps  # frames per walking cycle (two steps)
    actors = []
    for i in range(people):
        height = rng.uniform(0.5, 0.8) * h
        ground = rng.uniform(0.82, 0.99) * h
        body = random_body(rng, avoid)
        if i == 1:  # stays in place, blending from one pose to the next
            keys = [random_pose(rng, str(rng.choice(["standing", "arms_raised", "crouch"]))) for _ in range(4)]
            yaw = rng.uniform(-30, 30)
            keys = [replace(k, yaw=yaw) for k in keys]
            actors.append(("pose", body, height, ground, rng.uniform(0.3, 0.7) * w, keys))
        else:
            yaw = rng.choice([-1, 1]) * rng.uniform(60, 110)
            speed = 0.8 * height / cycle * math.copysign(1.0, math.sin(math.radians(yaw)))
            actors.append(("walk", body, height, ground, rng.uniform(0.15, 0.85) * w,
                           (yaw, speed, rng.uniform(0, 2 * math.pi))))
    occluders = [Occluder((int(0.7 * w), int(0.45 * h), int(0.78 * w), h), (70.0, 90.0, 110.0), after=people)] \
        if rng.random() < 0.5 else []
    writer = _video_writer(out_path, fps, (w, h))
    images, annotations = [], []
    for frame in range(num_frames):
        figures, tracks = [], []
        for track, (kind, body, height, ground, x0, extra) in enumerate(actors):
            if kind == "walk":
                yaw, speed, phase = extra
                margin = 0.3 * height  # walkers leave one side and come straight back in at the other
                x = (x0 + speed * frame + margin) % (w + 2 * margin) - margin
                pose = walking_pose(phase + 2 * math.pi * frame / cycle, yaw)
            else:
                t = frame / (2.0 * fps)  # two seconds per pose
                a, b = int(t) % len(extra), (int(t) + 1) % len(extra)
                f = t - int(t)
                pose, x = interpolate(extra[a], extra[b], f * f * (3 - 2 * f)), x0
            figures.append(Figure(pose, body, float(x), float(ground), float(height)))
            tracks.append(track)
        order = sorted(range(len(figures)), key=lambda i: figures[i].ground)
        scene = render_scene((w, h), [figures[i] for i in order], occluders, bg)
        writer.write(scene.image)
        images.append({"id": frame, "file_name": f"frame_{frame:06d}", "width": w, "height": h})
        for drawn, i in enumerate(order):
            ann = annotate(scene, drawn, frame, len(annotations) + 1)
            if ann:
                annotations.append({**ann, "track_id": tracks[i]})
    writer.release()
    info = {"description": "ros2_openpose synthetic clip (not real people)", "seed": seed, "fps": fps,
            "video": out_path.name}
    clip_annotations_path(out_path).write_text(json.dumps(
        {"info": info, "licenses": [], "images": images, "annotations": annotations,
         "categories": coco_categories()}))
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="dataset folder (images go to <out>/<split>/)")
    parser.add_argument("--video", help="write a clip (.mp4 or .avi) instead of a dataset")
    parser.add_argument("--num", type=int, required=True, help="images, or frames with --video")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=None,
                        help="image side (default 256); with --video the height, width 4:3 (default 320x240)")
    parser.add_argument("--size-range", type=int, nargs=2, metavar=("LO", "HI"), help="random image sides")
    parser.add_argument("--max-people", type=int, default=4)
    parser.add_argument("--split", default="train")
    parser.add_argument("--occluders", type=float, default=0.35, help="share of images with occluders")
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--people", type=int, default=2, help="people in a clip")
    args = parser.parse_args(argv)
    if args.video:
        size = (320, 240) if args.size is None else (2 * round(args.size * 2 / 3), args.size)
        print(render_clip(args.video, args.num, args.seed, size, args.fps, args.people))
    elif args.out:
        print(generate_dataset(args.out, args.num, args.seed, args.size or 256, args.max_people, args.split,
                               args.occluders, tuple(args.size_range) if args.size_range else None))
    else:
        parser.error("give --out or --video")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
