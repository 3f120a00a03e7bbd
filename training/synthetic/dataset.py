"""COCO-format datasets of synthetic people: PNG images plus person_keypoints_<split>.json."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .backgrounds import background, finish
from .labels import annotate, write_coco
from .scene import random_scene, render_scene


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
        cv2.imwrite(str(out / split / name), finish(rng, scene.image), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for i in range(len(figures)):
            ann = annotate(scene, i, image_id, len(annotations) + 1)
            if ann:
                annotations.append(ann)
    path = out / f"person_keypoints_{split}.json"
    info = {"description": "ros2_openpose synthetic people (not real people; see docs/synthetic.md)",
            "seed": seed, "split": split}
    write_coco(path, info, images, annotations)
    return path
