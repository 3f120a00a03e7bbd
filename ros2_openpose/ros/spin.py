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
    try:
        if work is None:
            executor.spin()
        else:
            threading.Thread(target=executor.spin, daemon=True).start()
            work()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
