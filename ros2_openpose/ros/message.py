"""People -> ROS messages: PersonArray, SkeletonInfo, MarkerArray.  Pure conversion, no decisions.

Markers put image pixels into the image's frame: pixel (u, v) -> (u * scale, v * scale, 0) metres,
i.e. x right and y down as in a camera optical frame, so RViz shows the 2D skeletons as a flat
picture in front of the camera at ``scale`` metres per pixel.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from ros2_openpose.draw import limb_colors
from ros2_openpose.msg import Keypoint, Person as PersonMsg, PersonArray, SkeletonInfo
from ros2_openpose.people import Person
from ros2_openpose.skeletons import Skeleton

_NAN = float("nan")


def person_msg(person: Person) -> PersonMsg:
    kps = np.asarray(person.keypoints, np.float32)
    msg = PersonMsg(score=float(person.score))
    # A keypoint that was not found has score 0; its x/y are NaN whatever the array held.
    msg.keypoints = [Keypoint(x=float(x), y=float(y), score=float(s)) if s > 0 else
                     Keypoint(x=_NAN, y=_NAN, score=0.0) for x, y, s in kps.tolist()]
    msg.bbox_x, msg.bbox_y, msg.bbox_width, msg.bbox_height = (float(v) for v in person.bbox)
    return msg


def person_array(people: Sequence[Person], header: Header, skeleton: Skeleton,
                 width: int, height: int) -> PersonArray:
    """The PersonArray of one frame; ``header`` is copied verbatim (stamp and frame_id of the image)."""
    return PersonArray(header=header, skeleton=skeleton.name, image_width=int(width),
                       image_height=int(height), people=[person_msg(p) for p in people])


def model_description(info: Mapping[str, Any]) -> str:
    """One line from ``PoseEstimator.info``: type, weights, input size, scales, device, precision."""
    parts = [str(info.get("model_type", "unknown"))]
    if info.get("weights"):
        parts.append(f"weights={info['weights']}")
    for key in ("input_size", "scales", "device"):
        if key in info:
            parts.append(f"{key}={info[key]}")
    if info.get("flip"):
        parts.append("flip")
    if "fp16" in info:
        parts.append("fp16" if info["fp16"] else "fp32")
    return " ".join(parts)


def skeleton_info(skeleton: Skeleton, info: Mapping[str, Any]) -> SkeletonInfo:
    return SkeletonInfo(skeleton=skeleton.name, model=model_description(info),
                        keypoint_names=list(skeleton.keypoint_names),
                        limb_a=[int(a) for a, _ in skeleton.limbs], limb_b=[int(b) for _, b in skeleton.limbs],
                        limb_extra=[bool(e) for e in skeleton.extra])


def _color(bgr: tuple[int, int, int], alpha: float = 1.0) -> ColorRGBA:
    return ColorRGBA(r=bgr[2] / 255.0, g=bgr[1] / 255.0, b=bgr[0] / 255.0, a=alpha)


def markers(people: Sequence[Person], header: Header, skeleton: Skeleton, scale: float,
            lifetime_s: float = 0.5, line_px: float = 4.0, point_px: float = 8.0) -> MarkerArray:
    """DELETEALL, then per person a LINE_LIST of its (non-extra) limbs and a SPHERE_LIST of its keypoints."""
    out = MarkerArray()
    out.markers.append(Marker(header=header, action=Marker.DELETEALL))
    lifetime = Duration(sec=int(lifetime_s), nanosec=round(math.modf(lifetime_s)[0] * 1e9))
    colors = [_color(c) for c in limb_colors(skeleton)]
    white = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    for i, person in enumerate(people):
        kps = np.asarray(person.keypoints, np.float64)
        found = kps[:, 2] > 0
        pts = [Point(x=float(x) * scale, y=float(y) * scale, z=0.0) for x, y in kps[:, :2].tolist()]
        lines = Marker(header=header, ns="limbs", id=2 * i, type=Marker.LINE_LIST, action=Marker.ADD,
                       lifetime=lifetime)
        lines.pose.orientation.w = 1.0
        lines.scale.x = line_px * scale
        for k, (a, b) in enumerate(skeleton.limbs):
            if not skeleton.extra[k] and found[a] and found[b]:
                lines.points += [pts[a], pts[b]]
                lines.colors += [colors[k], colors[k]]
        lines.color = white
        joints = Marker(header=header, ns="keypoints", id=2 * i + 1, type=Marker.SPHERE_LIST, action=Marker.ADD,
                        lifetime=lifetime, color=white)
        joints.pose.orientation.w = 1.0
        joints.scale.x = joints.scale.y = joints.scale.z = point_px * scale
        joints.points = [pts[k] for k in np.flatnonzero(found)]
        out.markers += [lines, joints]
    return out
