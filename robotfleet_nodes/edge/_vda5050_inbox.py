"""What a VDA 5050 master lets in (:class:`Inbox`): one vehicle's messages, checked.

A payload on one of the vehicle's subjects is let in only when it is JSON, an object, valid
against the topic's 2.1.0 schema and from this vehicle (``manufacturer`` and
``serialNumber`` of its header). Everything else is dropped, counted per kind, and logged
once per kind (then at DEBUG): a broken vehicle sending the same bad message every second
writes one warning, not one a second.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from robotfleet_nodes.vda5050 import errors as schema_errors
from robotfleet_nodes.vda5050.topics import VehicleTopics

__all__ = ["Inbox"]

log = logging.getLogger("robotfleet_nodes.edge.vda5050")


class Inbox:
    """The check of one vehicle's incoming messages; ``malformed`` counts what it dropped."""

    __slots__ = ("_counts", "_robot_id", "_topics")

    def __init__(self, robot_id: str, topics: VehicleTopics) -> None:
        self._robot_id = robot_id
        self._topics = topics
        self._counts: dict[str, int] = {}

    @property
    def malformed(self) -> int:
        """Messages dropped so far."""
        return sum(self._counts.values())

    def _bad(self, kind: str, reason: object) -> None:
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        if count == 1:
            log.warning(
                "%s: dropped a malformed VDA 5050 message (%s): %s (logged once)",
                self._robot_id,
                kind,
                reason,
            )
        else:
            log.debug("%s: malformed VDA 5050 message #%d (%s): %s", self._robot_id, count, kind, reason)

    def check(self, topic: str, payload: bytes) -> dict[str, Any] | None:
        """The message of ``payload`` on ``topic``, or None (dropped, counted, logged)."""
        try:
            msg = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            self._bad(f"{topic}: not JSON", exc)
            return None
        if not isinstance(msg, dict):
            self._bad(f"{topic}: not an object", type(msg).__name__)
            return None
        problems = schema_errors(topic, msg)
        if problems:
            self._bad(f"{topic}: schema", "; ".join(problems[:3]))
            return None
        t = self._topics
        if msg["serialNumber"] != t.serial_number or msg["manufacturer"] != t.manufacturer:
            self._bad(
                f"{topic}: another vehicle", f"{msg['manufacturer']}/{msg['serialNumber']} on {t.prefix}"
            )
            return None
        return msg
