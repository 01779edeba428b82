"""Real rosidl messages <-> plain JSON values, for the programs run under real rclpy.

Imported only by programs that run with ``.venv-ros2/bin/python``. A message becomes a dict
of its fields (arrays as lists, nested messages as dicts); ``from_plain`` builds one back.
"""

import array
import importlib
import re

_SEQUENCE = re.compile(r"^sequence<(?P<inner>[^,>]+)(?:, \d+)?>$")
_ARRAY = re.compile(r"^(?P<inner>.+)\[\d+\]$")


def message_class(type_name):
    """``sensor_msgs/msg/PointCloud2`` (or ``sensor_msgs/PointCloud2``) -> the rosidl class."""
    parts = type_name.split("/")
    package, name = parts[0], parts[-1]
    return getattr(importlib.import_module(f"{package}.msg"), name)


def _element(field_type):
    for pattern in (_SEQUENCE, _ARRAY):
        match = pattern.match(field_type)
        if match:
            return match.group("inner")
    return None


def from_plain(cls, values):
    """A ``cls`` message with the fields in ``values`` (nested dicts for nested messages)."""
    msg = cls()
    types = cls.get_fields_and_field_types()
    for name, plain in values.items():
        field_type = types[name]
        element = _element(field_type)
        value = plain
        if element is not None and "/" in element:
            value = [from_plain(message_class(element), item) for item in plain]
        elif element is None and "/" in field_type:
            value = from_plain(message_class(field_type), plain)
        setattr(msg, name, value)
    return msg


def to_plain(value):
    """Fields of a message as plain JSON values (floats exact, arrays as lists)."""
    if hasattr(value, "get_fields_and_field_types"):
        return {name: to_plain(getattr(value, name)) for name in value.get_fields_and_field_types()}
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if isinstance(value, array.array) or hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value
