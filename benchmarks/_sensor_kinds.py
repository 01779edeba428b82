"""The message types of ``sensors.py``'s matrix: how each is built and carries its sequence number."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from robotfleet_nodes.idl import default_registry

__all__ = [
    "BLOB",
    "BLOB_BYTES",
    "KINDS",
    "LAT",
    "MEMORY_KIND",
    "SEQ",
    "WARM",
    "Kind",
    "build",
    "seq_of",
    "with_seq",
]

WARM = 2_000_000  # sequence numbers: warm-up messages
LAT = 1_000_000  # sequence numbers from here on: paced latency messages
SEQ = struct.Struct("<Q")


@dataclass(frozen=True)
class Kind:
    """One type of the matrix: its name here, ROS type, and how many messages to try."""

    name: str
    ros_type: str
    max_n: int
    lat_n: int
    lat_gap: float
    depth: int


KINDS = (
    Kind("String", "std_msgs/msg/String", 100_000, 50, 0.005, 1000),
    Kind("Twist", "geometry_msgs/msg/Twist", 100_000, 50, 0.005, 1000),
    Kind("Imu", "sensor_msgs/msg/Imu", 100_000, 50, 0.005, 1000),
    Kind("Odometry", "nav_msgs/msg/Odometry", 100_000, 50, 0.005, 1000),
    Kind("LaserScan", "sensor_msgs/msg/LaserScan", 20_000, 50, 0.005, 1000),
    Kind("PointCloud2", "sensor_msgs/msg/PointCloud2", 500, 10, 0.03, 10),
    Kind("Image640", "sensor_msgs/msg/Image", 500, 10, 0.03, 10),
    Kind("Image1080", "sensor_msgs/msg/Image", 100, 10, 0.05, 10),
    Kind("OccupancyGrid", "nav_msgs/msg/OccupancyGrid", 20, 5, 0.2, 5),
)
# The memory check: 1080p images at 20 Hz to a depth-5 subscriber taking 0.5 s per message.
MEMORY_KIND = Kind("Image1080", "sensor_msgs/msg/Image", 0, 60, 0.05, 5)
# One 64 MiB message (a PointCloud2): over every broker's max_payload until chunking lands.
BLOB = Kind("Blob64MiB", "sensor_msgs/msg/PointCloud2", 3, 2, 0.5, 2)
BLOB_BYTES = 64 << 20


def build(kind: Kind) -> Any:
    """The message of ``kind`` as our pydantic class (uint8[] are bytes, int8[] a list)."""
    cls = default_registry().get_class(kind.ros_type)
    if kind.name == "String":
        return cls(data="0" * 100)
    if kind.name == "LaserScan":
        return cls(ranges=[1.0] * 1080, intensities=[1.0] * 1080)
    if kind.name == "PointCloud2":
        return cls(height=1, width=1 << 16, point_step=16, row_step=1 << 20, data=bytes(1 << 20))
    if kind is BLOB:
        return cls(
            height=1, width=BLOB_BYTES // 16, point_step=16, row_step=BLOB_BYTES, data=bytes(BLOB_BYTES)
        )
    if kind.name.startswith("Image"):
        w, h = (640, 480) if kind.name == "Image640" else (1920, 1080)
        return cls(height=h, width=w, encoding="rgb8", step=w * 3, data=bytes(w * h * 3))
    if kind.name == "OccupancyGrid":
        msg = cls(data=[0] * (4000 * 4000))
        msg.info.width = msg.info.height = 4000
        return msg
    return cls()


def with_seq(msg: Any, seq: int) -> Any:
    """A shallow copy of ``msg`` carrying ``seq`` (the big arrays are shared, not copied)."""
    if "header" in type(msg).model_fields:
        stamp = msg.header.stamp.model_copy(update={"sec": seq})
        return msg.model_copy(update={"header": msg.header.model_copy(update={"stamp": stamp})})
    if "linear" in type(msg).model_fields:
        return msg.model_copy(update={"linear": msg.linear.model_copy(update={"x": float(seq)})})
    return msg.model_copy(update={"data": f"{seq:010d}" + msg.data[10:]})


def seq_of(msg: Any) -> int:
    """The sequence number :func:`with_seq` put in ``msg``."""
    if "header" in type(msg).model_fields:
        return int(msg.header.stamp.sec)
    if "linear" in type(msg).model_fields:
        return int(msg.linear.x)
    return int(msg.data[:10])
