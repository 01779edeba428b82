"""The robot's factsheet into the fleet's factsheet bucket (docs/fleet.md, "Robot kinds and factsheets").

A driver that knows what its robot is (a VDA 5050 vehicle's ``factsheet``) offers it as
``RobotDriver.factsheet``; the edge hands every new one (a new object) to its
:class:`FactsheetWriter`. The writer stores it in the JetStream key-value bucket
``RFOS_<root>_<domain>_FACTSHEETS`` (:func:`~robotfleet_nodes.fleet.protocol.factsheet_bucket`),
key = the robot id, value = the JSON body ``GET /api/robots/{robot_id}/factsheet`` returns:
``{"robot_id", "received" (UTC, ISO 8601), "factsheet"}``.

The fleet creates the bucket; the edge only publishes on ``$KV.<bucket>.<robot_id>``, as a
request, so JetStream's answer says the value is stored (a secured robot may publish on its
own key only: docs/subjects.md). No answer (no bucket yet: the fleet is not up, or the
broker is away) means try again, with a growing pause (:data:`RETRY_S` up to
:data:`MAX_RETRY_S`), until stored, replaced by a newer factsheet, or the edge stops. Cost:
nothing for a robot without a factsheet, one request per change for one with.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from robotfleet_nodes.fleet.protocol import factsheet_bucket, nats_transport_of
from robotfleet_nodes.transport import NatsTransport, Transport

__all__ = ["MAX_RETRY_S", "REQUEST_TIMEOUT_S", "RETRY_S", "FactsheetWriter", "factsheet_value"]

log = logging.getLogger(__name__)

#: First pause after a put JetStream did not answer [s]; doubled up to :data:`MAX_RETRY_S`.
RETRY_S = 0.25
MAX_RETRY_S = 10.0
#: How long one put waits for JetStream's acknowledgement [s].
REQUEST_TIMEOUT_S = 2.0


def factsheet_value(robot_id: str, factsheet: Mapping[str, Any], received: datetime) -> bytes:
    """The stored value: the API's body (``robot_id``, ``received``, ``factsheet`` as sent)."""
    body = {"robot_id": robot_id, "received": received.isoformat(), "factsheet": dict(factsheet)}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class FactsheetWriter:
    """Stores the latest factsheet of one robot in the bucket, retrying until it is stored.

    Args:
        transport: the edge's transport; a NATS one (possibly behind an intra-process
            transport) stores, any other logs once that factsheets need NATS.
        robot_id: the key.
    """

    def __init__(self, transport: Transport, robot_id: str) -> None:
        self._nats: NatsTransport | None
        try:
            self._nats = nats_transport_of(transport)
        except TypeError:
            self._nats = None
        mapper = self._nats.mapper if self._nats is not None else None
        bucket = factsheet_bucket(mapper.root, mapper.domain) if mapper is not None else ""
        self.subject = f"$KV.{bucket}.{robot_id}"
        self.robot_id = robot_id
        #: The factsheet last handed over (identity: the driver keeps the same object).
        self.current: Mapping[str, Any] | None = None
        self._value: bytes | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: How many factsheets were stored (each acknowledged by JetStream).
        self.stored = 0
        #: How many puts got no acknowledgement (no bucket yet, broker away, refused).
        self.failures = 0

    def check(self, factsheet: Mapping[str, Any] | None) -> None:
        """Store ``factsheet`` (the driver's, now) if it is not the object last handed over."""
        if factsheet is not self.current:
            self.update(factsheet)

    def update(self, factsheet: Mapping[str, Any] | None) -> None:
        """Take the driver's ``factsheet`` (received now); store it unless it is None."""
        self.current = factsheet
        if factsheet is None:
            return
        if self._nats is None:
            log.warning("%s: factsheets need the NATS transport; not stored", self.robot_id)
            return
        try:
            self._value = factsheet_value(self.robot_id, factsheet, datetime.now(UTC))
        except (TypeError, ValueError) as exc:
            log.warning("%s: factsheet is not JSON (%s); not stored", self.robot_id, exc)
            self._value = None
            return
        self._wake.set()
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        """Stop trying (a put under way is abandoned)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        delay = RETRY_S
        while True:
            await self._wake.wait()
            self._wake.clear()
            value = self._value
            if value is None:
                continue
            if await self._put(value):
                self.stored += 1
                delay = RETRY_S
                continue
            self.failures += 1
            if not self._wake.is_set():  # a newer factsheet goes out at once
                self._wake.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)

    async def _put(self, value: bytes) -> bool:
        nats = self._nats
        if nats is None:  # update() starts no task without it
            return True
        try:
            reply = await nats.request(self.subject, value, timeout=REQUEST_TIMEOUT_S)
        except Exception as exc:  # no responders (no bucket yet), timeout, disconnected
            log.debug("%s: factsheet not stored yet (%s); retrying", self.robot_id, type(exc).__name__)
            return False
        try:
            ack = json.loads(reply.data or b"{}")
        except ValueError:
            ack = {}
        if "error" in ack or "seq" not in ack:
            log.warning(
                "%s: factsheet refused by JetStream: %s; retrying", self.robot_id, ack.get("error", ack)
            )
            return False
        log.info("%s: factsheet stored (%d bytes)", self.robot_id, len(value))
        return True
