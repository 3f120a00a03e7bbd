"""Fast DDS: reliable writers repair a lost sample within 50 ms instead of Fast DDS's default 3 s.

Why: a subscriber that takes ``poses`` and ``poses/annotated`` in one process (the demo's listener, a
recorder, a dashboard) loses a PersonArray now and then while the 0.9 MB annotated images arrive.
``poses`` is reliable, so the sample is sent again, but only after the writer's next heartbeat, and Fast
DDS heartbeats every 3 s: the subscriber then gets nothing for up to 3 s and a burst after.  Measured on
the demo in lockstep (40 frames, 2-core machine, Fast DDS 3 of the Kilted wheels, one core busy):
stalls of 0.4-3.0 s on UDP, shared memory and LARGE_DATA transports alike, 2-9 fps; with a 50 ms
heartbeat 14 fps, 77 ms mean latency, none above 150 ms (docs/ros.md, "DDS").

The profile is a default DataWriter profile, so it changes only the writers' timing, never a QoS the
node asks for.  Every executable of this package applies it before ``rclpy.init`` unless Fast DDS is
already configured (``FASTDDS_DEFAULT_PROFILES_FILE`` / ``FASTRTPS_DEFAULT_PROFILES_FILE`` set, a
default profiles file in the working directory), another middleware is chosen (``RMW_IMPLEMENTATION``),
or ``ROS2_OPENPOSE_DDS_PROFILE=0``.  Standard library only (it runs before rclpy is imported).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

PROFILE_ENV = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
CWD_PROFILES = ("DEFAULT_FASTDDS_PROFILES.xml", "DEFAULT_FASTRTPS_PROFILES.xml")
SWITCH = "ROS2_OPENPOSE_DDS_PROFILE"
#: Fast DDS 2 (Humble, Iron, Jazzy) spells the element heartbeatPeriod, Fast DDS 3 heartbeat_period.
FAST_DDS_2_DISTROS = ("humble", "iron", "jazzy")
HEARTBEAT_MS = 50


def profile_xml(heartbeat_ms: int = HEARTBEAT_MS, fast_dds_2: bool = False) -> str:
    """A Fast DDS profiles document whose default DataWriter heartbeats every ``heartbeat_ms``."""
    tag = "heartbeatPeriod" if fast_dds_2 else "heartbeat_period"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<dds xmlns="http://www.eprosima.com">\n  <profiles>\n'
            '    <data_writer profile_name="ros2_openpose_writer" is_default_profile="true">\n'
            f'      <times><{tag}><sec>0</sec><nanosec>{heartbeat_ms * 1_000_000}</nanosec></{tag}></times>\n'
            '    </data_writer>\n  </profiles>\n</dds>\n')


def profile_variable(fast_dds_2: bool) -> str:
    """The variable each Fast DDS generation reads its profiles file from (Fast DDS 3 warns that the old
    one is deprecated)."""
    return "FASTRTPS_DEFAULT_PROFILES_FILE" if fast_dds_2 else "FASTDDS_DEFAULT_PROFILES_FILE"


def should_apply(environ: MutableMapping[str, str], cwd: Path) -> bool:
    """False where the user configured Fast DDS, chose another middleware, or switched this off."""
    if environ.get(SWITCH, "1") == "0" or any(environ.get(name) for name in PROFILE_ENV):
        return False
    if not environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp").startswith("rmw_fastrtps"):
        return False
    return not any((cwd / name).exists() for name in CWD_PROFILES)


def apply_fast_repair(environ: MutableMapping[str, str] = os.environ, cwd: Path | None = None,
                      folder: Path | None = None) -> Path | None:
    """Write the profile (once per user and Fast DDS generation) and point Fast DDS at it through
    ``environ``; returns its path, or None where it was left alone (see the module docstring)."""
    if not should_apply(environ, cwd or Path.cwd()):
        return None
    fast_dds_2 = environ.get("ROS_DISTRO", "") in FAST_DDS_2_DISTROS
    text = profile_xml(HEARTBEAT_MS, fast_dds_2)
    folder = folder or Path(tempfile.gettempdir())
    path = folder / f"ros2_openpose_fastdds_{'v2' if fast_dds_2 else 'v3'}_{getattr(os, 'getuid', lambda: 0)()}.xml"
    try:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            scratch = path.with_suffix(f".{os.getpid()}.tmp")
            scratch.write_text(text, encoding="utf-8")
            scratch.replace(path)  # atomic: processes starting together never read half a file
    except OSError:
        return None  # a read-only temp folder: run with Fast DDS's defaults rather than not at all
    environ[profile_variable(fast_dds_2)] = str(path)
    return path
