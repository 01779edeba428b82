"""Messages larger than the server's ``max_payload``: split into chunks, put back together.

Wire format (``docs/subjects.md``): every chunk carries the publisher's normal header block
plus ``rfos-chunk: <msgid> <index>/<count>`` (``msgid``: a per-transport counter in hex,
``index`` from 0), and a consecutive slice of the encoded message as payload, sized so
header block + payload fit ``max_payload``. A message that fits is sent as one message
without ``rfos-chunk``, exactly as before.

Reassembly (:class:`ChunkAssembler`) is per sender (``rfos-gid``; a service reply has one
sender). NATS keeps the order of one publisher connection's messages, so a chunk that is
not the next one expected, or the start of another message while one is partial, means
chunks were lost: the partial message is dropped and counted once
(``EntityStats.incomplete``); a corrupt message is never delivered. Memory is bounded: at
most one partial message per sender, at most ``max_bytes`` (the transport's
``max_message_size``) of partial data per assembler, and a partial message without
progress for :data:`STALE_AFTER` seconds is dropped when the next chunk arrives.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from robotfleet_nodes.errors import TransportError
from robotfleet_nodes.transport.nats._headers import H_CHUNK, H_GID, encode_block

__all__ = [
    "STALE_AFTER",
    "STORED",
    "ChunkAssembler",
    "ChunkCounter",
    "ReplyCollector",
    "chunk_blocks",
    "parse_chunk",
    "reassembling",
]

#: Seconds a partial message may go without a new chunk before it is dropped.
STALE_AFTER: Final = 10.0
#: The second word of a marker's ``rfos-chunk`` value, ``<msgid> stored``: the message is in
#: the Object Store (``_objects.py``); assemblers ignore markers.
STORED: Final = "stored"
#: Seconds between two looks for stale partial messages (at an arrival).
_SWEEP_EVERY: Final = 1.0
#: Senders whose last completed message id is remembered (beyond: forgotten, all at once).
_SENDERS_REMEMBERED: Final = 1024
#: The longest ``rfos-chunk`` value: what each chunk's header block is sized for.
_WIDEST: Final = f"{'f' * 16} {'9' * 10}/{'9' * 10}"


class ChunkCounter:
    """Message ids of one transport (hex of a counter)."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def next_id(self) -> str:
        return f"{next(self._next):x}"


