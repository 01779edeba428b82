"""``rclpy.service``: where rclpy keeps :class:`Service` (defined in :mod:`rclpy.node`)."""

from __future__ import annotations

from .node import Service

__all__ = ["Service"]
