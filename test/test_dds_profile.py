"""The Fast DDS profile every executable applies (ros/dds_profile.py): when it is applied, and that the
installed Fast DDS really loads it (a real participant and publisher in a child process)."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ros2_openpose.ros.dds_profile import FAST_DDS_2_DISTROS, apply_fast_repair, profile_variable, profile_xml


def test_profile_sets_only_the_default_writers_heartbeat() -> None:
    for fast_dds_2, tag in ((False, "heartbeat_period"), (True, "heartbeatPeriod")):
        root = ET.fromstring(profile_xml(50, fast_dds_2))
        ns = {"d": "http://www.eprosima.com"}
        writers = root.findall("d:profiles/d:data_writer", ns)
        assert len(writers) == 1 and writers[0].get("is_default_profile") == "true"
        times = writers[0].find("d:times", ns)
        assert times is not None and [child.tag.split("}")[1] for child in times] == [tag]
        assert times.find(f"d:{tag}/d:nanosec", ns).text == "50000000"  # type: ignore[union-attr]
        assert writers[0].find("d:qos", ns) is None  # never a QoS the node asked for


def test_applied_by_default_and_written_once(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    path = apply_fast_repair(env, cwd=tmp_path, folder=tmp_path)
    assert path is not None and path.read_text() == profile_xml()
    assert env == {"FASTDDS_DEFAULT_PROFILES_FILE": str(path)}  # Fast DDS 3 warns about the old variable
    stamp = path.stat().st_mtime_ns
    assert apply_fast_repair({}, cwd=tmp_path, folder=tmp_path) == path and path.stat().st_mtime_ns == stamp
    humble_env = {"ROS_DISTRO": "humble"}
    humble = apply_fast_repair(humble_env, cwd=tmp_path, folder=tmp_path)
    assert humble is not None and humble != path and "heartbeatPeriod" in humble.read_text()
    assert humble_env["FASTRTPS_DEFAULT_PROFILES_FILE"] == str(humble) and len(humble_env) == 2


@pytest.mark.parametrize("env, cwd_file", [
    ({"FASTDDS_DEFAULT_PROFILES_FILE": "/robot/dds.xml"}, None),
    ({"FASTRTPS_DEFAULT_PROFILES_FILE": "/robot/dds.xml"}, None),
    ({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}, None),
    ({"ROS2_OPENPOSE_DDS_PROFILE": "0"}, None),
    ({}, "DEFAULT_FASTDDS_PROFILES.xml"),
])
def test_left_alone_where_the_user_configured_dds(tmp_path: Path, env: dict[str, str], cwd_file: str | None) -> None:
    if cwd_file:
        (tmp_path / cwd_file).write_text("<dds/>")
    before = dict(env)
    assert apply_fast_repair(env, cwd=tmp_path, folder=tmp_path) is None
    assert env == before and not list(tmp_path.glob("ros2_openpose_fastdds_*"))


def load_in_fast_dds(profile: Path, fast_dds_2: bool) -> str:
    """stderr of a child process whose Fast DDS participant loads ``profile`` and creates a writer."""
    code = ("import rclpy\nfrom std_msgs.msg import String\nrclpy.init()\nn = rclpy.create_node('dds_profile_check')\n"
            "n.create_publisher(String, 'dds_profile_check', 10)\nn.destroy_node()\nrclpy.shutdown()\nprint('ok')\n")
    env = {**os.environ, profile_variable(fast_dds_2): str(profile), "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    return done.stderr


def test_the_installed_fast_dds_loads_the_profile_this_distro_gets(tmp_path: Path) -> None:
    ours = os.environ.get("ROS_DISTRO", "") in FAST_DDS_2_DISTROS
    chosen, other = tmp_path / "chosen.xml", tmp_path / "other.xml"
    chosen.write_text(profile_xml(50, ours))
    other.write_text(profile_xml(50, not ours))
    # Loaded in silence: no XML error, no deprecation warning (pose_node's start-up errors are one line).
    assert load_in_fast_dds(chosen, ours).strip() == ""
    # The other Fast DDS generation's spelling is refused with an error: the check above can fail.
    assert "XMLPARSER" in load_in_fast_dds(other, ours)
