"""``rclpy.subscription``: where rclpy keeps :class:`Subscription` (defined in :mod:`rclpy.node`)."""

from __future__ import annotations

from .node import Subscription

__all__ = ["Subscription"]
