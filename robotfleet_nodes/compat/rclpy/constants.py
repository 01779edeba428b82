"""``rclpy.constants``: the conversion factor rclpy's time types use."""

from __future__ import annotations

from typing import Final

__all__ = ["S_TO_NS"]

#: Nanoseconds per second.
S_TO_NS: Final = 1000 * 1000 * 1000
