"""Subscriptions: a callback per message, malformed input counted and dropped by the transport."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from robotfleet_nodes.transport import (
    EndpointInfo,
    EntityStats,
    MessageCallback,
    MessageLostCallback,
    SubscriptionHandle,
)

if TYPE_CHECKING:
    from robotfleet_nodes.node.node import Node

__all__ = ["Subscription"]

MsgT = TypeVar("MsgT")


class Subscription(Generic[MsgT]):
    """Delivers ``msg_type`` messages on one topic to ``callback``."""

    __slots__ = ("_handle", "callback", "endpoint", "msg_type", "node")

    def __init__(
        self,
        node: Node,
        msg_type: type[MsgT],
        endpoint: EndpointInfo,
        callback: MessageCallback,
        handle: SubscriptionHandle,
    ) -> None:
        self.node = node
        self.msg_type = msg_type
        self.endpoint = endpoint
        self.callback = callback
        self._handle = handle

    @property
    def topic_name(self) -> str:
        return self.endpoint.name

    @property
    def stats(self) -> EntityStats:
        """Received / malformed / type-mismatch / QoS-incompatible / dropped counters."""
        return self._handle.stats

    @property
    def on_message_lost(self) -> MessageLostCallback | None:
        """Called with the total lost so far when a KEEP_ALL queue overflows (callback too slow).

        A KEEP_LAST subscription that falls behind keeps its newest ``depth`` messages; the
        older ones it drops count in ``stats.dropped`` only (as DDS, no loss is reported).
        """
        return self._handle.on_message_lost

    @on_message_lost.setter
    def on_message_lost(self, callback: MessageLostCallback | None) -> None:
        self._handle.on_message_lost = callback

    async def destroy(self) -> None:
        """Stop receiving and remove the subscription from its node."""
        await self.node.destroy_subscription(self)

    async def _close(self) -> None:
        await self._handle.close()

    def describe(self) -> dict[str, Any]:
        stats = self.stats
        return {
            **self.endpoint.describe(),
            "received": stats.received,
            "malformed": stats.malformed,
            "type_mismatch": stats.type_mismatch,
            "incomplete": stats.incomplete,
            "dropped": stats.dropped,
        }
