"""pose_node, the executable: ``ros2 run ros2_openpose pose_node`` / ``python -m ros2_openpose.ros.pose_node``.

The node itself is ``ros2_openpose.ros.node.PoseNode`` (docs/ros.md).  This module stays light (no
torch, no rclpy at import) so that signal handling is in place before the heavy imports: a Ctrl-C
at any moment ends the program without a traceback (``exits``).  Exit status: 0 after serving, 2 when
the node cannot start (one FATAL line), 130 when interrupted while starting.
"""
from __future__ import annotations

from typing import Any

from .exits import Interrupted, Signals, run_program

SUMMARY = ("Multi-person 2D pose estimation: sensor_msgs/Image (or CompressedImage) on 'image' in, "
           "ros2_openpose/PersonArray on 'poses' out (docs/ros.md).")


def main(args: list[str] | None = None) -> int:
    return run_program("pose_node", args, _run, _help)


def _help() -> str:
    from .param_table import usage
    from .params import PARAMS

    return usage("pose_node", SUMMARY, PARAMS)


def _run(args: list[str] | None, signals: Signals) -> int:
    import rclpy
    from rclpy.exceptions import ParameterException

    from .node import PoseNode
    from .spin import spin_node
    from .startup import StartupError

    log = rclpy.logging.get_logger("pose_node")
    # rcl logs its own "Failed to parse global arguments" before raising: the line below says more.
    severity = rclpy.logging.LoggingSeverity
    rcl_level = rclpy.logging.get_logger_level("rcl")
    rclpy.logging.set_logger_level("rcl", severity.FATAL)
    try:
        rclpy.init(args=args)
    except RuntimeError as err:  # rcl's RCLError: a params file that is missing or not YAML, a bad -p rule
        log.fatal(f"cannot start: {_rcl_reason(err)}")
        return 2
    if rclpy.logging.get_logger_level("rcl") == severity.FATAL:  # not changed by a --log-level argument
        rclpy.logging.set_logger_level("rcl", rcl_level)
    try:
        node = PoseNode()
    except (StartupError, ParameterException) as err:
        # One FATAL line (stderr and the ROS log file), no traceback: the cause is configuration.
        bad = "bad parameter: " if isinstance(err, ParameterException) else ""  # wrong type / out of range
        log.fatal(f"cannot start: {bad}{err}")
        rclpy.try_shutdown()
        return 2
    except Interrupted:
        rclpy.try_shutdown()
        raise
    spin_node(node, serving=signals.serving)
    return 0


def _rcl_reason(err: BaseException) -> str:
    """rcl's argument error in one line, without its source locations."""
    text = str(err).replace("failed to initialize rcl: ", "").split(", at /")[0].replace(" Error: error not set", "")
    text = " ".join(text.split()) or type(err).__name__
    if "parameter override rule" in text:
        text += " (values are YAML: an empty string is written '\"\"')"
    return text


def __getattr__(name: str) -> Any:
    # The node's classes were defined here before the executable was split from them.
    if name == "PoseNode":
        from .node import PoseNode
        return PoseNode
    if name in ("StartupError", "build_estimator", "check_model", "decode_config"):
        from . import startup
        return getattr(startup, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    raise SystemExit(main())
