"""``rclpy.client``: where rclpy keeps :class:`Client` (defined in :mod:`rclpy.node`)."""

from __future__ import annotations

from .node import Client

__all__ = ["Client"]
