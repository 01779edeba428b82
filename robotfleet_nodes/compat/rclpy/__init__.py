"""``rclpy`` over RobotFleetOS (served as the top-level ``rclpy``; see docs/ros2-compat.md).

Work in progress (issue 15, step 2): today only the process-wide lifecycle, ``init`` /
``shutdown`` / ``ok`` and ``with rclpy.init():``, with real rclpy's keyword-only signatures.
"""

from __future__ import annotations

import threading
from types import TracebackType

from robotfleet_nodes.errors import RobotFleetError

__all__ = ["InitContextManager", "RclpyStateError", "init", "ok", "shutdown"]


class RclpyStateError(RobotFleetError, RuntimeError):
    """``init`` called twice, or ``shutdown`` without ``init``: call them once each, in order."""


_lock = threading.Lock()
_initialized = [False]


class InitContextManager:
    """What :func:`init` returns: ``with rclpy.init():`` shuts down on leaving the block."""

    def __enter__(self) -> InitContextManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if ok():
            shutdown()


def init(
    *,
    args: list[str] | None = None,
    context: object | None = None,
    domain_id: int | None = None,
    signal_handler_options: object | None = None,
) -> InitContextManager:
    """Initialise the process's ROS 2 client library (once, like ``rclpy.init``).

    ``args``, ``domain_id`` and ``signal_handler_options`` are accepted and not used yet;
    only the default context exists (``context`` must be ``None``).
    """
    if context is not None:
        raise RclpyStateError("rclpy.init(context=...): only the default context is supported; omit context")
    with _lock:
        if _initialized[0]:
            raise RclpyStateError("rclpy.init() was already called: call rclpy.shutdown() first")
        _initialized[0] = True
    return InitContextManager()


def shutdown(*, context: object | None = None, uninstall_handlers: bool | None = None) -> None:
    """Shut the client library down (like ``rclpy.shutdown``); ``init`` may then be called again."""
    with _lock:
        if not _initialized[0]:
            raise RclpyStateError("rclpy.shutdown() without rclpy.init(): call rclpy.init() first")
        _initialized[0] = False


def ok(*, context: object | None = None) -> bool:
    """Whether :func:`init` was called and :func:`shutdown` not since."""
    return _initialized[0]
