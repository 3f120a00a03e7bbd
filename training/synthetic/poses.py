"""Joint angles: the Pose record, human joint limits, blending, walking and random poses."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from .anatomy import SIDES


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

POSE_KINDS = ("standing", "walking", "arms_raised", "sitting", "crouch", "free")
POSE_WEIGHTS = (0.22, 0.25, 0.18, 0.1, 0.1, 0.15)


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
        for (_, prefix, _), arm_kind in zip(SIDES, [arms[i] for i in order], strict=True):
            values.update({f"{prefix}_{k}": v for k, v in _arm(rng, arm_kind).items()})
        for _, prefix, _ in SIDES:
            values.update({f"{prefix}_{k}": v for k, v in _leg(rng, legs).items()})
        values["pitch"] = {"sitting": u(-5, 20), "crouch": u(20, 50), "free": u(-10, 40)}.get(kind, u(-5, 8))
    values.update(roll=u(-6, 6), head_yaw=u(-30, 30), head_pitch=u(-15, 15))
    return clamp_pose(Pose(**values))
