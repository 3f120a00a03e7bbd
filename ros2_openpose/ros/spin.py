"""Running a node's executor until a signal or shutdown, and cleaning up: shared by the executables.

``GuardedExecutor`` keeps serving when a callback raises: anyone on the domain can send a request
that makes rclpy's own services raise (a SetParameters request with ``ParameterValue.type = 99``
raises ValueError inside rclpy's parameter service), and an exception out of one callback must not
end the node.  The exception is logged (throttled) and the executor goes on.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import rclpy
from rclpy.executors import ExternalShutdownException, ShutdownException, SingleThreadedExecutor
from rclpy.node import Node

if TYPE_CHECKING:
    from rclpy.impl.rcutils_logger import RcutilsLogger


class GuardedExecutor(SingleThreadedExecutor):
    """A SingleThreadedExecutor whose callbacks' exceptions are logged on ``logger``, not raised."""

    def __init__(self, logger: RcutilsLogger, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._logger = logger
        self.failures = 0

    def spin_once(self, timeout_sec: float | None = None) -> None:
        try:
            super().spin_once(timeout_sec)
        except (ExternalShutdownException, ShutdownException):
            raise
        except Exception as err:
            self.failures += 1
            self._logger.error(f"a callback failed and was skipped ({self.failures} so far): "
                               f"{type(err).__name__}: {err}", throttle_duration_sec=5.0)


def _spin_quietly(executor: SingleThreadedExecutor) -> None:
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException, ShutdownException):
        pass  # the context was shut down (a signal): the owner cleans up


def guarded_executor(node: Node) -> GuardedExecutor:
    """A ``GuardedExecutor`` serving ``node``.  Create it before the executable starts serving signals
    (``Signals.serving``): from then on a signal shuts the context down, and rclpy cannot create an
    executor on a shut-down context (RCLError, seen once in CI when a SIGTERM came that early)."""
    executor = GuardedExecutor(node.get_logger(), context=node.context)
    executor.add_node(node)
    return executor


def spin_node(node: Node, work: Callable[[], object] | None = None,
              serving: Callable[[], None] | None = None) -> None:
    """Spin ``node`` until shutdown; with ``work``, spin in the background while ``work()`` runs.

    ``serving`` (the executable's ``Signals.serving``) is called once the executor exists.  A signal or
    an external shutdown ends it quietly; the node is destroyed and rclpy shut down after.
    """
    executor = guarded_executor(node)
    if serving is not None:
        serving()
    spinner = None
    try:
        if work is None:
            _spin_quietly(executor)
        else:
            spinner = threading.Thread(target=_spin_quietly, args=(executor,), name="spin")
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
        rclpy.try_shutdown(context=node.context)
