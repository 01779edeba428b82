"""``rfos bag play``: an MCAP bag back onto NATS topics, in order, with the original spacing.

Messages are read in ``log_time`` order (across every file and channel of the bag) and
message ``i`` is sent at ``start + (log_time_i - log_time_0) / rate``. The loop sleeps
only when it is ahead of that schedule, so a slow broker or a high rate never reorders
anything; it just plays as fast as it can.

**Encoding on the wire (the choice made here):** CDR payloads are published unchanged,
with ``rfos-enc: cdr``. Every RobotFleetOS subscription decodes CDR as well as JSON, so
nothing is decoded or re-encoded (cheap, and byte-exact with what was recorded). The
headers are those of a CDR :class:`NatsPublisher` created through the transport for the
type: ``rfos-type``, ``rfos-hash`` (when the registry knows the type, so mismatches are
still caught), ``rfos-gid`` and ``rfos-qos``. A type the registry does not know (a bag
from another robot) is still published, with ``rfos-type`` and ``rfos-enc`` only.
Channels with another message encoding are skipped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mcap.reader import make_reader

from robotfleet_nodes.bag._mcap import MESSAGE_ENCODING, BagError, bag_files
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import Encoding, type_hash_of
from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport import EndpointInfo
from robotfleet_nodes.transport.nats import H_ENC, H_GID, H_TYPE, NatsTransport, RawPublisher

__all__ = ["Player", "PlayerStats"]

log = logging.getLogger(__name__)

#: Sleep only when at least this far ahead of the schedule (seconds).
_MIN_SLEEP = 0.0005
#: Yield to the event loop (and let nats-py flush) at least every this many messages.
_YIELD_EVERY = 256


@dataclass(slots=True)
class PlayerStats:
    """Counters of one playback."""

    published: int = 0
    skipped: int = 0
    topics: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Target:
    """Where and how one channel's messages are sent."""

    raw: RawPublisher
    handle: Any = None


class Player:
    """Publishes the messages of bag ``path`` through ``transport``.

    ``rate`` scales time (2.0: twice as fast), ``topics`` restricts playback to those
    topic names, ``loop`` starts over at the end until cancelled.
    """

    def __init__(
        self,
        transport: NatsTransport,
        path: str | Path,
        *,
        rate: float = 1.0,
        topics: Sequence[str] = (),
        loop: bool = False,
        progress: IO[str] | None = None,
    ) -> None:
        if rate <= 0:
            raise BagError(f"--rate must be positive, got {rate}")
        self.transport = transport
        self.files = bag_files(path)
        self.rate = rate
        self.topics = set(topics)
        self.loop = loop
        self.progress = progress
        self.stats = PlayerStats()
        self._targets: dict[tuple[str, str, str], _Target | None] = {}

    def _messages(self) -> Iterator[tuple[str, str, str, int, bytes]]:
        """(topic, type, encoding, log_time, data) of every file, in log-time order per file."""
        for file in self.files:
            with file.open("rb") as stream:
                reader = make_reader(stream)
                try:
                    items = reader.iter_messages(
                        topics=sorted(self.topics) if self.topics else None, log_time_order=True
                    )
                    for schema, channel, message in items:
                        yield (
                            channel.topic,
                            schema.name if schema is not None else "",
                            channel.message_encoding,
                            message.log_time,
                            message.data,
                        )
                except RobotFleetError:
                    raise
                except Exception as exc:
                    raise BagError(f"{file}: cannot read it as MCAP ({exc})") from None

    async def run(self) -> PlayerStats:
        """Play once (or forever with ``loop``); returns the counters."""
        try:
            while True:
                await self._play_once()
                if not self.loop:
                    break
                await asyncio.sleep(0)  # a short bag at a high rate must not starve the loop
        finally:
            for target in self._targets.values():
                if target is not None and target.handle is not None:
                    with contextlib.suppress(Exception):
                        await target.handle.close()
            with contextlib.suppress(Exception):
                await self.transport.flush(2.0)
        return self.stats

    async def _play_once(self) -> None:
        first: int | None = None
        started = time.monotonic()
        since_yield = 0
        for topic, type_name, encoding, log_time, data in self._messages():
            target = self._targets.get((topic, type_name, encoding), _MISSING)
            if target is _MISSING:
                target = await self._target(topic, type_name, encoding)
            if target is None:
                self.stats.skipped += 1
                continue
            if first is None:
                first = log_time
            due = started + (log_time - first) / 1e9 / self.rate
            ahead = due - time.monotonic()
            if ahead > _MIN_SLEEP:
                await asyncio.sleep(ahead)
                since_yield = 0
            await target.raw.publish(data)
            self.stats.published += 1
            self.stats.topics[topic] = self.stats.topics.get(topic, 0) + 1
            since_yield += 1
            if since_yield >= _YIELD_EVERY:
                since_yield = 0
                await asyncio.sleep(0)

    async def _target(self, topic: str, type_name: str, encoding: str) -> _Target | None:
        key = (topic, type_name, encoding)
        target: _Target | None = None
        if encoding != MESSAGE_ENCODING:
            log.warning("skipping %s: message encoding %r (only cdr is played)", topic, encoding)
        else:
            try:
                target = await self._known_target(topic, type_name)
            except RobotFleetError as exc:
                log.info("%s: type %s not in the registry (%s); sent without a hash", topic, type_name, exc)
                headers = {H_TYPE: type_name, H_ENC: Encoding.CDR.value, H_GID: self.transport.gid}
                subject = self.transport.mapper.topic(topic)
                target = _Target(await self.transport.raw_publisher(subject, headers))
        self._targets[key] = target
        return target

    async def _known_target(self, topic: str, type_name: str) -> _Target:
        """A CDR publisher of the transport for ``type_name``; its subject and headers."""
        cls = default_registry().get_class(type_name)
        endpoint = EndpointInfo(topic, type_name, type_hash_of(cls), QoSProfile())
        previous = self.transport.encoding
        self.transport.encoding = Encoding.CDR
        try:
            handle = await self.transport.create_publisher(endpoint, cls)
        finally:
            self.transport.encoding = previous
        subject: str = handle.subject  # type: ignore[attr-defined]
        headers: dict[str, str] = handle.headers  # type: ignore[attr-defined]
        return _Target(await self.transport.raw_publisher(subject, headers), handle)


_MISSING: Any = object()
