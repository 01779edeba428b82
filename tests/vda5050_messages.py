"""Minimal VDA 5050 2.1.0 messages for tests that speak MQTT themselves (each validated)."""

from __future__ import annotations

import json
from typing import Any

from robotfleet_nodes.vda5050 import validate
from robotfleet_nodes.vda5050.topics import VehicleTopics

#: A fixed timestamp: these tests compare messages whole.
TIMESTAMP = "2026-12-05T22:00:00.000Z"


def header(t: VehicleTopics, header_id: int) -> dict[str, Any]:
    """The header fields every message from or to vehicle ``t`` carries."""
    return {
        "headerId": header_id,
        "timestamp": TIMESTAMP,
        "version": "2.1.0",
        "manufacturer": t.manufacturer,
        "serialNumber": t.serial_number,
    }


def connection_message(t: VehicleTopics, state: str, header_id: int = 0) -> dict[str, Any]:
    """A ``connection`` message of vehicle ``t`` in ``state`` (ONLINE, OFFLINE, CONNECTIONBROKEN)."""
    msg = {**header(t, header_id), "connectionState": state}
    validate("connection", msg)
    return msg


def connection(t: VehicleTopics, state: str, header_id: int = 0) -> bytes:
    """:func:`connection_message` as the JSON payload to publish."""
    return json.dumps(connection_message(t, state, header_id)).encode()
