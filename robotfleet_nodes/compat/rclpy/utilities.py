"""``rclpy.utilities``: ``ok``, ``shutdown``, the default context, ``--ros-args`` handling."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from . import _core
from .context import Context

__all__ = [
    "get_default_context",
    "get_rmw_implementation_identifier",
    "ok",
    "remove_ros_args",
    "shutdown",
    "timeout_sec_to_nsec",
    "try_shutdown",
]

_DEFAULT = Context()


def get_default_context(*, shutting_down: bool = False) -> Context:
    """The process's context (only one exists)."""
    return _DEFAULT


def ok(*, context: Context | None = None) -> bool:
    """Whether rclpy is initialised and neither shut down nor interrupted (Ctrl-C)."""
    return _core.is_running()


def shutdown(*, context: Context | None = None) -> None:
    """Shut down (``RuntimeError`` if not initialised, as rclpy's)."""
    _DEFAULT.shutdown()


def try_shutdown(*, context: Context | None = None) -> None:
    """Shut down if initialised (after Ctrl-C too), else nothing."""
    _DEFAULT.try_shutdown()


def remove_ros_args(args: Sequence[str] | None = None) -> list[str]:
    """``args`` (default ``sys.argv``) without the ``--ros-args ... [--]`` sections."""
    remaining: list[str] = []
    in_ros_args = False
    for arg in sys.argv if args is None else args:
        if in_ros_args:
            if arg == "--":
                in_ros_args = False
        elif arg == "--ros-args":
            in_ros_args = True
        else:
            remaining.append(arg)
    return remaining


def get_rmw_implementation_identifier() -> str:
    """Which middleware carries the data: ``rmw_robotfleet_nats`` (no rmw layer; NATS)."""
    return "rmw_robotfleet_nats"


def timeout_sec_to_nsec(timeout_sec: float | None) -> int:
    """Seconds to nanoseconds; ``None`` or a negative value is ``-1`` (wait forever)."""
    if timeout_sec is None or timeout_sec < 0:
        return -1
    return int(float(timeout_sec) * 1e9)
