"""Clips: people walking across (and one posing in place) over a fixed background, with per-frame labels."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ros2_openpose.video import open_video_writer

from .backgrounds import background
from .labels import annotate, write_coco
from .looks import Body, random_body
from .poses import Pose, interpolate, random_pose, walking_pose
from .rig import Figure
from .scene import Occluder, render_scene


class Walker(NamedTuple):
    """Walks sideways at a constant speed; leaves one side of the image and comes back in at the other."""

    body: Body
    height: float
    ground: float
    x0: float
    yaw: float
    speed: float   # pixels per frame
    phase: float   # of the walking cycle at frame 0 (radians)

    def figure(self, frame: int, width: int, cycle: float) -> Figure:
        margin = 0.3 * self.height
        x = (self.x0 + self.speed * frame + margin) % (width + 2 * margin) - margin
        pose = walking_pose(self.phase + 2 * math.pi * frame / cycle, self.yaw)
        return Figure(pose, self.body, float(x), float(self.ground), float(self.height))


class Poser(NamedTuple):
    """Stays in place, blending smoothly from one key pose to the next (two seconds each)."""

    body: Body
    height: float
    ground: float
    x: float
    keys: list[Pose]

    def figure(self, frame: int, fps: float) -> Figure:
        t = frame / (2.0 * fps)
        a, b = int(t) % len(self.keys), (int(t) + 1) % len(self.keys)
        f = t - int(t)
        pose = interpolate(self.keys[a], self.keys[b], f * f * (3 - 2 * f))  # smoothstep: no jerk at the keys
        return Figure(pose, self.body, float(self.x), float(self.ground), float(self.height))


def clip_annotations_path(video: str | Path) -> Path:
    """Where :func:`render_clip` writes a clip's per-frame COCO annotations."""
    return Path(video).with_suffix(".json")


def _actors(rng: np.random.Generator, people: int, size: tuple[int, int], avoid: np.ndarray,
            cycle: float) -> list[Walker | Poser]:
    """Person 1 (when there are two or more) poses in place; the others walk."""
    w, h = size
    actors: list[Walker | Poser] = []
    for i in range(people):
        height = rng.uniform(0.5, 0.8) * h
        ground = rng.uniform(0.82, 0.99) * h
        body = random_body(rng, avoid)
        if i == 1:
            keys = [random_pose(rng, str(rng.choice(["standing", "arms_raised", "crouch"]))) for _ in range(4)]
            yaw = rng.uniform(-30, 30)
            actors.append(Poser(body, height, ground, rng.uniform(0.3, 0.7) * w, [replace(k, yaw=yaw) for k in keys]))
        else:
            yaw = rng.choice([-1, 1]) * rng.uniform(60, 110)
            speed = 0.8 * height / cycle * math.copysign(1.0, math.sin(math.radians(yaw)))
            actors.append(Walker(body, height, ground, rng.uniform(0.15, 0.85) * w, yaw, speed,
                                 rng.uniform(0, 2 * math.pi)))
    return actors


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
    cycle = 1.1 * fps  # frames per walking cycle (two steps)
    actors = _actors(rng, people, size, bg.reshape(-1, 3).mean(0), cycle)
    occluders = [Occluder((int(0.7 * w), int(0.45 * h), int(0.78 * w), h), (70.0, 90.0, 110.0), after=people)] \
        if rng.random() < 0.5 else []
    writer = open_video_writer(out_path, fps, (w, h))
    images, annotations = [], []
    try:
        for frame in range(num_frames):
            figures = [a.figure(frame, w, cycle) if isinstance(a, Walker) else a.figure(frame, fps) for a in actors]
            order = sorted(range(len(figures)), key=lambda i: figures[i].ground)  # far to near
            scene = render_scene((w, h), [figures[i] for i in order], occluders, bg)
            writer.write(scene.image)
            images.append({"id": frame, "file_name": f"frame_{frame:06d}", "width": w, "height": h})
            for drawn, track in enumerate(order):
                ann = annotate(scene, drawn, frame, len(annotations) + 1)
                if ann:
                    annotations.append({**ann, "track_id": track})
    finally:
        writer.release()
    info = {"description": "ros2_openpose synthetic clip (not real people)", "seed": seed, "fps": fps,
            "video": out_path.name}
    write_coco(clip_annotations_path(out_path), info, images, annotations)
    return out_path
