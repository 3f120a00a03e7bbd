"""The README's demo, end to end over real DDS: the shipped real clip -> pose_node (default model) -> listener.

The clip (ros2_openpose/data/walk_vtest.mp4) shows two to four pedestrians in every frame; lockstep
streaming makes every frame count.  Success is people found on real frames.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

FRAMES = 20


@pytest.mark.ros
@pytest.mark.slow
def test_demo_finds_people_in_nine_real_frames_of_ten(tmp_path):
    env = {**os.environ, "ROS_DOMAIN_ID": str(60 + os.getpid() % 40)}
    done = subprocess.run([sys.executable, "-m", "ros2_openpose.ros.demo", "--frames", str(FRAMES),
                           "--out", str(tmp_path), "--timeout", "300"],
                          env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == FRAMES
    assert summary["frames_with_people"] >= 0.9 * FRAMES, summary
    assert (tmp_path / "annotated.mp4").stat().st_size > 0
    lines = [json.loads(line) for line in (tmp_path / "poses.jsonl").read_text().splitlines()]
    assert len(lines) == FRAMES and all(line["frame_id"] == "camera" for line in lines)
    assert "model default" in done.stdout and "trained on real photographs" in done.stdout
    assert "WARNING" not in done.stdout
