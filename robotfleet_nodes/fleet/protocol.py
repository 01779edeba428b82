"""What the four tiers agree on: names, order-state rules, and the durable JetStream parts.

See ``docs/fleet.md``. Every tier imports its names from here so a rename happens once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, TypeVar

from nats import errors as nats_errors
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError

from robotfleet_nodes.idl.standard import Time
from robotfleet_nodes.msg import WorkOrder, WorkOrderEvent, WorkOrderUpdate
from robotfleet_nodes.transport import IntraProcessTransport, NatsTransport, Transport

__all__ = [
    "FINAL_STATES",
    "ORDER_ID_RE",
    "STATE_NAMES",
    "OrderEvents",
    "OrderStore",
    "accepts_from",
    "advances",
    "apply_update",
    "area_name",
    "ask_journal",
    "create_key_value",
    "factsheet_bucket",
    "nats_transport_of",
    "note_stale_outcome",
    "now_stamp",
    "open_key_value",
    "robot_name",
    "state_name",
    "zone_name",
]

log = logging.getLogger(__name__)

#: Reads of the whole order bucket before a short read is accepted (see OrderStore.load_all).
LOAD_TRIES = 3
#: Order ids: usable verbatim as NATS subject token and KV key.
ORDER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")

STATE_NAMES: dict[int, str] = {
    WorkOrder.STATE_PENDING: "PENDING",
    WorkOrder.STATE_DISPATCHED: "DISPATCHED",
    WorkOrder.STATE_ASSIGNED: "ASSIGNED",
    WorkOrder.STATE_EXECUTING: "EXECUTING",
    WorkOrder.STATE_COMPLETED: "COMPLETED",
    WorkOrder.STATE_FAILED: "FAILED",
    WorkOrder.STATE_CANCELLED: "CANCELLED",
}
STATE_VALUES: dict[str, int] = {name: value for value, name in STATE_NAMES.items()}
FINAL_STATES = frozenset({WorkOrder.STATE_COMPLETED, WorkOrder.STATE_FAILED, WorkOrder.STATE_CANCELLED})


def state_name(state: int) -> str:
    return STATE_NAMES.get(state, f"UNKNOWN({state})")


# -- names ----------------------------------------------------------------------------
def robot_name(robot_id: str, leaf: str = "") -> str:
    """``/robots/<robot_id>`` or ``/robots/<robot_id>/<leaf>`` (status, execute, edge)."""
    return f"/robots/{robot_id}" + (f"/{leaf}" if leaf else "")


def zone_name(zone_id: str, leaf: str = "") -> str:
    """``/zones/<zone_id>[/<leaf>]`` (summary, robots, assign, cancel, zone)."""
    return f"/zones/{zone_id}" + (f"/{leaf}" if leaf else "")


def area_name(area_id: str, leaf: str = "") -> str:
    """``/areas/<area_id>[/<leaf>]`` (summary, dispatch, cancel, area)."""
    return f"/areas/{area_id}" + (f"/{leaf}" if leaf else "")


FLEET_NAMESPACE = "/fleet"


def now_stamp() -> Time:
    """The current UTC time as ``builtin_interfaces/Time``."""
    ns = time.time_ns()
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


async def ask_journal(client: Any, order_id: str, attempt: int, *, timeout: float) -> Any | None:
    """Ask a robot's journal (``client``: a ``GetExecutions`` client of
    ``/robots/<robot_id>/journal``) how ``order_id`` stands there; asking fences it at
    ``attempt``. The ``ExecutionRecord``, or None when the robot does not answer."""
    from robotfleet_nodes.errors import RobotFleetError
    from robotfleet_nodes.srv import GetExecutions

    try:
        answer = await client.call(
            GetExecutions.Request(order_ids=[order_id], attempts=[attempt]), timeout=timeout
        )
    except (TimeoutError, ConnectionError, RobotFleetError):
        return None
    return answer.records[0] if answer.records else None


# -- order state rules ------------------------------------------------------------------
def advances(order: WorkOrder, update: WorkOrderUpdate) -> bool:
    """True when ``update`` moves ``order`` forward: (attempt, state) grows; finals are final.

    CANCELLED wins over everything not yet final, whatever its attempt.
    """
    if order.state in FINAL_STATES:
        return False
    if update.state == WorkOrder.STATE_CANCELLED:
        return True
    return (update.attempt, update.state) > (order.attempts, order.state)


def apply_update(order: WorkOrder, update: WorkOrderUpdate) -> WorkOrder:
    """A copy of ``order`` with ``update`` applied and recorded in its history.

    Empty ids keep the order's, except in a DISPATCHED of a newer attempt: an order taken
    back from a silent zone is held by no zone and no robot until another takes it.
    """
    changes: dict[str, Any] = {"state": update.state, "updated": update.stamp, "attempts": update.attempt}
    moved_back = update.state == WorkOrder.STATE_DISPATCHED and update.attempt > order.attempts
    for key in ("area_id", "zone_id", "robot_id"):
        value = getattr(update, key)
        if value or (moved_back and key != "area_id"):
            changes[key] = value
    if update.state in (WorkOrder.STATE_FAILED, WorkOrder.STATE_CANCELLED) and update.note:
        changes["error"] = update.note
    event = WorkOrderEvent(state=update.state, stamp=update.stamp, by=update.by, note=update.note)
    changes["history"] = [*order.history, event]
    return order.model_copy(update=changes)


def accepts_from(
    order: WorkOrder,
    update: WorkOrderUpdate,
    source: str | None,
    *,
    fleet_id: str,
    areas: Collection[str],
    zone_area: Mapping[str, str],
) -> bool:
    """Whether the tier ``source`` may report ``update`` about ``order``.

    The fleet itself (and an event without a source) may. An area may report about the
    orders of its area. A zone must name itself as the update's zone, and the order must be
    held by it, or by no zone yet within the zone's area (``zone_area``, from the areas'
    summaries; a zone not seen yet is given the benefit of the doubt). An outcome of an
    older attempt passes: it is only recorded (:func:`note_stale_outcome`), never applied.
    """
    if source is None or source == fleet_id:
        return True
    if source in areas:
        return order.area_id in ("", source)
    if update.zone_id != source:
        return False
    if update.attempt < order.attempts or order.zone_id == source:
        return True
    if order.zone_id:
        return False
    area = zone_area.get(source)
    return area is None or not order.area_id or area == order.area_id


#: Outcomes that a robot reports once per attempt; an older attempt's is stale.
_OUTCOMES = frozenset({WorkOrder.STATE_COMPLETED, WorkOrder.STATE_FAILED})
_NOT_APPLIED = ": not applied"


def note_stale_outcome(order: WorkOrder, update: WorkOrderUpdate) -> WorkOrder | None:
    """A copy of ``order`` recording a stale outcome in its history, or None.

    Stale: a COMPLETED or FAILED of an attempt older than the order's (the attempt is the
    fencing token, docs/fleet.md "Leases"): it cannot change the order, but that robot did
    report it, so the history says so once per (attempt, state) with the order's state
    unchanged. None for anything else, or when it is recorded already (a redelivery).
    """
    if update.state not in _OUTCOMES or update.attempt >= order.attempts:
        return None
    said = f"attempt {update.attempt} {state_name(update.state)} by "
    if any(e.note.startswith(said) and _NOT_APPLIED in e.note for e in order.history):
        return None
    note = f"{said}{update.by or 'unknown'} after attempt {order.attempts} began{_NOT_APPLIED}"
    if update.note:
        note += f" ({update.note})"
    event = WorkOrderEvent(state=order.state, stamp=now_stamp(), by=update.by, note=note)
    return order.model_copy(update={"history": [*order.history, event]})


# -- JetStream parts --------------------------------------------------------------------
def nats_transport_of(transport: Transport) -> NatsTransport:
    """The NATS transport under ``transport`` (the tiers need JetStream)."""
    inner: Any = transport
    while isinstance(inner, IntraProcessTransport):
        inner = inner.inner
    if not isinstance(inner, NatsTransport):
        raise TypeError("the fleet tiers need a NATS transport (JetStream keeps the work orders)")
    return inner


def factsheet_bucket(root: str, domain: str) -> str:
    """``RFOS_<root>_<domain>_FACTSHEETS``: the robots' factsheets, key = robot id (the fleet
    creates it, each edge writes its own key: docs/fleet.md "Robot kinds and factsheets")."""
    return f"RFOS_{_safe(root)}_{_safe(domain)}_FACTSHEETS"


#: What needs JetStream, for the message when the server has it off.
_NEEDS_JETSTREAM = "the work orders"


def _safe(token: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", token)


#: The token after kind ``w`` of the order-event subjects: ``<root>.<domain>.w.orders.<order id>``.
_ORDER_EVENTS_TOKEN = "orders"


class OrderEvents:
    """The stream of ``WorkOrderUpdate`` events, de-duplicated by ``<source>/<order>/<attempt>/<state>``.

    Subjects (built by the transport's ``SubjectMapper``, kind ``w``):
    ``<root>.<domain>.w.orders.<source>.<order id>``, all of them :attr:`wildcard`. The
    source is the publishing tier's id (``fleet``, ``area-1``, ``zone-1``): a secured tier
    may publish under its own id only, and the fleet applies a zone's or area's event only
    to an order that tier holds (:func:`accepts_from`). ``source=None`` (reading only, or
    events stored before sources existed) uses ``<root>.<domain>.w.orders.<order id>``.
    """

    def __init__(self, transport: NatsTransport, source: str | None = None) -> None:
        mapper = transport.mapper
        self.stream = f"RFOS_{_safe(mapper.root)}_{_safe(mapper.domain)}_ORDER_EVENTS"
        self.source = source
        self._mapper = mapper
        self._prefix = mapper.work_wildcard(_ORDER_EVENTS_TOKEN)[:-1]  # "<root>.<domain>.w.orders."
        #: Every order's events (the stream's and the fleet consumer's filter).
        self.wildcard = mapper.work_wildcard(_ORDER_EVENTS_TOKEN)
        self._transport = transport

    @property
    def js(self) -> JetStreamContext:
        return self._transport.jetstream()

    async def ensure(self, *, create: bool | None = None) -> None:
        """Create the stream if missing (file storage, 2 min de-duplication window)."""
        config = js_api.StreamConfig(
            name=self.stream,
            subjects=[self.wildcard],
            storage=js_api.StorageType.FILE,
            duplicate_window=120.0,
            max_age=7 * 24 * 3600.0,
        )
        await self._transport.require_jetstream(_NEEDS_JETSTREAM)
        config.num_replicas = self._transport.stream_replicas()
        try:
            await self.js.stream_info(self.stream)
        except NotFoundError:

            async def add() -> None:
                try:
                    await self.js.add_stream(config)
                except BadRequestError:  # created concurrently by another tier
                    await self.js.stream_info(self.stream)

            await _create_or_wait(
                f"the order-events stream {self.stream}",
                add,
                self._exists,
                may_create=_may_create(self._transport, create),
            )

    async def _exists(self) -> None:
        await self.js.stream_info(self.stream)

    def subject(self, order_id: str) -> str:
        """The subject of ``order_id``'s events published by this tier."""
        if self.source is None:
            return self._mapper.work(_ORDER_EVENTS_TOKEN, order_id)
        return self._mapper.work(_ORDER_EVENTS_TOKEN, self.source, order_id)

    def order_filter(self, order_id: str) -> str:
        """The pattern of ``order_id``'s events from every source (a consumer's filter)."""
        return f"{self._prefix}*.{order_id}"

    def parse(self, subject: str) -> tuple[str | None, str] | None:
        """``(source, order id)`` of an event subject (source None: an event without one),
        or None for a subject that is not an order event's."""
        if not subject.startswith(self._prefix):
            return None
        tokens = subject[len(self._prefix) :].split(".")
        if len(tokens) == 1:
            return None, tokens[0]
        if len(tokens) == 2:
            return tokens[0], tokens[1]
        return None

    async def publish(self, update: WorkOrderUpdate) -> None:
        """Store ``update`` once (a repeat within the window is dropped by the server)."""
        from robotfleet_nodes.idl.codec import serialize

        msg_id = f"{update.order_id}/{update.attempt}/{update.state}"
        if self.source is not None:  # one tier's repeat is dropped, never another tier's event
            msg_id = f"{self.source}/{msg_id}"
        await self.js.publish(
            self.subject(update.order_id),
            serialize(update),
            headers={"Nats-Msg-Id": msg_id, "rfos-type": WorkOrderUpdate.__ros_type__},
        )


_T = TypeVar("_T")


async def create_key_value(js: JetStreamContext, config: js_api.KeyValueConfig) -> Any:
    """Create the key-value bucket ``config`` describes; one created meanwhile by another
    instance (JetStream refuses the create) is opened instead."""
    try:
        return await js.create_key_value(config)
    except BadRequestError:
        return await js.key_value(config.bucket)


async def open_key_value(js: JetStreamContext, config: js_api.KeyValueConfig) -> Any:
    """Open ``config.bucket``, creating it as ``config`` says when it does not exist yet."""
    try:
        return await js.key_value(config.bucket)
    except (NotFoundError, BadRequestError):
        return await create_key_value(js, config)


def _may_create(transport: NatsTransport, create: bool | None) -> bool:
    """``create``, or by default: only a connection without an identity (an open broker)
    tries to create; a secured zone or area waits for the fleet (``create=True``)."""
    return create if create is not None else transport.identity is None


#: How long a create request waits for JetStream's answer. A secured identity that may not
#: create streams (zones and areas: only the fleet may) gets no answer at all.
CREATE_TIMEOUT_S = 2.0
_WAIT_LOG_S = 10.0


async def _create_or_wait(
    what: str,
    create: Callable[[], Awaitable[_T]],
    opened: Callable[[], Awaitable[_T]],
    *,
    may_create: bool = True,
) -> _T:
    """``create()``; when JetStream does not answer (this identity may not create it: the
    fleet does), wait for ``opened()`` to find it, logging while the fleet is not up yet."""
    if may_create:
        try:
            return await asyncio.wait_for(create(), CREATE_TIMEOUT_S)
        except (TimeoutError, nats_errors.TimeoutError):
            pass
    log.info("waiting for the fleet to create %s (this identity may not create it)", what)
    delay, waited = 0.25, 0.0
    next_log = _WAIT_LOG_S
    while True:
        try:
            return await opened()
        except (NotFoundError, BadRequestError, nats_errors.TimeoutError, TimeoutError):
            pass
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, 2.0)
        if waited >= next_log:
            log.warning(
                "still waiting for the fleet to create %s (%.0f s): is the fleet running?", what, waited
            )
            next_log += _WAIT_LOG_S


