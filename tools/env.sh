# Source this file (bash) for the environment the node, the demo and the tests need:
# the project venv, the ROS 2 wheels' prefix (when no ROS distro is sourced) and this package's
# colcon install (messages and executables).
_op_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=/dev/null
source "$_op_root/.venv/bin/activate"
if [ -z "${ROS_DISTRO:-}" ]; then
  # The wheels install ament prefixes (share/<pkg>, share/ament_index) into the venv itself.
  export AMENT_PREFIX_PATH="$_op_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$_op_root/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
fi
if [ -f "$_op_root/install/local_setup.bash" ]; then
  # shellcheck source=/dev/null
  source "$_op_root/install/local_setup.bash"
fi
# Keep DDS discovery on this machine unless the user chose otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
unset _op_root
