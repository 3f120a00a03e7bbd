"""``python -m training.synthetic``: write a dataset (--out) or a clip (--video)."""
from __future__ import annotations

import argparse

from .clip import render_clip
from .dataset import generate_dataset

DESCRIPTION = "Synthetic people: articulated figures rendered into COCO-format keypoint datasets and clips."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.synthetic", description=DESCRIPTION)
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
