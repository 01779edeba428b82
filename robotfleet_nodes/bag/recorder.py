"""``rfos bag record``: topics from NATS into an MCAP file, fast enough for busy fleets.

The path of one message: nats-py hands the raw ``Msg`` (subject, headers, payload) to a
callback that only appends ``(receive time, subject, headers, payload)`` to a list. Every
:data:`FLUSH_INTERVAL` the list is swapped out and written in a worker thread: subject ->
topic name (``mapper.to_name``, memoized), ``rfos-type`` -> schema and channel (once per
topic and type), the payload to CDR, then ``Writer.add_message``. No node, subscription
object or message decode per message, except for JSON payloads, which must be turned into
CDR (pydantic ``validate_json`` + our compiled CDR encoder, both per type and cached);
CDR payloads are stored byte for byte.

Skipped (and counted): liveliness heartbeats (empty payload), messages without an
``rfos-type`` header, of a type the registry does not know, or that do not decode.
``log_time`` and ``publish_time`` are both the time the recorder received the message
(RobotFleetOS headers carry no send time).

When the file is finalized, rosbag2's ``metadata.yaml`` is written next to it
(:mod:`._metadata`), so the directory is a complete rosbag2 bag: ``ros2 bag info/play`` and
``rosbags.rosbag2.Reader`` open the directory itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mcap.writer import CompressionType, Writer
from nats.aio.msg import Msg

from robotfleet_nodes import __version__
from robotfleet_nodes.bag._mcap import (
    MESSAGE_ENCODING,
    PROFILE,
    SCHEMA_ENCODING,
    BagError,
    default_bag_name,
    schema_text,
)
from robotfleet_nodes.bag._metadata import TopicEntry, write_metadata
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import cdr_codec_of
from robotfleet_nodes.transport.nats import H_CHUNK, H_ENC, H_TYPE, ChunkAssembler, NatsTransport

__all__ = ["FLUSH_INTERVAL", "Recorder", "RecorderStats", "best_compression", "print_summary"]

log = logging.getLogger(__name__)

#: Seconds between two batches handed to the writer thread.
FLUSH_INTERVAL = 0.05
#: Seconds between two progress lines.
PROGRESS_INTERVAL = 1.0
#: Per-subscription buffers in nats-py (messages / bytes) before it calls us a slow consumer.
_PENDING_MSGS = 4_000_000
_PENDING_BYTES = 1024 * 1024 * 1024
_CHUNK_SIZE = 4 * 1024 * 1024
#: Seconds ``stop`` waits for messages nats-py received but did not hand over yet.
_DRAIN_TIMEOUT = 10.0

Entry = tuple[int, str, "dict[str, str] | None", bytes]
Converter = Callable[[bytes], bytes]


def best_compression() -> CompressionType:
    """zstd if its module is installed, else lz4, else none (mcap compresses per chunk)."""
    for module, kind in (("zstandard", CompressionType.ZSTD), ("lz4.frame", CompressionType.LZ4)):
        try:
            __import__(module)
        except ImportError:
            continue
        return kind
    return CompressionType.NONE


def _json_to_cdr(type_name: str) -> Converter:
    """JSON bytes of ``type_name`` -> its CDR bytes (pydantic validator + compiled codec)."""
    cls = default_registry().get_class(type_name)
    validate_json = cls.__pydantic_validator__.validate_json
    encode = cdr_codec_of(cls).encode

    def convert(data: bytes) -> bytes:
        return encode(validate_json(data))

    return convert


def _same(data: bytes) -> bytes:
    return data


@dataclass(slots=True)
class RecorderStats:
    """Counters of one recording."""

    received: int = 0
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    topics: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        """Count one message not written, by reason."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class Recorder:
    """Writes every message on ``topics`` (or all topics) of ``transport`` to ``output``.

    ``output`` is the bag directory to create (it must not exist, like ``ros2 bag record``);
    the files inside are ``<dir name>_0.mcap`` and ``metadata.yaml``. ``exclude`` is a
    regular expression on topic names. Use :meth:`run` (records until ``max_duration`` or cancellation, always
    finalizing the file) or :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        transport: NatsTransport,
        output: str | Path | None = None,
        *,
        topics: Sequence[str] = (),
        exclude: str | None = None,
        compression: CompressionType | None = None,
        progress: IO[str] | None = None,
    ) -> None:
        self.transport = transport
        self.directory = Path(output) if output else Path(default_bag_name())
        self.path = self.directory / f"{self.directory.name}_0.mcap"
        self.topics = list(topics)
        self.exclude = re.compile(exclude) if exclude else None
        self.compression = best_compression() if compression is None else compression
        self.progress = progress
        self.stats = RecorderStats()
        self._pending: list[Entry] = []
        self._writer: Writer | None = None
        self._stream: IO[bytes] | None = None
        self._subs: list[Any] = []
        self._flusher: asyncio.Task[None] | None = None
        self._names: dict[str, str | None] = {}
        self._schemas: dict[str, int] = {}
        self._channels: dict[tuple[str, str], int] = {}
        self._converters: dict[tuple[str, str], Converter | None] = {}
        self._sequence = 0
        self._counts: dict[tuple[str, str], int] = {}
        self._chunks = ChunkAssembler(transport.max_message_size, lambda: self.stats.skip("chunks lost"))
        self._first_ns: int | None = None
        self._last_ns = 0

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Create the bag and subscribe."""
        if self.directory.exists():
            raise BagError(f"output {self.directory} already exists: choose another with -o")
        self.directory.mkdir(parents=True)
        self._stream = self.path.open("wb")
        self._writer = Writer(self._stream, chunk_size=_CHUNK_SIZE, compression=self.compression)
        self._writer.start(profile=PROFILE, library=f"rfos-{__version__}")
        mapper = self.transport.mapper
        subjects = [mapper.topic(name) for name in self.topics] or [mapper.wildcard("t")]
        for subject in subjects:
            sub = await self.transport.subscribe_raw(
                subject,
                self._on_msg,
                pending_msgs_limit=_PENDING_MSGS,
                pending_bytes_limit=_PENDING_BYTES,
            )
            self._subs.append(sub)
        if self.progress is not None:
            what = ", ".join(self.topics) if self.topics else "all topics"
            print(f"recording {what} to {self.path} (Ctrl-C to stop)", file=self.progress, flush=True)
        self._flusher = asyncio.create_task(self._flush_loop(), name="rfos-bag-flush")

    async def stop(self) -> None:
        """Unsubscribe (after taking what nats-py still queues), write the rest, finalize the file."""
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sub.drain(), _DRAIN_TIMEOUT)
        self._subs.clear()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._writer is not None:
            await asyncio.to_thread(self._write, self._take())
            self._writer.finish()  # type: ignore[no-untyped-call]
            self._writer = None
            self._write_metadata()
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    async def run(self, max_duration: float | None = None) -> RecorderStats:
        """Record until ``max_duration`` seconds pass or the task is cancelled (Ctrl-C)."""
        await self.start()
        started = time.monotonic()
        try:
            while max_duration is None or time.monotonic() - started < max_duration:
                remaining = PROGRESS_INTERVAL
                if max_duration is not None:
                    remaining = min(remaining, max_duration - (time.monotonic() - started))
                before = self.stats.received
                await asyncio.sleep(max(remaining, 0.0))
                self._report(self.stats.received - before, max(remaining, 1e-3))
        finally:
            await asyncio.shield(self.stop())
        return self.stats

    def _write_metadata(self) -> None:
        """rosbag2's ``metadata.yaml`` next to the finalized file (ros2 bag and rosbags read it)."""
        registry = default_registry()
        topics = [
            TopicEntry(topic, type_name, registry.type_hash(type_name), count)
            for (topic, type_name), count in sorted(self._counts.items())
        ]
        write_metadata(
            self.directory, [self.path], topics, start_ns=self._first_ns or 0, end_ns=self._last_ns
        )

    def _report(self, delta: int, seconds: float) -> None:
        if self.progress is None:
            return
        rate = delta / seconds
        print(
            f"\rrecording {self.path}: {self.stats.written} messages, {rate:,.0f} msg/s, "
            f"{len(self.stats.topics)} topics   ",
            end="",
            file=self.progress,
            flush=True,
        )

    # -- receiving ---------------------------------------------------------------------
    async def _on_msg(self, msg: Msg) -> None:
        headers, data = msg.headers, msg.data
        chunk = headers.get(H_CHUNK) if headers else None
        if chunk is not None:  # one chunk of a message over max_payload: record it whole
            assert headers is not None
            whole = self._chunks.feed(headers, chunk, data, where=msg.subject)
            if whole is None:
                return
            data = whole
            headers = {k: v for k, v in headers.items() if k != H_CHUNK}
        self._pending.append((time.time_ns(), msg.subject, headers, data))

    def _take(self) -> list[Entry]:
        batch, self._pending = self._pending, []
        self.stats.received += len(batch)
        return batch

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            batch = self._take()
            if batch:
                await asyncio.to_thread(self._write, batch)

    # -- writing (worker thread; one batch at a time) -------------------------------------
    def _write(self, batch: list[Entry]) -> None:
        writer = self._writer
        if writer is None:
            return
        stats = self.stats
        for log_time, subject, headers, data in batch:
            if not data:
                stats.skip("heartbeat")
                continue
            type_name = headers.get(H_TYPE) if headers else None
            if not type_name:
                stats.skip("no rfos-type header")
                continue
            topic = self._topic_of(subject)
            if topic is None:
                stats.skip("excluded")
                continue
            encoding = (headers.get(H_ENC) if headers else None) or "json"
            converter = self._converter(type_name, encoding)
            if converter is None:
                stats.skip(f"unknown type or encoding {type_name} ({encoding})")
                continue
            try:
                payload = converter(data)
            except Exception:
                stats.skip(f"undecodable {type_name}")
                continue
            channel = self._channels.get((topic, type_name))
            if channel is None:
                channel = self._channel(writer, topic, type_name)
            self._sequence += 1
            writer.add_message(channel, log_time, payload, log_time, self._sequence)
            self._counts[(topic, type_name)] = self._counts.get((topic, type_name), 0) + 1
            self._first_ns = log_time if self._first_ns is None else min(self._first_ns, log_time)
            self._last_ns = max(self._last_ns, log_time)
            stats.written += 1
            stats.topics[topic] = stats.topics.get(topic, 0) + 1

    def _topic_of(self, subject: str) -> str | None:
        """The ROS name of a topic subject; None if excluded or not a topic."""
        if subject in self._names:
            return self._names[subject]
        name: str | None
        try:
            name = self.transport.mapper.to_name(subject).name
        except RobotFleetError:
            name = None
        if name is not None and self.exclude is not None and self.exclude.search(name):
            name = None
        self._names[subject] = name
        return name

    def _converter(self, type_name: str, encoding: str) -> Converter | None:
        key = (type_name, encoding)
        if key in self._converters:
            return self._converters[key]
        converter: Converter | None = None
        try:
            if encoding == MESSAGE_ENCODING:
                schema_text(type_name)  # the type must be known to write its schema
                converter = _same
            elif encoding == "json":
                schema_text(type_name)
                converter = _json_to_cdr(type_name)
        except RobotFleetError as exc:
            log.warning("not recording %s messages: %s", type_name, exc)
        self._converters[key] = converter
        return converter

    def _channel(self, writer: Writer, topic: str, type_name: str) -> int:
        schema = self._schemas.get(type_name)
        if schema is None:
            schema = writer.register_schema(
                name=type_name, encoding=SCHEMA_ENCODING, data=schema_text(type_name).encode()
            )
            self._schemas[type_name] = schema
        channel = writer.register_channel(
            topic=topic, message_encoding=MESSAGE_ENCODING, schema_id=schema, metadata={}
        )
        self._channels[(topic, type_name)] = channel
        return channel


def print_summary(recorder: Recorder, out: IO[str] | None = None) -> None:
    """The closing lines (on stderr by default): file, counts per topic, what was skipped."""
    out = out if out is not None else sys.stderr
    stats = recorder.stats
    print(f"\nwrote {stats.written} messages on {len(stats.topics)} topics to {recorder.path}", file=out)
    for topic, count in sorted(stats.topics.items()):
        print(f"  {topic}: {count}", file=out)
    for reason, count in sorted(stats.skipped.items()):
        print(f"  skipped ({reason}): {count}", file=out)
