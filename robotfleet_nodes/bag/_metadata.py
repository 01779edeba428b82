"""rosbag2's ``metadata.yaml``: what ``ros2 bag`` and ``rosbags.rosbag2.Reader`` read first.

A recording's directory gets one next to its ``.mcap`` file, in rosbag2's version 9 format
(ROS 2 Jazzy's): storage ``mcap``, the file list, start time, duration, message count and
one entry per topic (name, type, ``cdr``, RIHS01 type hash, message count). QoS profiles are
left empty (RobotFleetOS headers do not carry the publisher's offered QoS per message). MCAP
compresses per chunk inside the file, so rosbag2's ``compression_mode`` / ``_format`` (whole
files or messages) stay empty, as ``ros2 bag record -s mcap`` writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["METADATA_FILE", "METADATA_VERSION", "TopicEntry", "write_metadata"]

METADATA_FILE = "metadata.yaml"
METADATA_VERSION = 9


@dataclass(slots=True)
class TopicEntry:
    """One topic of a recording, as ``topics_with_message_count`` lists it."""

    name: str
    type_name: str
    type_hash: str
    count: int


def write_metadata(
    directory: Path,
    files: Sequence[Path],
    topics: Sequence[TopicEntry],
    *,
    start_ns: int,
    end_ns: int,
    storage: str = "mcap",
) -> Path:
    """Write ``directory/metadata.yaml`` (atomically: a temporary file renamed); returns its path."""
    count = sum(t.count for t in topics)
    start = start_ns if count else 0
    duration = max(0, end_ns - start_ns) if count else 0
    info: dict[str, Any] = {
        "version": METADATA_VERSION,
        "storage_identifier": storage,
        "duration": {"nanoseconds": duration},
        "starting_time": {"nanoseconds_since_epoch": start},
        "message_count": count,
        "topics_with_message_count": [
            {
                "topic_metadata": {
                    "name": t.name,
                    "type": t.type_name,
                    "serialization_format": "cdr",
                    "offered_qos_profiles": [],
                    "type_description_hash": t.type_hash,
                },
                "message_count": t.count,
            }
            for t in topics
        ],
        "compression_format": "",
        "compression_mode": "",
        "relative_file_paths": [f.name for f in files],
        "files": [
            {
                "path": f.name,
                "starting_time": {"nanoseconds_since_epoch": start},
                "duration": {"nanoseconds": duration},
                "message_count": count,
            }
            for f in files
        ],
        "custom_data": {},
        "ros_distro": "jazzy",  # the distribution whose interfaces and format version this follows
    }
    path = directory / METADATA_FILE
    temporary = path.with_suffix(".yaml.tmp")
    temporary.write_text(
        yaml.safe_dump({"rosbag2_bagfile_information": info}, sort_keys=False), encoding="utf-8"
    )
    temporary.replace(path)
    return path
