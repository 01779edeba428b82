"""Raw NATS access for tools and the fleet's JetStream parts: bytes and headers, no message types.

:class:`RawPublisher` sends bytes on one subject with fixed headers (encoded once);
:class:`ServerInfo` says which server the transport is connected to. Both come from
:class:`~._transport.NatsTransport` (``raw_publisher()``, ``server_info()``), whose public
raw methods are listed in ``docs/architecture.md`` ("NATS client").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from robotfleet_nodes.transport.nats._chunks import ChunkCounter, chunk_blocks
from robotfleet_nodes.transport.nats._client import RfosClient, hpub_prefix
from robotfleet_nodes.transport.nats._headers import encode_block

__all__ = ["RawPublisher", "ServerInfo"]


class ServerInfo(NamedTuple):
    """The server a transport is connected to."""

    url: str
    """``host:port`` of the current server."""
    version: str
    """Its nats-server version, ``major.minor.patch``."""
    max_payload: int
    """The largest payload it accepts, in bytes."""


class RawPublisher:
    """Publishes bytes on one subject with the same headers every time (encoded once).

    A payload over the server's ``max_payload`` is sent in chunks (``rfos-chunk``, see
    ``docs/subjects.md``) when the publisher has a ``chunk_ids`` counter, as the transport's
    do; without one nats-py's ``MaxPayloadError`` is raised. Raises nats-py's errors as its
    ``publish`` does (``BadSubjectError`` already when created, for an empty subject or one
    with whitespace).
    """

    __slots__ = ("_block", "_chunk_ids", "_client", "_prefix", "headers", "subject")

    def __init__(
        self,
        client: RfosClient,
        subject: str,
        headers: Mapping[str, str],
        chunk_ids: ChunkCounter | None = None,
    ) -> None:
        self.subject = subject
        self.headers = dict(headers)
        self._client = client
        self._chunk_ids = chunk_ids
        self._block = encode_block(self.headers)
        self._prefix = hpub_prefix(subject, self._block)

    def __repr__(self) -> str:
        return f"RawPublisher({self.subject!r}, {self.headers!r})"

    async def publish(self, payload: bytes) -> None:
        """Send ``payload`` (queued for the connection's flusher, as nats-py's ``publish``)."""
        max_payload = int(self._client.max_payload or 0)
        if self._chunk_ids is None or len(payload) + len(self._block) <= max_payload:
            await self._client.publish_encoded(self._prefix, self._block, payload)
            return
        msgid = self._chunk_ids.next_id()
        for block, piece in chunk_blocks(self.headers, payload, max_payload, msgid):
            await self._client.publish_encoded(hpub_prefix(self.subject, block), block, piece)  # type: ignore[arg-type]
