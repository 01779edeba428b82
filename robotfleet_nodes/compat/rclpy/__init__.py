"""``rclpy`` over RobotFleetOS (served as the top-level ``rclpy``; see docs/ros2-compat.md).

Our asyncio core runs on its own thread; callbacks run on the executors' threads, with
rclpy's semantics (executors, callback groups). Keyword-only signatures as in rclpy 9.1.2.
"""

from __future__ import annotations

import sys
from types import TracebackType

from . import _core
from ._core import RclpyStateError
from .executors import Executor, get_global_executor
from .node import Node
from .signals import SignalHandlerOptions, install_signal_handlers
from .task import Future
from .utilities import get_default_context, try_shutdown

__all__ = [
    "InitContextManager",
    "RclpyStateError",
    "create_node",
    "get_default_context",
    "get_global_executor",
    "init",
    "ok",
    "shutdown",
    "spin",
    "spin_once",
    "spin_until_future_complete",
    "try_shutdown",
]


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
        try_shutdown()


def init(
    *,
    args: list[str] | None = None,
    context: object | None = None,
    domain_id: int | None = None,
    signal_handler_options: SignalHandlerOptions | None = None,
) -> InitContextManager:
    """Start the client library: the asyncio thread and its connection (``MESSAGING_URL``, else
    the local broker). ``args`` takes ``--ros-args``; ``domain_id`` is accepted and not used
    (use ``ROS_DOMAIN_ID``); only the default context exists (``context`` must be ``None`` or
    the default). ``signal_handler_options`` (default ``ALL``): on Ctrl-C ``ok()`` turns
    false and ``KeyboardInterrupt`` is raised, as in rclpy; ``shutdown()`` then still works."""
    if context is not None and context is not get_default_context():
        raise RclpyStateError("rclpy.init(context=...): only the default context is supported; omit context")
    _core.start(list(args) if args is not None else sys.argv[1:])
    options = SignalHandlerOptions.ALL if signal_handler_options is None else signal_handler_options
    install_signal_handlers(SignalHandlerOptions(options))
    return InitContextManager()


def shutdown(*, context: object | None = None, uninstall_handlers: bool | None = None) -> None:
    """Stop the client library (like ``rclpy.shutdown``); ``init`` may then be called again.
    Works after Ctrl-C too; ``RuntimeError`` when not initialised (as rclpy's)."""
    get_default_context().shutdown()


def ok(*, context: object | None = None) -> bool:
    """Whether :func:`init` was called and :func:`shutdown` not since."""
    return _core.is_running()


def create_node(node_name: str, **kwargs: object) -> Node:
    """A :class:`rclpy.node.Node` (``rclpy.create_node``)."""
    return Node(node_name, **kwargs)  # type: ignore[arg-type]


def _executor(node: Node | None, executor: Executor | None) -> Executor:
    chosen = executor if executor is not None else get_global_executor()
    if node is not None:
        chosen.add_node(node)
    return chosen


def spin(node: Node, executor: Executor | None = None) -> None:
    """Run ``node``'s callbacks until ``rclpy.shutdown()``."""
    chosen = _executor(node, executor)
    try:
        chosen.spin()
    finally:
        chosen.remove_node(node)


def spin_once(node: Node, *, executor: Executor | None = None, timeout_sec: float | None = None) -> None:
    """Run at most one of ``node``'s callbacks."""
    chosen = _executor(node, executor)
    try:
        chosen.spin_once(timeout_sec=timeout_sec)
    finally:
        chosen.remove_node(node)


def spin_until_future_complete(
    node: Node, future: Future, executor: Executor | None = None, timeout_sec: float | None = None
) -> None:
    """Run ``node``'s callbacks until ``future`` is done (or ``timeout_sec`` passed)."""
    chosen = _executor(node, executor)
    try:
        chosen.spin_until_future_complete(future, timeout_sec)
    finally:
        chosen.remove_node(node)
