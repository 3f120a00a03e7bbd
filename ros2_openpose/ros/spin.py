"""Running a node's executor until Ctrl-C or shutdown, and cleaning up: shared by the executables."""
from __future__ import annotations

import threading
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def spin_node(node: Node, work: Callable[[], object] | None = None) -> None:
    """Spin ``node`` until shutdown; with ``work``, spin in the background while ``work()`` runs.

    Ctrl-C and an external shutdown end it quietly; the node is destroyed and rclpy shut down after.
    """
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = None
    try:
        if work is None:
            executor.spin()
        else:
            spinner = threading.Thread(target=executor.spin)
            spinner.start()
            work()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        if spinner is not None:
            # A spin thread still inside rcl when the interpreter exits aborts the process
            # ("terminate called without an active exception"): let it return first.
            spinner.join(timeout=5.0)
        node.destroy_node()
        rclpy.try_shutdown()
