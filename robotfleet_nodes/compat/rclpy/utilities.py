"""``rclpy.utilities``: command-line helpers (``remove_ros_args``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["remove_ros_args"]


def remove_ros_args(args: Sequence[str] | None = None) -> list[str]:
    """``args`` (default ``sys.argv``) without the ROS arguments: every ``--ros-args`` up to
    the next ``--`` (or the end), and that ``--``."""
    remaining: list[str] = []
    inside = False
    for arg in sys.argv if args is None else args:
        if arg == "--ros-args":
            inside = True
        elif inside and arg == "--":
            inside = False
        elif not inside:
            remaining.append(arg)
    return remaining
