"""``rclpy.impl.rcutils_logger``: the logger class (defined in :mod:`rclpy.logging`)."""

from __future__ import annotations

from ..logging import RcutilsLogger

__all__ = ["RcutilsLogger"]
