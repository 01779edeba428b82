"""``rclpy.serialization``: messages to ROS 2's serialized form (CDR with its 4-byte header) and back.

The bytes are those real rclpy produces for the same message (``serialize_message``), so they
can be stored in a rosbag2 file or handed to a DDS program.
"""

from __future__ import annotations

from typing import Any, TypeVar

from robotfleet_nodes.idl.codec import Encoding, deserialize, serialize

__all__ = ["deserialize_message", "serialize_message"]

MsgT = TypeVar("MsgT")


def _check_message_class(cls: type[Any]) -> None:
    if not hasattr(cls, "__ros_type__"):
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} is not a ROS message class: pass a class of an interface "
            "package (e.g. std_msgs.msg.String)"
        )


def serialize_message(message: Any) -> bytes:
    """``message`` in CDR (XCDR1, little endian, with the encapsulation header)."""
    _check_message_class(type(message))
    return serialize(message, Encoding.CDR)


def deserialize_message(serialized_message: bytes, message_type: type[MsgT]) -> MsgT:
    """The ``message_type`` message that :func:`serialize_message` turned into ``serialized_message``."""
    _check_message_class(message_type)
    message: MsgT = deserialize(message_type, serialized_message, Encoding.CDR)  # type: ignore[type-var]
    return message
