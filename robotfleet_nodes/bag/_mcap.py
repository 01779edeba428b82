"""The MCAP side of ``rfos bag``: rosbag2's ``ros2`` profile, schemas, bag directories, summaries.

What a file written here holds (what rosbag2's MCAP storage plugin writes, so ``ros2 bag``,
Foxglove and ``mcap_ros2`` read it):

* header profile ``ros2``;
* one schema per message type: name ``pkg/msg/Type``, encoding ``ros2msg``, data the
  type's ``.msg`` text followed by every nested type's text, each nested one after a line
  of 80 ``=`` and a ``MSG: pkg/Type`` line (rosbag2's concatenated format, see
  :func:`schema_text`);
* one channel per topic (its ROS name), message encoding ``cdr`` (XCDR1 with the 4-byte
  encapsulation header, as ROS 2 publishes it);
* ``log_time`` and ``publish_time`` in nanoseconds since the epoch.

A bag is a directory (``rosbag2_2026_01_31-12_00_00/``) holding ``<dir name>_0.mcap`` and
rosbag2's ``metadata.yaml`` (:mod:`._metadata`), as ``ros2 bag record -s mcap`` makes; every
command also accepts the ``.mcap`` file itself. sqlite3 bags are read in :mod:`._storage`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mcap.reader import NonSeekingReader, make_reader

from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.idl import MessageSpec, default_registry

__all__ = [
    "MESSAGE_ENCODING",
    "PROFILE",
    "SCHEMA_ENCODING",
    "BagError",
    "BagSummary",
    "TopicSummary",
    "bag_files",
    "default_bag_name",
    "schema_text",
    "summarize_mcap",
]

PROFILE = "ros2"
SCHEMA_ENCODING = "ros2msg"
MESSAGE_ENCODING = "cdr"
SEPARATOR = "=" * 80


class BagError(RobotFleetError):
    """A bag that cannot be written or read; printed as ``rfos: <message>``."""


def _short(full_name: str) -> str:
    """``std_msgs/Header`` for ``std_msgs/msg/Header`` (the name ``MSG:`` lines use)."""
    package, _, name = full_name.rpartition("/")
    return f"{package.split('/', 1)[0]}/{name}"


def _dependencies(spec: MessageSpec, resolve: Callable[[str], MessageSpec]) -> list[MessageSpec]:
    """Every message type ``spec`` refers to, depth first in field order, each once."""
    seen: dict[str, MessageSpec] = {}

    def walk(current: MessageSpec) -> None:
        for item in current.fields:
            base = item.type.base
            if not item.type.is_primitive and base not in seen and base != spec.full_name:
                nested = resolve(base)
                seen[base] = nested
                walk(nested)

    walk(spec)
    return list(seen.values())


@functools.cache
def schema_text(type_name: str) -> str:
    """The ``ros2msg`` schema data of ``type_name``: its definition and every nested one.

    rosbag2's format (what ``rosbags``' ``generate_msgdef(name, ros_version=2)`` and
    ``ros2 bag record`` produce)::

        std_msgs/Header header
        geometry_msgs/Pose pose
        ================================================================================
        MSG: std_msgs/Header
        builtin_interfaces/Time stamp
        ...

    Built from the registry's own ``.msg`` texts (comments and constants kept), so our
    package's types (``robotfleet_nodes/msg/RobotStatus``) work exactly like standard ones.
    Raises ``InterfaceError`` for a type the registry does not know.
    """
    registry = default_registry()
    spec = registry.message_spec(type_name)
    parts = [spec.text.rstrip("\n")]
    for dep in _dependencies(spec, registry.message_spec):
        parts.extend((SEPARATOR, f"MSG: {_short(dep.full_name)}", dep.text.rstrip("\n")))
    return "\n".join(parts) + "\n"


def default_bag_name(now: datetime | None = None) -> str:
    """``rosbag2_YYYY_MM_DD-HH_MM_SS`` (local time), the name ``ros2 bag record`` picks."""
    stamp = (now or datetime.now()).strftime("%Y_%m_%d-%H_%M_%S")  # local time, as ROS 2
    return f"rosbag2_{stamp}"


def bag_files(path: str | Path) -> list[Path]:
    """The ``.mcap`` files of a bag directory (sorted), or ``[path]`` for one file."""
    bag = Path(path)
    if bag.is_file():
        return [bag]
    if not bag.is_dir():
        raise BagError(f"no bag at {bag}: not a directory, an .mcap or a .db3 file")
    files = sorted(bag.glob("*.mcap"))
    if not files:
        raise BagError(f"{bag} holds no .mcap or .db3 file")
    return files


@dataclass(slots=True)
class TopicSummary:
    """One topic of a bag: its type, encoding and message count."""

    name: str
    type_name: str
    encoding: str
    count: int = 0


@dataclass(slots=True)
class BagSummary:
    """What ``rfos bag info`` prints."""

    files: list[Path]
    storage: str = "mcap"  #: rosbag2's storage id: ``mcap`` or ``sqlite3``
    size: int = 0
    start_ns: int = 0
    end_ns: int = 0
    count: int = 0
    compression: set[str] = field(default_factory=set)
    topics: dict[str, TopicSummary] = field(default_factory=dict)
    truncated: list[Path] = field(default_factory=list)  #: files cut off (not finalized)

    def span(self, start: int, end: int) -> None:
        """Widen the time range to ``start``..``end`` (call before adding to :attr:`count`)."""
        self.start_ns = start if self.count == 0 else min(self.start_ns, start)
        self.end_ns = max(self.end_ns, end)

    def topic(self, name: str, type_name: str, encoding: str) -> TopicSummary:
        """The entry of topic ``name``, created on first use."""
        topic = self.topics.get(name)
        if topic is None:
            topic = self.topics[name] = TopicSummary(name, type_name, encoding)
        return topic

    @property
    def duration(self) -> float:
        """Seconds from the first to the last message."""
        return max(0, self.end_ns - self.start_ns) / 1e9

    def describe(self) -> str:
        """``ros2 bag info`` style text."""

        def stamp(ns: int) -> str:
            when = datetime.fromtimestamp(ns / 1e9, tz=UTC).astimezone()
            return f"{when:%b %d %Y %H:%M:%S}.{ns % 1_000_000_000:09d} ({ns / 1e9:.9f})"

        width = max((len(t.name) for t in self.topics.values()), default=0)
        compression = "?" if self.truncated else "none"  # a scan does not look into chunks
        lines = [
            f"Files:             {', '.join(f.name for f in self.files)}",
            f"Bag size:          {_size(self.size)}",
            f"Storage id:        {self.storage}",
            f"Duration:          {self.duration:.9f}s",
            f"Start:             {stamp(self.start_ns) if self.count else '-'}",
            f"End:               {stamp(self.end_ns) if self.count else '-'}",
            f"Messages:          {self.count}",
            f"Compression:       {', '.join(sorted(self.compression)) or compression}",
        ]
        topics = sorted(self.topics.values(), key=lambda t: t.name)
        for i, topic in enumerate(topics):
            head = "Topic information: " if i == 0 else " " * 19
            lines.append(
                f"{head}Topic: {topic.name:<{width}} | Type: {topic.type_name} | "
                f"Count: {topic.count} | Serialization Format: {topic.encoding}"
            )
        if not topics:
            lines.append("Topic information:")
        for file in self.truncated:
            lines.append(
                f"Warning:           {file.name} is cut off (not finalized); counted what is readable"
            )
        return "\n".join(lines)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def summarize_mcap(path: str | Path) -> BagSummary:
    """Counts, times and topics of an MCAP bag, from the files' summary sections (a scan if absent)."""
    summary = BagSummary(bag_files(path))
    for file in summary.files:
        summary.size += file.stat().st_size
        with file.open("rb") as stream:
            reader = make_reader(stream)
            try:
                info = reader.get_summary()
            except Exception:  # no footer: a recording that was killed, scan what is there
                info = None
            if info is None or info.statistics is None:
                stream.seek(0)
                _scan(NonSeekingReader(stream), summary, file)
                continue
            stats = info.statistics
            if stats.message_count:
                summary.span(stats.message_start_time, stats.message_end_time)
            summary.count += stats.message_count
            summary.compression.update(c.compression for c in info.chunk_indexes if c.compression)
            for channel_id, channel in info.channels.items():
                schema = info.schemas.get(channel.schema_id)
                topic = summary.topic(channel.topic, schema.name if schema else "", channel.message_encoding)
                topic.count += stats.channel_message_counts.get(channel_id, 0)
    return summary


def _scan(reader: NonSeekingReader, summary: BagSummary, file: Path) -> None:
    """Count the messages of a file without a summary section, up to where it is cut off."""
    seen = 0
    try:
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            summary.span(message.log_time, message.log_time)
            summary.count += 1
            seen += 1
            name = schema.name if schema else ""
            summary.topic(channel.topic, name, channel.message_encoding).count += 1
    except Exception as exc:
        if not seen:
            raise BagError(f"{file}: not a readable MCAP file ({exc})") from None
        summary.truncated.append(file)
