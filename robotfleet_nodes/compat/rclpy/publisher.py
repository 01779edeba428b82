"""``rclpy.publisher``: where rclpy keeps :class:`Publisher` (defined in :mod:`rclpy.node`)."""

from __future__ import annotations

from .node import Publisher

__all__ = ["Publisher"]
