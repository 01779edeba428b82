"""Typed publishers: ``Publisher[MsgT]`` refuses any other message type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from robotfleet_nodes.transport import EndpointInfo, PublisherHandle

if TYPE_CHECKING:
    from robotfleet_nodes.node.node import Node

__all__ = ["Publisher"]

MsgT = TypeVar("MsgT")


class Publisher(Generic[MsgT]):
    """Publishes ``msg_type`` messages on one topic. Create with ``node.create_publisher``."""

    __slots__ = ("_handle", "endpoint", "msg_type", "node", "published")

    def __init__(
        self, node: Node, msg_type: type[MsgT], endpoint: EndpointInfo, handle: PublisherHandle
    ) -> None:
        self.node = node
        self.msg_type = msg_type
        self.endpoint = endpoint
        self._handle = handle
        self.published = 0

    @property
    def topic_name(self) -> str:
        """The fully qualified (remapped) topic name."""
        return self.endpoint.name

    @property
    def qos_profile(self) -> Any:
        return self.endpoint.qos

    async def publish(self, msg: MsgT) -> None:
        """Send ``msg``; raises ``TypeError`` for any other type than the publisher's."""
        if type(msg) is not self.msg_type and not isinstance(msg, self.msg_type):
            raise TypeError(
                f"Expected {getattr(self.msg_type, '__ros_type__', self.msg_type.__name__)}, "
                f"got {getattr(type(msg), '__ros_type__', type(msg).__name__)}"
            )
        await self._handle.publish(msg)
        self.published += 1

    async def destroy(self) -> None:
        """Stop publishing and remove the publisher from its node."""
        await self.node.destroy_publisher(self)

    async def _close(self) -> None:
        await self._handle.close()

    def describe(self) -> dict[str, Any]:
        return {**self.endpoint.describe(), "published": self.published}