class OrderStore:
    """Work orders in a JetStream key-value bucket: key = order id, value = WorkOrder JSON.

    ``jetstream_domain``: the domain the bucket lives in when it is not the connected
    server's own (a zone at an edge site reads the hub's, docs/fleet.md "Edge sites").
    """

    def __init__(self, transport: NatsTransport, *, jetstream_domain: str | None = None) -> None:
        mapper = transport.mapper
        self.bucket = f"RFOS_{_safe(mapper.root)}_{_safe(mapper.domain)}_ORDERS"
        self._transport = transport
        self._domain = jetstream_domain
        self._kv: Any = None

    def _jetstream(self) -> JetStreamContext:
        return self._transport.jetstream(self._domain)

    async def ensure(self, *, create: bool | None = None) -> None:
        """Open the bucket, creating it if missing; ``JetStreamUnavailable`` without JetStream."""
        await self._transport.require_jetstream(_NEEDS_JETSTREAM)
        js = self._jetstream()
        try:
            self._kv = await js.key_value(self.bucket)
        except (NotFoundError, BadRequestError):

            async def add() -> Any:
                return await create_key_value(
                    js,
                    js_api.KeyValueConfig(
                        bucket=self.bucket,
                        history=1,
                        storage=js_api.StorageType.FILE,
                        replicas=self._transport.stream_replicas(),
                    ),
                )

            async def opened() -> Any:
                return await js.key_value(self.bucket)

            self._kv = await _create_or_wait(
                f"the order bucket {self.bucket}",
                add,
                opened,
                may_create=_may_create(self._transport, create),
            )

    async def get(self, order_id: str) -> tuple[WorkOrder, int] | None:
        """The stored order and its revision, or ``None``."""
        from robotfleet_nodes.idl.codec import deserialize

        try:
            entry = await self._kv.get(order_id)
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        return deserialize(WorkOrder, entry.value), int(entry.revision)

    async def create(self, order: WorkOrder) -> tuple[WorkOrder, bool]:
        """Store ``order`` unless its id exists; return (the stored order, created?)."""
        from robotfleet_nodes.idl.codec import serialize

        try:
            await self._kv.create(order.id, serialize(order))
        except KeyWrongLastSequenceError:
            existing = await self.get(order.id)
            if existing is None:  # deleted in between: try once more
                await self._kv.create(order.id, serialize(order))
                return order, True
            return existing[0], False
        return order, True

    async def put(self, order: WorkOrder) -> None:
        from robotfleet_nodes.idl.codec import serialize

        await self._kv.put(order.id, serialize(order))

    async def replace(self, order: WorkOrder, revision: int) -> bool:
        """Store ``order`` only if its stored revision is still ``revision`` (compare-and-set)."""
        from robotfleet_nodes.idl.codec import serialize

        try:
            await self._kv.update(order.id, serialize(order), last=revision)
        except KeyWrongLastSequenceError:
            return False
        return True

    async def watch(self) -> Any:
        """A watcher of every order: the stored ones, then ``None``, then each change (nats-py's
        ``KeyWatcher``; ``await watcher.stop()`` when done)."""
        return await self._kv.watchall(ignore_deletes=True)

    async def load_all(self) -> list[WorkOrder]:
        """Every stored order (one ordered read of the bucket, not one request per key).

        The read is checked against the bucket's size: a watcher can report the end of the
        initial values early (seen: a restarted zone read none of its orders while the bucket
        held them), so a short read is repeated, up to :data:`LOAD_TRIES` times.
        """
        orders: list[WorkOrder] = []
        for _ in range(LOAD_TRIES):
            orders = await self._read_all()
            info = await self._jetstream().stream_info(f"KV_{self.bucket}")
            if len(orders) >= int(info.state.messages):
                return orders
            log.warning(
                "order bucket %s: read %d of %d orders; reading again",
                self.bucket,
                len(orders),
                info.state.messages,
            )
        return orders

    async def _read_all(self) -> list[WorkOrder]:
        from robotfleet_nodes.idl.codec import deserialize

        orders: list[WorkOrder] = []
        watcher = await self._kv.watchall(ignore_deletes=True)
        try:
            async for entry in watcher:
                if entry is None:  # end of the initial values
                    break
                if entry.value:
                    orders.append(deserialize(WorkOrder, entry.value))
        finally:
            await watcher.stop()
        return orders
