"""The figure's build: bone lengths, limb radii, body-part codes and which parts a keypoint sits on.

Lengths are fractions of standing height (ground to top of head), close to anthropometric tables:
ankle 0.04, knee 0.285, hip joint 0.53, shoulder 0.82, top of head 1.0.
"""
from __future__ import annotations

from ros2_openpose.skeletons import COCO17_NAMES

KP = {name: i for i, name in enumerate(COCO17_NAMES)}

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
SIDES = ((1, "l", "left"), (-1, "r", "right"))    # (side sign, Pose field prefix, keypoint name prefix)


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
