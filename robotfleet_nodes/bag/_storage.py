"""Reading any rosbag2 bag: MCAP (the ``mcap`` library) or sqlite3 ``.db3`` (``rosbags``).

The storage is picked from the path: a ``.db3`` file, or a directory holding ``.db3`` files
(with rosbag2's ``metadata.yaml``, read by ``rosbags.rosbag2.Reader``, or without it: each
file on its own), is sqlite3; anything else is MCAP (:mod:`._mcap`). Both sides give the
same :class:`Channel` (topic as stored, type, message encoding, stored ``ros2msg``
definition) and summaries, so ``rfos bag info`` and ``rfos bag play`` do not care.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mcap.reader import make_reader
from mcap.records import Channel as McapChannel
from mcap.records import Schema
from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinitionFormat
from rosbags.rosbag2 import Reader

from robotfleet_nodes.bag._mcap import SCHEMA_ENCODING, BagError, BagSummary, bag_files, summarize_mcap
from robotfleet_nodes.errors import RobotFleetError

__all__ = ["SQLITE3", "Channel", "read_channels", "read_messages", "storage_of", "summarize"]

SQLITE3 = "sqlite3"
_DB3 = ".db3"


@dataclass(frozen=True, slots=True)
class Channel:
    """One topic of a bag as stored: name (maybe relative), type, encoding, definition."""

    topic: str
    type_name: str
    encoding: str
    definition: str = ""  #: the stored ``ros2msg`` text; "" if none (or another format)


def storage_of(path: str | Path) -> str:
    """``sqlite3`` for a ``.db3`` file or a directory of them, else ``mcap``."""
    bag = Path(path)
    if bag.is_file():
        return SQLITE3 if bag.suffix == _DB3 else "mcap"
    if bag.is_dir() and not any(bag.glob("*.mcap")) and any(bag.glob(f"*{_DB3}*")):
        return SQLITE3
    return "mcap"


def _rosbag2_paths(bag: Path) -> list[Path]:
    """What to open with ``rosbags``: the directory (with metadata.yaml) or each ``.db3``."""
    if bag.is_dir() and not (bag / "metadata.yaml").exists():
        files = sorted(bag.glob(f"*{_DB3}"))
        if not files:  # e.g. only compressed .db3.zstd files: rosbag2 needs metadata.yaml for them
            raise BagError(f"{bag} holds no .mcap or .db3 file, and no metadata.yaml to read the rest")
        return files
    return [bag]


@contextlib.contextmanager
def _open(path: Path) -> Iterator[Reader]:
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:
        raise BagError(f"{path}: cannot read it as a rosbag2 bag ({exc})") from None
    try:
        yield reader
    finally:
        reader.close()


def _connection_channel(conn: Connection) -> Channel:
    ext = conn.ext
    encoding = ext.serialization_format if isinstance(ext, ConnectionExtRosbag2) else ""
    definition = conn.msgdef.data if conn.msgdef.format is MessageDefinitionFormat.MSG else ""
    return Channel(conn.topic, conn.msgtype, encoding, definition)


def _mcap_channel(schema: Schema | None, channel: McapChannel) -> Channel:
    if schema is None:
        return Channel(channel.topic, "", channel.message_encoding)
    definition = schema.data.decode("utf-8", "replace") if schema.encoding == SCHEMA_ENCODING else ""
    return Channel(channel.topic, schema.name, channel.message_encoding, definition)


def read_channels(path: str | Path) -> list[Channel]:
    """The bag's channels known before reading messages (an MCAP file without summary: none)."""
    bag = Path(path)
    out: list[Channel] = []
    if storage_of(bag) == SQLITE3:
        for item in _rosbag2_paths(bag):
            with _open(item) as reader:
                out.extend(_connection_channel(c) for c in reader.connections)
        return out
    for file in bag_files(bag):
        with file.open("rb") as stream, contextlib.suppress(Exception):
            info = make_reader(stream).get_summary()
            if info is not None:
                out.extend(_mcap_channel(info.schemas.get(c.schema_id), c) for c in info.channels.values())
    return out


def read_messages(path: str | Path) -> Iterator[tuple[Channel, int, bytes]]:
    """(channel, log time in ns, serialized data) of every message, in time order per file."""
    bag = Path(path)
    if storage_of(bag) == SQLITE3:
        for item in _rosbag2_paths(bag):
            with _open(item) as reader:
                channels = {c.id: _connection_channel(c) for c in reader.connections}
                try:
                    for connection, timestamp, data in reader.messages():
                        yield channels[connection.id], timestamp, bytes(data)
                except RobotFleetError:
                    raise
                except Exception as exc:
                    raise BagError(f"{item}: cannot read it as a rosbag2 bag ({exc})") from None
        return
    for file in bag_files(bag):
        with file.open("rb") as stream:
            cache: dict[int, Channel] = {}
            try:
                for schema, channel, message in make_reader(stream).iter_messages(log_time_order=True):
                    found = cache.get(channel.id)
                    if found is None:
                        found = cache[channel.id] = _mcap_channel(schema, channel)
                    yield found, message.log_time, message.data
            except RobotFleetError:
                raise
            except Exception as exc:
                raise BagError(f"{file}: cannot read it as MCAP ({exc})") from None


def summarize(path: str | Path) -> BagSummary:
    """Counts, times and topics of a bag of either storage (what ``rfos bag info`` prints)."""
    bag = Path(path)
    if storage_of(bag) != SQLITE3:
        return summarize_mcap(bag)
    files = [bag] if bag.is_file() else sorted(bag.glob(f"*{_DB3}*"))
    summary = BagSummary(files, storage=SQLITE3)
    summary.size = sum(f.stat().st_size for f in files)
    for item in _rosbag2_paths(bag):
        with _open(item) as reader:
            if reader.message_count:
                summary.span(reader.start_time, max(reader.start_time, reader.end_time - 1))
            summary.count += reader.message_count
            if reader.compression_format:
                summary.compression.add(f"{reader.compression_format} ({reader.compression_mode})")
            for connection in reader.connections:
                channel = _connection_channel(connection)
                summary.topic(channel.topic, channel.type_name, channel.encoding).count += connection.msgcount
    return summary
