"""The robots' factsheets, as the fleet reads them (docs/fleet.md, "Robot kinds and factsheets").

:class:`FactsheetStore` opens (the fleet creates it, every instance alike) the JetStream
key-value bucket ``RFOS_<root>_<domain>_FACTSHEETS``: key = robot id, value = the JSON
body of ``GET /api/robots/{robot_id}/factsheet``, written by the robot's edge
(``robotfleet_nodes/edge/_factsheet.py``) whenever its driver's factsheet changes. One
value per robot (history 1); the fleet reads one key per request (a direct get), so the
cost grows with requests, not with robots.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from nats.js import api as js_api
from nats.js.errors import KeyNotFoundError

from robotfleet_nodes.errors import BrokerUnavailable
from robotfleet_nodes.fleet.protocol import factsheet_bucket, open_key_value
from robotfleet_nodes.transport import NatsTransport

__all__ = ["MAX_FACTSHEET_BYTES", "FactsheetStore"]

log = logging.getLogger(__name__)

#: Largest stored value (a VDA 5050 factsheet is 2-20 KB); JetStream refuses larger puts.
MAX_FACTSHEET_BYTES = 1024 * 1024
#: What a key-value key may be (a robot id that is not one has no factsheet).
_KEY = re.compile(r"[-/_=A-Za-z0-9]+(\.[-/_=A-Za-z0-9]+)*")


class FactsheetStore:
    """The factsheet bucket of the fleet's subject root and domain."""

    def __init__(self, transport: NatsTransport) -> None:
        mapper = transport.mapper
        self.bucket = factsheet_bucket(mapper.root, mapper.domain)
        self._transport = transport
        self._kv: Any = None

    async def ensure(self) -> None:
        """Open the bucket, creating it if missing (file storage, one value per robot)."""
        self._kv = await open_key_value(
            self._transport.jetstream(),
            js_api.KeyValueConfig(
                bucket=self.bucket,
                history=1,
                storage=js_api.StorageType.FILE,
                replicas=self._transport.stream_replicas(),
                max_value_size=MAX_FACTSHEET_BYTES,
                direct=True,
            ),
        )

    async def get(self, robot_id: str) -> bytes | None:
        """The stored body of ``robot_id``'s factsheet (JSON), or None when it sent none."""
        if self._kv is None:
            raise BrokerUnavailable(f"the factsheet bucket {self.bucket} is not open yet; retry shortly")
        if not _KEY.fullmatch(robot_id):
            return None
        try:
            entry = await self._kv.get(robot_id)
        except KeyNotFoundError:
            return None
        return bytes(entry.value) if entry.value else None
