# Source this file (bash) for the environment the node, the demo and the tests need:
#   . tools/env.sh
# It activates the project venv, points AMENT_PREFIX_PATH / CMAKE_PREFIX_PATH at the ROS 2 wheels'
# prefix (only when no ROS distro is sourced) and sources this package's colcon install, which puts
# the generated ros2_openpose.msg on PYTHONPATH and its C libraries on LD_LIBRARY_PATH.
#
# Safe under `set -u`: colcon's generated local_setup.bash reads variables that may be unset, so
# nounset is switched off while it runs and restored afterwards.
case $- in *u*) _op_nounset=1; set +u ;; *) _op_nounset=0 ;; esac
_op_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -x "$_op_root/.venv/bin/python" ]; then
  echo "[env] ERROR: $_op_root/.venv is missing: run 'bash tools/setup.sh' first" >&2
else
  # shellcheck source=/dev/null
  source "$_op_root/.venv/bin/activate"
  if [ -z "${ROS_DISTRO:-}" ]; then
    # The wheels install their ament prefix (share/<pkg>, share/ament_index) into the venv itself.
    case ":${AMENT_PREFIX_PATH:-}:" in *":$_op_root/.venv:"*) ;;
      *) export AMENT_PREFIX_PATH="$_op_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;; esac
    case ":${CMAKE_PREFIX_PATH:-}:" in *":$_op_root/.venv:"*) ;;
      *) export CMAKE_PREFIX_PATH="$_op_root/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}" ;; esac
  fi
  if [ -f "$_op_root/install/local_setup.bash" ]; then
    # shellcheck source=/dev/null
    source "$_op_root/install/local_setup.bash"
  fi
  if [ -z "${ROS_DISTRO:-}" ]; then
    # A development machine without ROS: keep DDS discovery on it unless the user chose otherwise.
    # With a distro sourced (a robot) the distro's default is left alone: it may span machines.
    export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
  fi
fi
[ "$_op_nounset" = 1 ] && set -u
unset _op_root _op_nounset
