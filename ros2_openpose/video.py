"""Writing video files with the encoders the opencv-python(-headless) wheel has."""
from __future__ import annotations

from pathlib import Path

import cv2


def open_video_writer(path: str | Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """An open ``cv2.VideoWriter`` for ``size`` = (w, h) frames: MJPG for ``.avi``, mp4v otherwise.

    The wheel has no H.264 encoder, so ``.mp4`` gets mp4v.  Raises OSError when OpenCV cannot open
    the file (a missing folder, no permission, a container the codec does not fit) instead of
    returning a writer that silently drops every frame.
    """
    path = Path(path)
    fourcc = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), float(fps), (int(size[0]), int(size[1])))
    if not writer.isOpened():
        raise OSError(f"cannot write video {path} with codec {fourcc}")
    return writer
