"""``rclpy.lifecycle.publisher``: a publisher that publishes only while its node is active."""

from __future__ import annotations

from typing import Any

from ..node import Publisher
from .managed_entity import SimpleManagedEntity

__all__ = ["LifecyclePublisher"]


class LifecyclePublisher(SimpleManagedEntity, Publisher):
    """Made by ``LifecycleNode.create_lifecycle_publisher``; ``publish`` drops messages while
    the node is not active."""

    def __init__(self, core: Any, msg_type: type[Any], topic: str) -> None:
        SimpleManagedEntity.__init__(self)
        Publisher.__init__(self, core, msg_type, topic)

    @SimpleManagedEntity.when_enabled
    def publish(self, msg: Any) -> None:
        """Publish ``msg`` if the lifecycle publisher is enabled."""
        Publisher.publish(self, msg)
