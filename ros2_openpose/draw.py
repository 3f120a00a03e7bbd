"""Draw people on an image: the annotated output of the node, the CLI and the demo."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .people import Person
from .skeletons import Skeleton


def limb_colors(skeleton: Skeleton) -> list[tuple[int, int, int]]:
    """One BGR colour per limb, spread around the hue circle so neighbouring limbs differ."""
    hues = np.linspace(0, 179, skeleton.num_limbs, endpoint=False).astype(np.uint8)
    hsv = np.stack([hues, np.full_like(hues, 255), np.full_like(hues, 255)], axis=-1)[None]
    return [(int(b), int(g), int(r)) for b, g, r in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]]


def draw_people(image: np.ndarray, people: Sequence[Person], skeleton: Skeleton,
                draw_extra: bool = False) -> np.ndarray:
    """Return a copy of the BGR ``image`` with each person's limbs, keypoints and box drawn.

    Line thickness follows the image size so the overlay stays readable from 160 px to 4K.
    Extra (redundant) limbs are hidden by default: they cross the body and clutter the picture.
    """
    out = np.ascontiguousarray(image.copy())
    thick = max(1, round(max(out.shape[:2]) / 320))
    colors = limb_colors(skeleton)
    for person in people:
        kp = person.keypoints
        found = kp[:, 2] > 0
        for k, (a, b) in enumerate(skeleton.limbs):
            if (skeleton.extra[k] and not draw_extra) or not (found[a] and found[b]):
                continue
            pa = (round(kp[a, 0]), round(kp[a, 1]))
            pb = (round(kp[b, 0]), round(kp[b, 1]))
            cv2.line(out, pa, pb, colors[k], thick + 1, cv2.LINE_AA)
        for x, y, _ in kp[found]:
            cv2.circle(out, (round(x), round(y)), thick + 2, (255, 255, 255), -1, cv2.LINE_AA)
        x, y, w, h = (round(v) for v in person.bbox)
        if w > 0 and h > 0:
            cv2.rectangle(out, (x, y), (x + w, y + h), (0, 255, 0), 1)
            cv2.putText(out, f"{person.score:.2f}", (x, max(0, y - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4 * thick, (0, 255, 0), 1, cv2.LINE_AA)
    return out
