"""People a model reports on photos that show nobody: the false-positive side of a real-people model.

    python -m training.empty_photos --weights default PHOTO_OR_FOLDER ...

Prints each photo's count and the mean per photo (the default model's target: at most 0.5), and exits
1 when ``--max-mean`` is given and exceeded.  AP cannot measure this: COCOeval ignores images with no
labelled person.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2

from ros2_openpose.assets import resolve_weights
from ros2_openpose.estimator import PoseEstimator

SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def photos(paths: Sequence[str]) -> list[Path]:
    """The image files named, folders expanded (sorted, non-recursive)."""
    out: list[Path] = []
    for name in paths:
        path = Path(name)
        out += sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES) if path.is_dir() else [path]
    return out


def count_people(estimator: PoseEstimator, files: Sequence[Path]) -> dict[str, int]:
    """File name -> people found; an unreadable file is an error, never a zero."""
    counts = {}
    for path in files:
        image = cv2.imread(str(path))
        if image is None:
            raise ValueError(f"cannot read {path} as an image")
        counts[path.name] = len(estimator.estimate(image))
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.empty_photos", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", help="photos that show nobody, or folders of them")
    parser.add_argument("--weights", default="default", help='checkpoint, run folder or shipped name')
    parser.add_argument("--input-size", type=int, default=None, help="network input height (default: the model's)")
    parser.add_argument("--max-mean", type=float, default=None, help="exit 1 when the mean exceeds this")
    args = parser.parse_args(argv)
    try:
        estimator = PoseEstimator(weights=resolve_weights(args.weights), device="cpu", input_size=args.input_size)
        counts = count_people(estimator, photos(args.paths))
    except (FileNotFoundError, ValueError) as err:
        print(f"empty_photos: {err}", file=sys.stderr)
        return 2
    for name, n in counts.items():
        print(f"{n:3d}  {name}")
    mean = sum(counts.values()) / max(1, len(counts))
    print(f"{len(counts)} photos, {sum(counts.values())} people reported, {mean:.3f} per photo")
    return 1 if args.max_mean is not None and mean > args.max_mean else 0


if __name__ == "__main__":
    sys.exit(main())
