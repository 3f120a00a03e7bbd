#!/usr/bin/env bash
# The README's demo command: set up (idempotent), then stream a synthetic clip through pose_node
# with the shipped demo model over real DDS, print people per frame, write the annotated video.
# Extra arguments go to the demo (e.g. --video FILE, --weights PATH, --frames N).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# shellcheck source=/dev/null
source tools/env.sh
exec python -m ros2_openpose.ros.demo "$@"
