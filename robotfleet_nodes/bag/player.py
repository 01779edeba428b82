"""``rfos bag play``: a rosbag2 bag back onto NATS topics, in order, with the original spacing.

Any rosbag2 bag plays: MCAP or sqlite3 (``.db3``), a bag directory or one file (see
:mod:`._storage`). Messages are read in ``log_time`` order (per file) and message ``i`` is
sent at ``start + (log_time_i - log_time_0) / rate``. The loop sleeps only when it is ahead
of that schedule, so a slow broker or a high rate never reorders anything; it just plays as
fast as it can.

**Names.** Stored topic names are resolved as ROS 2's player does (its node is
``/rosbag2_player`` in the root namespace): ``chatter`` plays on ``/chatter``, ``~/x`` on
``/rosbag2_player/x``. A name that is not a valid ROS name is skipped with one warning.
``topics`` filters on the resolved names.

**Types.** A type the registry does not know is registered from the bag's own stored
``ros2msg`` definition (:mod:`._definitions`); a stored definition that conflicts with a
known type is ignored (the known one wins, one warning line).

**Encoding on the wire (the choice made here):** messages of a type known before the bag was
opened are published unchanged as CDR, with ``rfos-enc: cdr``: every RobotFleetOS
subscription decodes CDR as well as JSON, so nothing is decoded or re-encoded (cheap, and
byte-exact with what was recorded). Messages of a type known only from the bag are decoded
and sent as JSON, the self-describing encoding, so a subscriber that has never seen
the type (``rfos topic echo`` in another process) still reads them. The headers are those of
a :class:`NatsPublisher` created through the transport for the type: ``rfos-type``,
``rfos-hash`` (so mismatches are still caught), ``rfos-gid`` and ``rfos-qos``. A type
without any definition is still published as CDR, with ``rfos-type`` and ``rfos-enc`` only.
Channels with another message encoding are skipped and counted.

**Graph.** While it plays, the transport announces the node ``/rosbag2_player`` with one
publisher per topic (``rfos node list``, ``rfos topic list/info`` show them), besides the
nodes it already announces; the node goes away when playback ends. (A :class:`Context` on
the same transport announces only its own nodes when they change, which drops the player's
until its next new topic: ``rfos bag play`` has a transport of its own.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from robotfleet_nodes.bag._definitions import Definitions, Origin
from robotfleet_nodes.bag._mcap import MESSAGE_ENCODING, BagError
from robotfleet_nodes.bag._storage import Channel, read_channels, read_messages, storage_of
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import Encoding, deserialize, serialize, type_hash_of
from robotfleet_nodes.names import expand_name
from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport import EndpointInfo, NodeInfo
from robotfleet_nodes.transport.nats import H_ENC, H_GID, H_TYPE, NatsTransport, RawPublisher

__all__ = ["PLAYER_NODE", "Player", "PlayerStats"]

log = logging.getLogger(__name__)

#: The player's node name in the graph (ROS 2's ``ros2 bag play`` uses the same).
PLAYER_NODE = "rosbag2_player"
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

    topic: str  #: the resolved (absolute) topic name
    raw: RawPublisher
    handle: Any = None
    convert: Callable[[bytes], bytes] | None = None  #: stored CDR -> what is sent (None: as is)
    endpoint: EndpointInfo | None = None


class Player:
    """Publishes the messages of bag ``path`` through ``transport``.

    ``rate`` scales time (2.0: twice as fast), ``topics`` restricts playback to those
    (resolved) topic names, ``loop`` starts over at the end until cancelled.
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
        self.path = Path(path)
        self.storage = storage_of(self.path)
        read_channels(self.path)  # fails early on a path that is not a readable bag
        self.rate = rate
        self.topics = set(topics)
        self.loop = loop
        self.progress = progress
        self.stats = PlayerStats()
        self._definitions = Definitions(default_registry(), str(self.path))
        self._targets: dict[Channel, _Target | None] = {}
        self._names: dict[str, str | None] = {}
        self._filtered: set[Channel] = set()  #: not in ``topics``: neither played nor skipped
        self._node = NodeInfo(PLAYER_NODE, "/")

    def _messages(self) -> Iterator[tuple[Channel, int, bytes]]:
        """(channel, log_time, data) of every file, in log-time order per file."""
        return read_messages(self.path)

    async def run(self) -> PlayerStats:
        """Play once (or forever with ``loop``); returns the counters."""
        try:
            for channel in read_channels(self.path):  # publishers up front, as ros2 bag play
                if channel not in self._targets:
                    await self._target(channel, announce=False)
            await self._announce()
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
            with contextlib.suppress(Exception):
                await self.transport.announce(self._other_nodes())
        return self.stats

    def _other_nodes(self) -> list[NodeInfo]:
        """What the transport announces besides the player (nodes of a Context sharing it)."""
        return [n for n in self.transport.participant().nodes if n.fqn != self._node.fqn]

    async def _announce(self) -> None:
        self._node.publishers = [t.endpoint for t in self._targets.values() if t and t.endpoint]
        await self.transport.announce([*self._other_nodes(), self._node])

    async def _play_once(self) -> None:
        first: int | None = None
        started = time.monotonic()
        since_yield = 0
        for channel, log_time, stored in self._messages():
            target = self._targets.get(channel, _MISSING)
            if target is _MISSING:
                target = await self._target(channel)
            if target is None:
                if channel not in self._filtered:
                    self.stats.skipped += 1
                continue
            if first is None:
                first = log_time
            due = started + (log_time - first) / 1e9 / self.rate
            ahead = due - time.monotonic()
            if ahead > _MIN_SLEEP:
                await asyncio.sleep(ahead)
                since_yield = 0
            data = stored
            if target.convert is not None:
                try:
                    data = target.convert(stored)
                except RobotFleetError as exc:
                    log.warning("%s: skipping a message that does not decode: %s", target.topic, exc)
                    self.stats.skipped += 1
                    continue
            await target.raw.publish(data)
            self.stats.published += 1
            self.stats.topics[target.topic] = self.stats.topics.get(target.topic, 0) + 1
            since_yield += 1
            if since_yield >= _YIELD_EVERY:
                since_yield = 0
                await asyncio.sleep(0)

    def _resolve(self, stored: str) -> str | None:
        """The absolute name a stored topic name plays on (None: not a valid name)."""
        if stored not in self._names:
            try:
                self._names[stored] = expand_name(stored, node_name=PLAYER_NODE, namespace="/")
            except RobotFleetError as exc:
                log.warning("skipping topic %r of the bag: %s", stored, exc)
                self._names[stored] = None
        return self._names[stored]

    async def _target(self, channel: Channel, *, announce: bool = True) -> _Target | None:
        target: _Target | None = None
        topic = self._resolve(channel.topic)
        if topic is None:
            pass
        elif self.topics and topic not in self.topics:
            self._filtered.add(channel)
        elif channel.encoding != MESSAGE_ENCODING:
            log.warning("skipping %s: message encoding %r (only cdr is played)", topic, channel.encoding)
        else:
            origin = self._definitions.origin(channel.type_name, channel.definition)
            if origin is Origin.UNKNOWN:
                log.info(
                    "%s: type %s is unknown and the bag has no usable definition; sent without a hash",
                    topic,
                    channel.type_name,
                )
                headers = {H_TYPE: channel.type_name, H_ENC: Encoding.CDR.value, H_GID: self.transport.gid}
                subject = self.transport.mapper.topic(topic)
                endpoint = EndpointInfo(topic, channel.type_name, "", QoSProfile())
                target = _Target(
                    topic, await self.transport.raw_publisher(subject, headers), endpoint=endpoint
                )
            else:
                target = await self._known_target(topic, channel.type_name, origin)
        self._targets[channel] = target
        if announce and target is not None:
            await self._announce()
        return target

    async def _known_target(self, topic: str, type_name: str, origin: Origin) -> _Target:
        """A publisher of the transport for ``type_name``: CDR as stored, JSON for bag-only types."""
        cls = default_registry().get_class(type_name)
        endpoint = EndpointInfo(topic, type_name, type_hash_of(cls), QoSProfile())
        encoding = Encoding.JSON if origin is Origin.BAG else Encoding.CDR
        handle = await self.transport.create_publisher(endpoint, cls, encoding=encoding)
        subject: str = handle.subject  # type: ignore[attr-defined]
        headers: dict[str, str] = handle.headers  # type: ignore[attr-defined]
        convert: Callable[[bytes], bytes] | None = None
        if encoding is Encoding.JSON:

            def convert(data: bytes) -> bytes:
                return serialize(deserialize(cls, data, Encoding.CDR), Encoding.JSON)

        raw = await self.transport.raw_publisher(subject, headers)
        return _Target(topic, raw, handle, convert, endpoint)


_MISSING: Any = object()
