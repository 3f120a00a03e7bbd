"""Rewrite the build-machine paths that the ROS 2 Kilted wheels' CMake exports hard-code.

The wheels were built under ``/opt/python/cp3XX-cp3XX``; some of their ``share/*/cmake/*.cmake`` files
name that interpreter's include folder and its numpy include folder, which do not exist here, so any
``find_package`` of them (rosidl_generate_interfaces needs them) fails.  This points them at the
running interpreter's headers and the venv's numpy.  Idempotent: patched files no longer match.

    python tools/patch_ros_wheels.py VENV      # prints one status line
"""
from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

BUILD_PREFIX = re.compile(r"/opt/python/cp3\d+-cp3\d+")


def patch(venv: Path) -> int:
    """Patch every CMake file under ``venv/share`` that names the build machine; returns how many."""
    python_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()
    patched = 0
    for cmake in sorted((venv / "share").glob("*/cmake/*.cmake")):
        text = cmake.read_text()
        if not BUILD_PREFIX.search(text):
            continue
        text = re.sub(BUILD_PREFIX.pattern + r"/include/python3\.\d+", python_include, text)
        text = re.sub(BUILD_PREFIX.pattern + r"/lib/python3\.\d+/site-packages/numpy/_core/include",
                      numpy_include, text)
        if BUILD_PREFIX.search(text):
            # A new kind of path in a newer wheel: stop loudly rather than build against a half-fix.
            raise SystemExit(f"{cmake}: a build-machine path is left that this script does not know")
        cmake.write_text(text)
        patched += 1
    return patched


if __name__ == "__main__":
    count = patch(Path(sys.argv[1]))
    print(f"patched {count} files" if count else "already point at this venv")
