"""VDA 5050 topics, the NATS subjects nats-server's MQTT listener maps them to, and robot ids.

A vehicle publishes and subscribes MQTT topics
``<interfaceName>/<majorVersion>/<manufacturer>/<serialNumber>/<topic>`` (spec 6.2,
``uagv/v2/Acme/SN-1/state``). nats-server's MQTT listener turns every topic into a NATS
subject: ``/`` becomes ``.`` and a ``.`` inside a level becomes ``//`` (so the serial
``SN.1`` is the subject token ``SN//1``); NATS clients (the edge) use those subjects.
:func:`subject` does that conversion as nats-server does, :func:`topic_of` undoes it.

Names that cannot be carried are refused with :class:`~robotfleet_nodes.errors.Vda5050ConfigError`:
empty, whitespace (nats-server rejects it), MQTT's ``/ + #`` inside a level, NATS's
wildcards ``* >`` (a subject token made of them would match other vehicles' subjects).

:func:`default_robot_id` is a vehicle's robot id when its configuration names none:
``<manufacturer>-<serialNumber>``, every character a robot id cannot hold (``.`` among
them) replaced by ``_``: ``Acme`` / ``SN.1`` -> ``Acme-SN_1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from robotfleet_nodes.errors import Vda5050ConfigError

__all__ = [
    "DEFAULT_INTERFACE",
    "DEFAULT_MAJOR_VERSION",
    "VehicleTopics",
    "check_level",
    "default_robot_id",
    "subject",
    "topic_of",
]

#: ``interfaceName`` when a vehicle's configuration names none (spec 6.2).
DEFAULT_INTERFACE = "uagv"
#: The protocol major version in the topic (``v2`` for VDA 5050 2.x).
DEFAULT_MAJOR_VERSION = "v2"

_FORBIDDEN = re.compile(r"[\s/+#*>\x00\x7f]")
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


def check_level(value: str, what: str) -> str:
    """``value`` if it can be one level of a VDA 5050 topic, else :class:`Vda5050ConfigError`."""
    if not value:
        raise Vda5050ConfigError(f"VDA 5050 {what} must not be empty")
    bad = _FORBIDDEN.search(value)
    if bad:
        raise Vda5050ConfigError(
            f"VDA 5050 {what} {value!r} contains {bad.group()!r}: a topic level cannot hold "
            "whitespace, '/', '+', '#', '*' or '>' (MQTT or NATS reserve them); rename it in the "
            "vehicle's configuration"
        )
    if value.startswith("$"):
        raise Vda5050ConfigError(
            f"VDA 5050 {what} {value!r} starts with '$' (MQTT reserves it for the broker); rename it"
        )
    return value


def subject(topic: str) -> str:
    """The NATS subject nats-server's MQTT listener gives the MQTT topic ``topic``.

    ``/`` -> ``.``; ``.`` -> ``//``; an empty level (leading, trailing or ``//`` in the topic)
    becomes ``/`` in its own token, as nats-server writes it.
    """
    levels = topic.split("/")
    return ".".join(level.replace(".", "//") if level else "/" for level in levels)


def topic_of(subject_: str) -> str:
    """The MQTT topic of a subject :func:`subject` made (its inverse)."""
    return "/".join("" if token == "/" else token.replace("//", ".") for token in subject_.split("."))


def default_robot_id(manufacturer: str, serial_number: str) -> str:
    """``<manufacturer>-<serialNumber>`` with every character a robot id cannot hold as ``_``."""
    raw = f"{manufacturer}-{serial_number}"
    safe = _NOT_ID.sub("_", raw)
    if not (safe[0].isalpha() or safe[0] == "_"):
        safe = "v_" + safe
    return safe[:255]


@dataclass(frozen=True, slots=True)
class VehicleTopics:
    """One vehicle's topics (MQTT) and subjects (NATS), from its four topic levels."""

    manufacturer: str
    serial_number: str
    interface_name: str = DEFAULT_INTERFACE
    major_version: str = DEFAULT_MAJOR_VERSION

    def __post_init__(self) -> None:
        check_level(self.interface_name, "interfaceName")
        check_level(self.major_version, "major version")
        check_level(self.manufacturer, "manufacturer")
        check_level(self.serial_number, "serialNumber")

    @property
    def prefix(self) -> str:
        """``<interfaceName>/<majorVersion>/<manufacturer>/<serialNumber>``."""
        return f"{self.interface_name}/{self.major_version}/{self.manufacturer}/{self.serial_number}"

    def topic(self, name: str) -> str:
        """The MQTT topic ``name`` (``order``, ``state``, ...) of this vehicle."""
        return f"{self.prefix}/{name}"

    def subject(self, name: str) -> str:
        """The NATS subject of this vehicle's topic ``name``."""
        return subject(self.topic(name))

    @property
    def subject_prefix(self) -> str:
        """The NATS subject of :attr:`prefix` (``uagv.v2.Acme.SN//1``)."""
        return subject(self.prefix)