def chunk_blocks(
    headers: dict[str, str], payload: bytes, max_payload: int, msgid: str
) -> Iterator[tuple[bytes, memoryview]]:
    """(header block, payload slice) of each chunk of ``payload``: each fits ``max_payload``."""
    room = max_payload - len(encode_block({**headers, H_CHUNK: _WIDEST}))
    if room <= 0:
        raise ValueError(f"max_payload {max_payload} leaves no room for a chunk's headers")
    count = -(-len(payload) // room)
    view = memoryview(payload)
    for index in range(count):
        block = encode_block({**headers, H_CHUNK: f"{msgid} {index}/{count}"})
        yield block, view[index * room : (index + 1) * room]


def parse_chunk(value: str) -> tuple[str, int, int]:
    """``(msgid, index, count)`` of an ``rfos-chunk`` value; ``ValueError`` when malformed."""
    msgid, _, position = value.partition(" ")
    index_text, _, count_text = position.partition("/")
    index, count = int(index_text), int(count_text)
    if not msgid or not 0 <= index < count:
        raise ValueError(f"bad rfos-chunk {value!r}")
    return msgid, index, count


def reassembling(
    handler: Callable[[bytes, bytes, dict[str, str] | None], None], max_bytes: int
) -> Callable[[bytes, bytes, dict[str, str] | None], None]:
    """An inline handler (``reply, data, headers``) that passes whole messages to ``handler``:
    chunks are collected (for tools reading raw messages of one subject: ``rfos topic echo``)."""
    assembler = ChunkAssembler(max_bytes, lambda: None)

    def on_message(reply: bytes, data: bytes, hdr: dict[str, str] | None) -> None:
        chunk = hdr.get(H_CHUNK) if hdr else None
        if chunk is None:
            handler(reply, data, hdr)
            return
        assert hdr is not None
        whole = assembler.feed(hdr, chunk, data)
        if whole is not None:
            handler(reply, whole, {k: v for k, v in hdr.items() if k != H_CHUNK})

    return on_message


class _Partial:
    __slots__ = ("count", "msgid", "next", "parts", "size", "touched")

    def __init__(self, msgid: str, count: int, now: float) -> None:
        self.msgid = msgid
        self.count = count
        self.next = 0
        self.parts: list[bytes] | None = []  # None: skipping the rest of a damaged message
        self.size = 0
        self.touched = now


class ChunkAssembler:
    """Puts chunked messages back together for one subscription (or one request).

    ``on_incomplete`` is called once per message dropped because chunks were lost, came
    out of order, exceeded ``max_bytes`` or went stale.
    """

    def __init__(
        self,
        max_bytes: int,
        on_incomplete: Callable[[], None],
        *,
        stale_after: float = STALE_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_bytes = max_bytes
        self._on_incomplete = on_incomplete
        self._stale_after = stale_after
        self._clock = clock
        self._partials: dict[str, _Partial] = {}
        self._done: dict[str, str] = {}  # sender -> msgid of the last message completed
        self._total = 0
        self._swept = clock()

    @property
    def pending_bytes(self) -> int:
        """Bytes held in partial messages now."""
        return self._total

    def feed(self, hdr: dict[str, str], value: str, data: bytes, *, where: str = "") -> bytes | None:
        """Add one chunk (its headers, ``rfos-chunk`` value and payload); the whole message
        once its last chunk arrived, else ``None``. ``where``: the subject, for an assembler
        fed from several subjects (a wildcard subscription)."""
        if value.endswith(STORED):
            return None
        try:
            msgid, index, count = parse_chunk(value)
        except ValueError:
            self._on_incomplete()
            return None
        sender = f"{hdr.get(H_GID, '')} {where}"
        now = self._clock()
        if now - self._swept > _SWEEP_EVERY:
            self._drop_stale(now)
        partial = self._partials.get(sender)
        if partial is not None and (partial.msgid, partial.next, partial.count) != (msgid, index, count):
            if partial.parts is not None:
                self._discard(partial)
                self._on_incomplete()
            if partial.msgid != msgid:
                del self._partials[sender]
                partial = None
            # else: the rest of the damaged message is skipped (it was counted once)
        if partial is None:
            partial = self._partials[sender] = _Partial(msgid, count, now)
            if index != 0:  # its start was lost (or sent before we subscribed)
                partial.parts = None
                self._on_incomplete()
        partial.next = index + 1
        partial.touched = now
        parts = partial.parts
        if parts is None:
            if partial.next == count:
                del self._partials[sender]
            return None
        if self._total + len(data) > self._max_bytes:
            self._discard(partial)
            partial.parts = None
            self._on_incomplete()
            if partial.next == count:
                del self._partials[sender]
            return None
        parts.append(data)
        partial.size += len(data)
        self._total += len(data)
        if partial.next < count:
            return None
        del self._partials[sender]
        self._total -= partial.size
        self._remember(sender, msgid)
        return b"".join(parts)

    def delivered(self, hdr: dict[str, str], msgid: str, *, where: str = "") -> bool:
        """Whether message ``msgid`` of this sender was the last one completed here."""
        return self._done.get(f"{hdr.get(H_GID, '')} {where}") == msgid

    def mark_delivered(self, hdr: dict[str, str], msgid: str, *, where: str = "") -> None:
        """Remember ``msgid`` as delivered (got whole another way: the Object Store)."""
        self._remember(f"{hdr.get(H_GID, '')} {where}", msgid)

    def _remember(self, sender: str, msgid: str) -> None:
        if len(self._done) >= _SENDERS_REMEMBERED and sender not in self._done:
            self._done.clear()
        self._done[sender] = msgid

    def _discard(self, partial: _Partial) -> None:
        self._total -= partial.size
        partial.size = 0
        partial.parts = None

    def _drop_stale(self, now: float) -> None:
        self._swept = now
        for sender, partial in list(self._partials.items()):
            if now - partial.touched > self._stale_after:
                if partial.parts is not None:
                    self._discard(partial)
                    self._on_incomplete()
                del self._partials[sender]

    def describe(self) -> dict[str, Any]:
        """Partial messages now: senders and bytes (for diagnostics)."""
        return {"partial": len(self._partials), "bytes": self._total}


class ReplyCollector:
    """Stands in for a request's future in nats-py's reply map: completes ``future`` with the
    reply, once all its chunks arrived when it comes in chunks (a reply that lost chunks
    fails the request with ``TransportError``). nats-py calls ``done()`` and ``set_result()``.
    """

    __slots__ = ("_assembler", "_max_bytes", "future")

    def __init__(self, future: asyncio.Future[Any], max_bytes: int) -> None:
        self.future = future
        self._assembler: ChunkAssembler | None = None
        self._max_bytes = max_bytes

    def done(self) -> bool:
        return self.future.done()

    def set_result(self, msg: Any) -> None:
        hdr = msg.headers
        chunk = hdr.get(H_CHUNK) if hdr else None
        if chunk is None:
            self.future.set_result(msg)
            return
        if self._assembler is None:
            self._assembler = ChunkAssembler(self._max_bytes, self._lost)
        whole = self._assembler.feed(hdr, chunk, msg.data)
        if whole is not None and not self.future.done():
            msg.data = whole
            msg.headers = {k: v for k, v in hdr.items() if k != H_CHUNK}
            self.future.set_result(msg)

    def _lost(self) -> None:
        if not self.future.done():
            self.future.set_exception(TransportError("a chunked reply lost chunks on the way; try again"))
