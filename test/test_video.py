"""The one VideoWriter set-up (ros2_openpose.video): codec by suffix, a clear error instead of silence."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ros2_openpose.video import open_video_writer


# FFmpeg reads mp4v (MPEG-4 part 2) back as FMP4.
@pytest.mark.parametrize("suffix, fourccs", [(".avi", ("mjpg",)), (".mp4", ("mp4v", "fmp4"))])
def test_frames_written_read_back_with_the_suffixs_codec(tmp_path: Path, suffix: str, fourccs: tuple) -> None:
    path = tmp_path / f"clip{suffix}"
    writer = open_video_writer(path, 10.0, (64, 48))
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(3)]
    for frame in frames:
        writer.write(frame)
    writer.release()
    capture = cv2.VideoCapture(str(path))
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    assert "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).lower() in fourccs
    read = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        read.append(frame)
    assert len(read) == 3 and read[0].shape == (48, 64, 3)
    # Lossy codecs: flat grey frames come back within a few levels.
    assert all(abs(float(r.mean()) - float(f.mean())) < 4 for r, f in zip(read, frames, strict=True))


def test_an_unwritable_path_raises_instead_of_dropping_frames(tmp_path: Path) -> None:
    with pytest.raises(OSError, match=r"cannot write video .*missing.*mp4v"):
        open_video_writer(tmp_path / "missing" / "annotated.mp4", 10.0, (64, 48))
