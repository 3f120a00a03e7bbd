"""The README's demo, end to end over real DDS: synthetic clip -> pose_node (shipped demo model) -> listener.

The clip comes from the generator's walking clips with a seed the demo model never trained on
(it trained on generate_dataset seeds 1 and 2); lockstep streaming makes every frame count.
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
def test_demo_finds_people_in_nine_frames_of_ten(tmp_path):
    env = {**os.environ, "ROS_DOMAIN_ID": str(60 + os.getpid() % 40)}
    done = subprocess.run([sys.executable, "-m", "ros2_openpose.ros.demo", "--frames", str(FRAMES),
                           "--out", str(tmp_path), "--timeout", "300"],
                          env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == FRAMES
    assert summary["frames_with_people"] >= 0.9 * FRAMES, summary
    assert (tmp_path / "annotated.mp4").stat().st_size > 0
    lines = (tmp_path / "poses.jsonl").read_text().splitlines()
    assert len(lines) == FRAMES and all(json.loads(line)["frame_id"] == "camera" for line in lines)
    assert "DEMO model" in done.stdout
