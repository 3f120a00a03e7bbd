"""Where the offline CLI's frames come from: an image, a folder of images, a video, a stream or a camera.

Every frame carries a COCO image id.  Images take theirs from an annotation file when one is given
(matched by file name, so results load against the set's own ground truth), else their 1-based
position in the sorted list of image files (stable for the same folder); video and camera frames
take their frame index.  ``image_ids`` returns that mapping so the CLI can write it beside the results.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class Frame(NamedTuple):
    name: str                 # file stem, or frame_000123 for a video/camera
    image_id: int             # COCO image id (see the module docstring)
    bgr: np.ndarray | None    # None: an unreadable image (the caller counts it and goes on)


def is_stream(source: str) -> bool:
    """True for a video file, a stream URL or a camera index; False for an image or a folder of images."""
    path = Path(source)
    return source.isdigit() or "://" in source or (path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES)


def check_source(source: str) -> None:
    """FileNotFoundError naming ``source`` when it is a path that does not exist (checked before any work)."""
    if not (source.isdigit() or "://" in source or Path(source).exists()):
        raise FileNotFoundError(f"no such image, folder or video: {source}")


def image_files(source: str) -> list[Path]:
    """The image files of an image or a folder, sorted by name (non-images in a folder are ignored)."""
    path = Path(source)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return [path]


def image_ids(files: list[Path], annotations: str | Path | None = None) -> dict[str, int]:
    """File name -> COCO image id: from ``annotations`` (a COCO json) when given, else 1, 2, ... in order.

    Raises ValueError (one line) when the annotation file is unreadable or lacks any of ``files``.
    """
    if annotations is None:
        return {f.name: i for i, f in enumerate(files, 1)}
    try:
        images = json.loads(Path(annotations).read_text())["images"]
        by_name = {Path(str(im["file_name"])).name: int(im["id"]) for im in images}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"--annotations {annotations}: not a COCO json with images[].file_name and id "
                         f"({type(err).__name__}: {err})") from None
    missing = [f.name for f in files if f.name not in by_name]
    if missing:
        raise ValueError(f"{len(missing)} of {len(files)} images are not in --annotations {annotations}: "
                         f"{', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}")
    return {f.name: by_name[f.name] for f in files}


def open_video(source: str) -> cv2.VideoCapture:
    """An opened capture of a video file, stream URL or camera index; FileNotFoundError if it cannot open."""
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open {source!r} as an image, folder, video or camera")
    return capture


def video_info(capture: cv2.VideoCapture) -> tuple[float, int | None]:
    """(frames per second, frame count) of an opened capture; 10 fps and None where it does not say."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    return (fps if 0 < fps < 1000 else 10.0), (count if count > 0 else None)


def frames(source: str, ids: dict[str, int] | None = None,
           capture: cv2.VideoCapture | None = None) -> Iterator[Frame]:
    """Yield the frames of ``source``.  ``ids``: file name -> id for images (default ``image_ids(files)``);
    ``capture``: an already opened capture of a video source (released at the end either way)."""
    if is_stream(source):
        capture = capture or open_video(source)
        try:
            index = 0
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield Frame(f"frame_{index:06d}", index, bgr)
                index += 1
        finally:
            capture.release()
    files = image_files(source)
    ids = image_ids(files) if ids is None else ids
    for file in files:
        yield Frame(file.stem, ids[file.name], cv2.imread(str(file), cv2.IMREAD_UNCHANGED))
