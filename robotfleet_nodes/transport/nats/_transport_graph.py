"""The graph methods of :class:`~._transport.NatsTransport`: announce nodes, answer and ask graph queries.

The wire format (one or more JSON chunks per participant) is ``_graph.py``'s and
``docs/subjects.md``'s; there is no daemon: every transport answers for its own nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from nats import errors as nats_errors
from nats.aio.msg import Msg

from robotfleet_nodes.transport._base import NodeInfo, ParticipantInfo, SubscriptionStats
from robotfleet_nodes.transport._ratelimit import RateLimitedLog
from robotfleet_nodes.transport.nats._client import RfosClient
from robotfleet_nodes.transport.nats._graph import (
    participant_from_json,
    participant_to_json_chunks,
    troubled_to_json,
)
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.transport.nats._subscription import NatsSubscription

__all__ = ["NatsGraphMethods"]

#: Largest graph reply; bigger participants answer in several chunks.
_GRAPH_CHUNK_BYTES = 256 * 1024


class NatsGraphMethods:
    """``NatsTransport``'s graph methods (a mixin; the connection itself is the transport's)."""

    mapper: SubjectMapper
    gid: str
    started_at: float
    _nodes: list[NodeInfo]
    _self_chunks: list[bytes]
    _node_json_cache: dict[int, tuple[NodeInfo, bytes]]
    _entities: set[Any]
    _errors: RateLimitedLog

    if TYPE_CHECKING:  # provided by NatsTransport

        @property
        def client(self) -> RfosClient: ...

        async def _connected_client(self) -> RfosClient: ...

    def participant(self) -> ParticipantInfo:
        """This transport as the graph shows it."""
        return ParticipantInfo(
            gid=self.gid,
            host=socket.gethostname(),
            pid=os.getpid(),
            nodes=list(self._nodes),
            started_at=self.started_at,
        )

    def _participant_chunks(self) -> list[bytes]:
        max_payload = getattr(self.client, "max_payload", 0) or _GRAPH_CHUNK_BYTES
        return participant_to_json_chunks(
            self.participant(), min(max_payload // 2, _GRAPH_CHUNK_BYTES), self._node_json_cache
        )

    async def announce(self, nodes: list[NodeInfo]) -> None:
        """Store ``nodes`` (answered to graph queries) and tell watchers the graph changed."""
        self._nodes = list(nodes)
        self._self_chunks = self._participant_chunks()
        nc = await self._connected_client()
        await nc.publish(
            self.mapper.graph("changed"), json.dumps({"gid": self.gid, "event": "announce"}).encode()
        )

    def troubled(self) -> list[SubscriptionStats]:
        """This transport's subscriptions that dropped messages (by their node and topic)."""
        owners = {id(ep): node.fqn for node in self._nodes for ep in node.subscriptions}
        found = []
        for sub in self._entities:
            if isinstance(sub, NatsSubscription):
                entry = SubscriptionStats(owners.get(id(sub.endpoint), ""), sub.endpoint.name, sub.stats)
                if entry.troubled:
                    found.append(entry)
        return found

    async def _on_graph_query(self, msg: Msg) -> None:
        if msg.reply:
            try:
                for chunk in self._self_chunks:
                    await self.client.publish(msg.reply, chunk)
                troubled = self.troubled()
                if troubled:
                    head = ParticipantInfo(self.gid, "", 0, started_at=self.started_at, troubled=troubled)
                    await self.client.publish(msg.reply, troubled_to_json(head))
            except nats_errors.Error as exc:
                self._errors.log(logging.WARNING, "could not answer a graph query: %s", exc)

    async def graph(self, *, timeout: float = 0.5) -> list[ParticipantInfo]:
        """Ask every participant for its nodes; gather answers for ``timeout`` seconds."""
        nc = await self._connected_client()
        found: dict[str, ParticipantInfo] = {}

        async def collect(msg: Msg) -> None:
            try:
                info = participant_from_json(msg.data)
            except (ValueError, KeyError, TypeError) as exc:
                self._errors.log(logging.WARNING, "ignoring a malformed graph reply: %s", exc)
                return
            known = found.get(info.gid)
            if known is None:
                found[info.gid] = info
            else:  # another chunk of a large participant, or its troubled subscriptions
                known.nodes.extend(info.nodes)
                known.troubled.extend(info.troubled)

        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, cb=collect)
        try:
            await nc.publish(self.mapper.graph("query"), b"", reply=inbox)
            await asyncio.sleep(timeout)  # the collection window: everyone alive answers within it
        finally:
            with contextlib.suppress(nats_errors.Error):
                await sub.unsubscribe()
        return sorted(found.values(), key=lambda p: p.started_at)
