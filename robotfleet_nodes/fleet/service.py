"""The fleet's core, usable without HTTP: order store, scheduler, events consumer, views.

``FleetService(config, context)`` owns

- the :class:`~robotfleet_nodes.fleet.protocol.OrderStore` (JetStream KV) and an in-memory
  index of every order, loaded at start;
- the scheduler: one priority queue per area (priority 9 first, FIFO within a priority), and
  a dispatch loop calling ``/areas/<a>/dispatch`` with the key ``<id>/<attempts>``. An area
  gets orders only while its latest ``AreaSummary`` reports capacity (minus what was handed
  to it since, plus the orders of that area that ended since: a robot that finishes is free
  again without waiting for the next 1 Hz summary), never more than ``max_in_flight`` calls
  at a time; a submission or a freed robot wakes the dispatch loop at once; a refusal or an
  unreachable area keeps the order PENDING and backs the area off (exponentially, up to
  :data:`MAX_BACKOFF_S`). An area that never reported is probed one order at a time;
- the durable JetStream consumer of ``WorkOrderUpdate`` events (resumes after a restart).
  Events are pulled in batches of up to :data:`EVENT_BATCH` and grouped by order: one
  order's events are applied in stream order, different orders concurrently, and each
  order is written to the store once per batch (its final state) before its events are
  acked. A crash between that write and the acks only re-delivers events that
  :func:`~robotfleet_nodes.fleet.protocol.advances` then ignores. Orders are serialised
  one by one (a lock per order id), never behind each other: a submission is one
  create-if-absent write and waits for nothing else;
- cancel, the area/zone/robot views behind the HTTP API, a :class:`Broadcaster` of SSE
  events and a prometheus_client ``CollectorRegistry`` of its metrics;
- :class:`FleetNode` (``/fleet/fleet``): ``FleetSummary`` at 1 Hz and the services
  ``/fleet/submit``, ``/fleet/cancel``, ``/fleet/get``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Hashable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import prometheus_client as prometheus
from nats.errors import TimeoutError as NatsTimeoutError

from robotfleet_nodes.config import FleetConfig
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.fleet.protocol import (
    FINAL_STATES,
    ORDER_ID_RE,
    STATE_NAMES,
    OrderEvents,
    OrderStore,
    advances,
    apply_update,
    area_name,
    nats_transport_of,
    now_stamp,
    zone_name,
)
from robotfleet_nodes.msg import (
    AreaSummary,
    FleetSummary,
    RobotTable,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderUpdate,
    ZoneSummary,
)
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.node.service import Client
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder, GetWorkOrder, SubmitWorkOrder
from robotfleet_nodes.web import Broadcaster, ServerSentEvent, new_registry

__all__ = [
    "ROBOT_STATE_NAMES",
    "CancelResult",
    "FleetNode",
    "FleetService",
    "OrderIndex",
    "SubmitError",
    "order_json",
    "stamp_iso",
]

log = logging.getLogger(__name__)

#: Longest pause before an area that refused or failed is offered orders again [s].
MAX_BACKOFF_S = 2.0
#: Dispatch calls outstanding per area at most (the default of ``max_in_flight``).
DEFAULT_MAX_IN_FLIGHT = 64
#: Name of the fleet's durable consumer on the order-events stream.
DURABLE_PREFIX = "fleet"
#: Order events pulled per fetch at most (grouped by order, applied concurrently).
EVENT_BATCH = 250
#: Seconds one fetch collects events at most. Short: a pull request with ``expires`` is held
#: by the server until the batch is full, so a long wait would apply events only that often.
EVENT_FETCH_WAIT_S = 0.05
#: Order events fetched and not yet acked at most (below the consumer's max_ack_pending,
#: 1000 by default): several fetched batches are applied at the same time.
EVENT_WINDOW = 800

#: RobotStatus.STATE_* as the API names them (RobotTable.states carries the numbers).
ROBOT_STATE_NAMES: dict[int, str] = {}


def _robot_state_names() -> dict[int, str]:
    if not ROBOT_STATE_NAMES:
        from robotfleet_nodes.msg import RobotStatus

        for name in ("IDLE", "EXECUTING", "CHARGING", "ERROR", "OFFLINE"):
            value = getattr(RobotStatus, f"STATE_{name}", None)
            if value is not None:
                ROBOT_STATE_NAMES[int(value)] = name
    return ROBOT_STATE_NAMES


def stamp_iso(stamp: Any) -> str | None:
    """A ``builtin_interfaces/Time`` as ISO 8601 UTC (``None`` for the zero time)."""
    if stamp is None or (stamp.sec == 0 and stamp.nanosec == 0):
        return None
    moment = datetime.fromtimestamp(stamp.sec + stamp.nanosec / 1e9, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _stamp_seconds(stamp: Any) -> float:
    return float(stamp.sec) + float(stamp.nanosec) / 1e9


def order_json(order: Any) -> dict[str, Any]:
    """An order as the HTTP API shows it (docs/fleet.md)."""
    return {
        "id": order.id,
        "state": STATE_NAMES.get(order.state, str(order.state)),
        "area_id": order.area_id,
        "zone_id": order.zone_id,
        "robot_id": order.robot_id,
        "task": order.task,
        "priority": order.priority,
        "target": {"x": order.target_x, "y": order.target_y} if order.has_target else None,
        "attempts": order.attempts,
        "error": order.error,
        "created": stamp_iso(order.created),
        "updated": stamp_iso(order.updated),
        "history": [
            {
                "state": STATE_NAMES.get(e.state, str(e.state)),
                "at": stamp_iso(e.stamp),
                "by": e.by,
                "note": e.note,
            }
            for e in order.history
        ],
    }


class SubmitError(RobotFleetError, ValueError):
    """A submission was refused; ``field`` names the offending field (or "")."""

    def __init__(self, message: str, field: str = "", *, retry: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.retry = retry


@dataclass(slots=True)
class CancelResult:
    """What :meth:`FleetService.cancel` did: ``order`` is None for an unknown id."""

    accepted: bool
    order: Any = None
    error: str = ""
    final: bool = False  # refused because the order is COMPLETED or FAILED


@dataclass(slots=True)
class _AreaState:
    queue: list[tuple[int, int, str]] = field(default_factory=list)
    queued: set[str] = field(default_factory=set)
    in_flight: int = 0
    summary: Any = None
    seen: float = float("-inf")
    handed: int = 0  # orders accepted since the last summary
    freed: int = 0  # orders of this area that ended (a robot freed) since the last summary
    failures: int = 0
    backoff_until: float = 0.0


class OrderIndex(MutableMapping[str, Any]):
    """Order id -> WorkOrder, in memory: live orders as messages, final ones as bytes.

    The fleet keeps every order it knows. Kept as messages, each final order is ~40
    objects (order, history events, stamps) that every full garbage collection walks: at
    200 orders/s those collections grew to hundreds of milliseconds within a minute. A final
    order no longer changes, so it is kept serialised (one untracked ``bytes``), with
    ``(state, area_id, created)`` for the list view, and decoded when read.
    """

    def __init__(self) -> None:
        self._live: dict[str, Any] = {}
        self._final: dict[str, bytes] = {}
        self._final_meta: dict[str, tuple[int, str, float]] = {}

    def __getitem__(self, order_id: str) -> Any:
        order = self._live.get(order_id)
        if order is not None:
            return order
        from robotfleet_nodes.idl.codec import deserialize

        return deserialize(WorkOrder, self._final[order_id])

    def __setitem__(self, order_id: str, order: Any) -> None:
        if order.state in FINAL_STATES:
            from robotfleet_nodes.idl.codec import serialize

            self._live.pop(order_id, None)
            self._final[order_id] = serialize(order)
            self._final_meta[order_id] = (int(order.state), str(order.area_id), _stamp_seconds(order.created))
        else:
            self._final.pop(order_id, None)
            self._final_meta.pop(order_id, None)
            self._live[order_id] = order

    def __delitem__(self, order_id: str) -> None:
        if order_id in self._live:
            del self._live[order_id]
        else:
            del self._final[order_id]
            del self._final_meta[order_id]

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._live or order_id in self._final

    def __iter__(self) -> Iterator[str]:
        yield from list(self._live)
        yield from list(self._final)

    def __len__(self) -> int:
        return len(self._live) + len(self._final)

    def clear(self) -> None:
        self._live.clear()
        self._final.clear()
        self._final_meta.clear()

    def live(self) -> list[Any]:
        """The orders not in a final state (no decoding)."""
        return list(self._live.values())

    def select(self, *, state: int | None, area_id: str | None, limit: int) -> tuple[list[Any], int]:
        """Matching orders newest first (at most ``limit``; only those are decoded), and how many."""
        keys: list[tuple[float, str]] = [
            (_stamp_seconds(o.created), o.id)
            for o in self._live.values()
            if (state is None or o.state == state) and (area_id is None or o.area_id == area_id)
        ]
        keys.extend(
            (created, oid)
            for oid, (s, a, created) in self._final_meta.items()
            if (state is None or s == state) and (area_id is None or a == area_id)
        )
        keys.sort(reverse=True)
        return [self[oid] for _, oid in keys[:limit]], len(keys)


class FleetService:
    """The fleet tier's state and behaviour; see the module docstring. ``start``/``stop``."""

    def __init__(
        self,
        config: FleetConfig,
        context: Context,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        node_options: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.context = context
        self.max_in_flight = max_in_flight
        self.orders = OrderIndex()
        self.events: Broadcaster[ServerSentEvent] = Broadcaster(max_queue=2000)
        self.metrics = new_registry()
        self.node: FleetNode | None = None
        self._node_options = node_options or {}
        self._store: OrderStore | None = None
        self._events: OrderEvents | None = None
        self._areas: dict[str, _AreaState] = {a: _AreaState() for a in config.areas}
        self._dispatch_clients: dict[str, Client[Any]] = {}
        self._cancel_clients: dict[str, Client[Any]] = {}
        self._zones: dict[str, Any] = {}  # zone id -> latest ZoneSummary
        self._zone_area: dict[str, str] = {}
        self._robots: dict[str, Any] = {}  # zone id -> latest RobotTable
        self._sent_rows: dict[str, _SentRows] = {}  # zone id -> rows the event stream sent last
        self._subscribed_zones: set[str] = set()
        self._counts: Counter[int] = Counter()
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []
        self._order_locks: dict[str, asyncio.Lock] = {}
        self._order_lock_users: Counter[str] = Counter()
        self._started = False
        self._observed: set[tuple[str, str]] = set()
        self._init_metrics()

    # -- metrics -----------------------------------------------------------------------
    def _init_metrics(self) -> None:
        m = self.metrics
        self.m_orders = prometheus.Gauge("rfos_work_orders", "Work orders by state", ["state"], registry=m)
        self.m_latency = prometheus.Histogram(
            "rfos_dispatch_latency_seconds",
            "Seconds from submission to DISPATCHED (stage=dispatched) and EXECUTING (stage=executing)",
            ["stage"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=m,
        )
        self.m_robots_online = prometheus.Gauge(
            "rfos_robots_online", "Robots online (sum of zone summaries)", registry=m
        )
        self.m_robots = prometheus.Gauge(
            "rfos_robots", "Robots configured (sum of zone summaries)", registry=m
        )
        self.m_in = prometheus.Counter(
            "rfos_messages_in_total", "Messages received by the fleet", ["kind"], registry=m
        )
        self.m_out = prometheus.Counter(
            "rfos_messages_out_total", "Messages and calls sent by the fleet", ["kind"], registry=m
        )
        for name in STATE_NAMES.values():
            self.m_orders.labels(name).set(0)

    def _count(self, old: Any, new: Any) -> None:
        if old is not None:
            self._counts[old.state] -= 1
            self.m_orders.labels(STATE_NAMES[old.state]).set(self._counts[old.state])
        self._counts[new.state] += 1
        self.m_orders.labels(STATE_NAMES[new.state]).set(self._counts[new.state])
        if new.state in (WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_EXECUTING) and (
            old is None or old.state != new.state
        ):
            stage = "dispatched" if new.state == WorkOrder.STATE_DISPATCHED else "executing"
            if (new.id, stage) not in self._observed:
                self._observed.add((new.id, stage))
                delay = _stamp_seconds(new.updated) - _stamp_seconds(new.created)
                self.m_latency.labels(stage).observe(max(0.0, delay))
        if new.state in FINAL_STATES:
            self._observed.discard((new.id, "dispatched"))
            self._observed.discard((new.id, "executing"))
            if old is not None and old.state not in FINAL_STATES and old.state != WorkOrder.STATE_PENDING:
                area = self._areas.get(new.area_id)
                if area is not None:  # its robot is free again: offer the area more at once
                    area.freed += 1
                    if area.queue:
                        self._wake.set()

    # -- life ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store, load every order, start the node, scheduler and consumer."""
        if self._started:
            return
        await self.context.start()
        nats = nats_transport_of(self.context.transport)
        self._store = OrderStore(nats)
        await self._store.ensure()
        self._events = OrderEvents(nats)
        await self._events.ensure()
        await self.load_all()
        self.node = FleetNode(self, context=self.context, **self._node_options)
        await self.node.start()
        for area_id in self.config.areas:
            self._dispatch_clients[area_id] = await self.node.create_client(
                AssignWorkOrder, area_name(area_id, "dispatch")
            )
            self._cancel_clients[area_id] = await self.node.create_client(
                CancelWorkOrder, area_name(area_id, "cancel")
            )
            await self.node.create_subscription(
                AreaSummary, area_name(area_id, "summary"), self._on_area_summary, 10
            )
        consumer = await self._subscribe_events()
        self._started = True
        self._loops = [
            asyncio.create_task(self._dispatch_loop(), name="fleet dispatch"),
            asyncio.create_task(self._consume_loop(consumer), name="fleet events"),
        ]
        log.info(
            "fleet %s: %d orders loaded, areas %s", self.config.fleet_id, len(self.orders), self.config.areas
        )

    async def stop(self) -> None:
        """Stop the loops and the node (the context stays open; its owner closes it)."""
        if not self._started:
            return
        self._started = False  # the loops end at their next turn even if a cancel is swallowed
        self._wake.set()
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._loops, *self._tasks, return_exceptions=True)
        self._loops.clear()
        self._tasks.clear()
        if self.node is not None:
            await self.node.destroy_node()
        self.events.close()

    async def load_all(self) -> None:
        """(Re)build the index and the queues from the store."""
        assert self._store is not None
        orders = await self._store.load_all()
        orders.sort(key=lambda o: (_stamp_seconds(o.created), o.id))
        self.orders.clear()
        self._counts.clear()
        for order in orders:
            self.orders[order.id] = order
            self._count(None, order)
            if order.state == WorkOrder.STATE_PENDING:
                self._enqueue(order)

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self.context.connection_state.is_up

    # -- orders ----------------------------------------------------------------------------
    def get(self, order_id: str) -> Any | None:
        """The order with ``order_id`` from the index, or None."""
        return self.orders.get(order_id)

    def list_orders(
        self, *, state: int | None = None, area_id: str | None = None, limit: int = 100
    ) -> tuple[list[Any], int]:
        """Orders matching the filters, newest first (at most ``limit``), and how many match."""
        return self.orders.select(state=state, area_id=area_id, limit=limit)

    def counts(self) -> dict[str, int]:
        """Orders by state name (every state present)."""
        return {name: self._counts.get(value, 0) for value, name in STATE_NAMES.items()}

    async def submit(
        self,
        *,
        area_id: str,
        task: str,
        priority: int = 5,
        order_id: str = "",
        target: tuple[float, float] | None = None,
    ) -> tuple[Any, bool]:
        """Store a new PENDING order (or return the stored one with that id); (order, created?).

        Raises :class:`SubmitError` for an unknown area, a bad priority or id, or a full queue.
        """
        if area_id not in self._areas:
            raise SubmitError(
                f"unknown area {area_id!r}; this fleet dispatches to {', '.join(self.config.areas)}",
                "area_id",
            )
        if not 0 <= priority <= 9:
            raise SubmitError(f"priority must be 0..9, got {priority}", "priority")
        if order_id:
            if not ORDER_ID_RE.fullmatch(order_id):
                raise SubmitError(
                    f"{order_id!r} is not a valid order id (letters, digits, '_', '-'; at most 128)", "id"
                )
            existing = self.orders.get(order_id)
            if existing is not None:
                return existing, False
        else:
            order_id = f"wo-{uuid.uuid4().hex[:12]}"
        pending = sum(len(a.queued) for a in self._areas.values())
        if pending >= self.config.scheduler.max_pending:
            raise SubmitError(f"{pending} orders are waiting for dispatch; try again later", retry=True)
        stamp = now_stamp()
        order = WorkOrder(
            id=order_id,
            area_id=area_id,
            task=task,
            priority=priority,
            has_target=target is not None,
            target_x=target[0] if target else 0.0,
            target_y=target[1] if target else 0.0,
            state=WorkOrder.STATE_PENDING,
            created=stamp,
            updated=stamp,
            history=[WorkOrderEvent(state=WorkOrder.STATE_PENDING, stamp=stamp, by=self.config.fleet_id)],
        )
        assert self._store is not None
        async with self._order_lock(order_id):  # this id only: nothing else waits here
            stored, created = await self._store.create(order)
            if created or stored.id not in self.orders:
                self._set(stored)
                if stored.state == WorkOrder.STATE_PENDING:
                    self._enqueue(stored)
        return self.orders[stored.id], created

    @contextlib.asynccontextmanager
    async def _order_lock(self, order_id: str) -> AsyncIterator[None]:
        """Serialise the changes of one order (others go on concurrently); FIFO."""
        lock = self._order_locks.get(order_id)
        if lock is None:
            lock = self._order_locks[order_id] = asyncio.Lock()
        self._order_lock_users[order_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._order_lock_users[order_id] -= 1
            if self._order_lock_users[order_id] <= 0:
                del self._order_lock_users[order_id]
                del self._order_locks[order_id]

    def _set(self, order: Any, *, publish: bool = True) -> None:
        old = self.orders.get(order.id)
        self.orders[order.id] = order
        self._count(old, order)
        if publish:
            self.events.publish(ServerSentEvent(order_json(order), event="order"), key=("order", order.id))

    async def _apply(self, update: Any) -> Any | None:
        """Apply ``update`` if it moves its order forward; store; return the new order."""
        return await self._apply_all(update.order_id, [update])

    async def _apply_all(self, order_id: str, updates: list[Any]) -> Any | None:
        """Apply ``updates`` of one order in order (those that move it forward), store once.

        Returns the new order, or None when none of them moved it. The index changes only
        after the store write succeeded, so a failed write leaves the events to re-apply.
        """
        assert self._store is not None
        async with self._order_lock(order_id):
            order = self.orders.get(order_id)
            if order is None:
                found = await self._store.get(order_id)
                if found is None:
                    log.debug("update for unknown order %s ignored", order_id)
                    return None
                order = found[0]
            steps: list[Any] = []
            for update in updates:
                if advances(order, update):
                    order = apply_update(order, update)
                    steps.append(order)
            if not steps:
                return None
            await self._store.put(order)
            for moved in steps:  # every transition counted (metrics), one SSE event
                self._set(moved, publish=moved is order)
            return order

    async def cancel(self, order_id: str, reason: str = "") -> CancelResult:
        """Cancel a non-final order (see the module docstring); CANCELLED again is accepted."""
        order = self.orders.get(order_id)
        if order is None:
            return CancelResult(False, None, f"unknown work order {order_id!r}")
        if order.state == WorkOrder.STATE_CANCELLED:
            return CancelResult(True, order)
        if order.state in FINAL_STATES:
            name = STATE_NAMES[order.state]
            return CancelResult(False, order, f"work order {order_id} is already {name}", final=True)
        note = reason or "cancelled by request"
        if order.state != WorkOrder.STATE_PENDING:
            await self._forward_cancel(order, note)
        update = WorkOrderUpdate(
            order_id=order.id,
            attempt=order.attempts,
            state=WorkOrder.STATE_CANCELLED,
            area_id=order.area_id,
            stamp=now_stamp(),
            by=self.config.fleet_id,
            note=note,
        )
        moved = await self._apply(update)
        area = self._areas.get(order.area_id)
        if area is not None:
            area.queued.discard(order.id)  # its heap entry is skipped when popped
        if order.state != WorkOrder.STATE_PENDING and self._events is not None:
            try:  # so every tier (and a restarted fleet) converges on CANCELLED
                await self._events.publish(update)
                self.m_out.labels("order_event").inc()
            except Exception as exc:
                log.warning("could not publish the cancel of %s: %s", order.id, exc)
        current = self.orders.get(order_id, order)
        if moved is None and current.state != WorkOrder.STATE_CANCELLED:
            name = STATE_NAMES[current.state]
            return CancelResult(False, current, f"work order {order_id} is already {name}", final=True)
        return CancelResult(True, current)

    async def _forward_cancel(self, order: Any, reason: str) -> None:
        client = self._cancel_clients.get(order.area_id)
        if client is None:
            return
        try:
            self.m_out.labels("cancel").inc()
            answer = await client.call(
                CancelWorkOrder.Request(id=order.id, reason=reason),
                timeout=self.config.scheduler.dispatch_timeout_s,
            )
            if not answer.accepted:
                log.info("area %s did not cancel %s: %s", order.area_id, order.id, answer.error)
        except (TimeoutError, ConnectionError, RobotFleetError) as exc:
            log.warning("area %s unreachable to cancel %s: %s", order.area_id, order.id, exc)

    # -- scheduler -------------------------------------------------------------------------
    def _enqueue(self, order: Any) -> None:
        area = self._areas.get(order.area_id)
        if area is None or order.id in area.queued:
            return
        area.queued.add(order.id)
        heapq.heappush(area.queue, (-int(order.priority), next(self._seq), order.id))
        self._wake.set()

    def queued(self, area_id: str) -> list[str]:
        """Order ids waiting for ``area_id``, in dispatch order (for tests and views)."""
        area = self._areas[area_id]
        return [oid for _, _, oid in sorted(area.queue) if oid in area.queued]

    def _budget(self, area: _AreaState, now: float) -> int:
        if now < area.backoff_until:
            return 0
        room = self.max_in_flight - area.in_flight
        fresh = area.summary is not None and now - area.seen <= self.config.scheduler.area_silence_timeout_s
        if not fresh:
            return min(room, 1 - area.in_flight)  # probe one at a time
        return min(room, int(area.summary.capacity) + area.freed - area.handed - area.in_flight)

    async def _dispatch_loop(self) -> None:
        interval = self.config.scheduler.dispatch_interval_s
        while self._started:
            self._wake.clear()
            now = time.monotonic()
            for area_id, area in self._areas.items():
                budget = self._budget(area, now)
                while budget > 0 and area.queue:
                    _, seq, order_id = heapq.heappop(area.queue)
                    if order_id not in area.queued:
                        continue
                    order = self.orders.get(order_id)
                    if order is None or order.state != WorkOrder.STATE_PENDING:
                        area.queued.discard(order_id)
                        continue
                    area.in_flight += 1
                    budget -= 1
                    task = asyncio.create_task(
                        self._dispatch(area_id, order, seq), name=f"dispatch {order_id}"
                    )
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):  # not wait_for: it may swallow a cancel (3.11)
                    await self._wake.wait()

    async def _dispatch(self, area_id: str, order: Any, seq: int) -> None:
        area = self._areas[area_id]
        key = f"{order.id}/{order.attempts}"
        accepted = released = False
        try:
            request = AssignWorkOrder.Request(
                idempotency_key=key, by=self.config.fleet_id, target_id=area_id, order=order
            )
            self.m_out.labels("dispatch").inc()
            try:
                answer = await self._dispatch_clients[area_id].call(
                    request, timeout=self.config.scheduler.dispatch_timeout_s
                )
            except (TimeoutError, ConnectionError, RobotFleetError) as exc:
                log.info("area %s unreachable for %s: %s", area_id, order.id, exc)
                answer = None
            area.in_flight -= 1  # the call is over: the store write below needs no slot
            released = True
            self._wake.set()
            if answer is not None and answer.accepted:
                accepted = True
                area.handed += 1
                area.failures = 0
                update = WorkOrderUpdate(
                    order_id=order.id,
                    attempt=order.attempts,
                    state=WorkOrder.STATE_DISPATCHED,
                    area_id=area_id,
                    zone_id=answer.zone_id,
                    robot_id=answer.robot_id,
                    stamp=now_stamp(),
                    by=self.config.fleet_id,
                    note=f"to {answer.zone_id}" if answer.zone_id else "",
                )
                await self._apply(update)
                current = self.orders.get(order.id)
                if current is not None and current.state == WorkOrder.STATE_CANCELLED:
                    await self._forward_cancel(current, current.error or "cancelled")  # lost the race
            else:
                if answer is not None:
                    log.info("area %s refused %s: %s", area_id, order.id, answer.error)
                area.failures += 1
                delay = min(MAX_BACKOFF_S, self.config.scheduler.dispatch_interval_s * 2**area.failures)
                area.backoff_until = time.monotonic() + delay
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("dispatching %s to %s failed", order.id, area_id)
        finally:
            if not released:
                area.in_flight -= 1
            if not accepted:
                current = self.orders.get(order.id)
                if current is not None and current.state == WorkOrder.STATE_PENDING:
                    area.queued.add(order.id)
                    heapq.heappush(area.queue, (-int(order.priority), seq, order.id))  # keeps its place
                else:
                    area.queued.discard(order.id)
            else:
                area.queued.discard(order.id)
            self._wake.set()

    # -- events consumer --------------------------------------------------------------------
    async def _subscribe_events(self) -> Any:
        assert self._events is not None
        js = self._events.js
        durable = f"{DURABLE_PREFIX}_{self.config.fleet_id}"
        return await js.pull_subscribe(self._events.wildcard, durable=durable, stream=self._events.stream)

    async def _consume_loop(self, consumer: Any) -> None:
        """Pull batches of events; keep up to :data:`EVENT_WINDOW` of them being applied."""
        outstanding = 0  # fetched, not yet acked (or nak'ed)
        room = asyncio.Event()
        room.set()
        batches: set[asyncio.Task[None]] = set()

        def done(count: int, _: Any) -> None:
            nonlocal outstanding
            outstanding -= count
            room.set()

        try:
            while self._started:
                while EVENT_WINDOW - outstanding < min(EVENT_BATCH, EVENT_WINDOW // 4):
                    room.clear()
                    await room.wait()
                try:
                    wanted = min(EVENT_BATCH, EVENT_WINDOW - outstanding)
                    msgs = await consumer.fetch(batch=wanted, timeout=EVENT_FETCH_WAIT_S)
                except (TimeoutError, NatsTimeoutError):
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("order events: fetch failed (%s); retrying", exc)
                    await asyncio.sleep(1.0)
                    continue
                outstanding += len(msgs)
                # created in fetch order: an order's lock is taken by batches in that order
                task = asyncio.create_task(self._apply_batch(msgs), name="fleet events batch")
                batches.add(task)
                task.add_done_callback(batches.discard)
                task.add_done_callback(functools.partial(done, len(msgs)))
        finally:
            for task in batches:
                task.cancel()
            await asyncio.gather(*batches, return_exceptions=True)
            with contextlib.suppress(Exception):
                await consumer.unsubscribe()

    async def _apply_batch(self, msgs: list[Any]) -> None:
        """Group ``msgs`` by order; apply each order's events (in order) concurrently."""
        from robotfleet_nodes.idl.codec import deserialize

        by_order: dict[str, list[tuple[Any, Any]]] = {}
        for msg in msgs:
            self.m_in.labels("order_event").inc()
            try:
                update = deserialize(WorkOrderUpdate, msg.data)
            except Exception as exc:
                log.warning("order events: undecodable message dropped: %s", exc)
                await msg.ack()
                continue
            by_order.setdefault(update.order_id, []).append((update, msg))
        await asyncio.gather(*(self._apply_order_events(oid, items) for oid, items in by_order.items()))

    async def _apply_order_events(self, order_id: str, items: list[tuple[Any, Any]]) -> None:
        try:
            await self._apply_all(order_id, [update for update, _ in items])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("order events: could not apply %s; will be redelivered", order_id)
            for _, msg in items:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=1.0)
            return
        for _, msg in items:  # after the write: a crash before this re-applies (ignored)
            try:
                await msg.ack()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("order events: ack of %s failed (%s); it will be redelivered", order_id, exc)

    # -- summaries --------------------------------------------------------------------------
    async def _on_area_summary(self, msg: Any) -> None:
        self.m_in.labels("area_summary").inc()
        area = self._areas.get(msg.area_id)
        if area is None:
            return
        area.summary = msg
        area.seen = time.monotonic()
        area.handed = 0
        area.freed = 0
        for zone in msg.zones:
            self._note_zone(zone)
        for zone_id in [*(z.zone_id for z in msg.zones), *msg.silent_zones]:
            self._zone_area.setdefault(zone_id, msg.area_id)
            if zone_id not in self._subscribed_zones and self.node is not None:
                self._subscribed_zones.add(zone_id)
                await self.node.create_subscription(
                    ZoneSummary, zone_name(zone_id, "summary"), self._on_zone_summary, 10
                )
                await self.node.create_subscription(
                    RobotTable, zone_name(zone_id, "robots"), self._on_robot_table, 10
                )
        if area.queue:
            self._wake.set()

    def _note_zone(self, summary: Any) -> None:
        known = self._zones.get(summary.zone_id)
        if known is None or _stamp_seconds(summary.stamp) >= _stamp_seconds(known.stamp):
            self._zones[summary.zone_id] = summary

    def _on_zone_summary(self, msg: Any) -> None:
        self.m_in.labels("zone_summary").inc()
        self._note_zone(msg)

    def _on_robot_table(self, msg: Any) -> None:
        self.m_in.labels("robot_table").inc()
        zone_id = msg.zone_id
        self._robots[zone_id] = msg
        if not self.events.subscriber_count:  # nobody watches: build no rows (10000 robots/s)
            return
        # The change set is computed and encoded once here, not once per watching dashboard.
        sent = self._sent_rows.get(zone_id)
        if sent is None:  # the first table of this zone on the stream: the whole zone
            sent = self._sent_rows[zone_id] = _SentRows(zone_id)
            sent.update(msg, _robot_state_names())
            self.events.publish(sent.full_event(), key=("robots", zone_id))
            return
        changed, removed = sent.update(msg, _robot_state_names())
        if not changed and not removed:
            return
        full: list[ServerSentEvent] = []

        def merge(queued: ServerSentEvent, delta: ServerSentEvent) -> ServerSentEvent:
            # Still queued for a slow client: both together are the zone as it is now.
            if not full:
                full.append(sent.full_event())
            return full[0]

        self.events.publish(sent.delta_event(changed, removed), key=("robots", zone_id), merge=merge)

    def snapshot_events(self) -> list[ServerSentEvent]:
        """What a new ``/api/events`` stream starts with: ``fleet``, ``zones`` and, per zone, a
        full ``robots`` event (the rows the deltas that follow are relative to)."""
        events = [ServerSentEvent(self.fleet(), event="fleet"), ServerSentEvent(self.zones(), event="zones")]
        names = _robot_state_names()
        for zone_id in sorted(self._robots, key=_natural):
            table = self._robots[zone_id]
            sent = self._sent_rows.get(zone_id)
            if sent is None or sent.table is not table:  # built while nobody watched: catch up
                sent = self._sent_rows[zone_id] = _SentRows(zone_id)
                sent.update(table, names)
            events.append(sent.full_event())
        return events

    # -- views --------------------------------------------------------------------------------
    def _silent_zones(self) -> set[str]:
        silent: set[str] = set()
        for area in self._areas.values():
            if area.summary is not None:
                silent.update(area.summary.silent_zones)
        return silent

    def zones(self, area_id: str | None = None) -> list[dict[str, Any]]:
        """The ``/api/zones`` body."""
        out = []
        for zone_id in sorted(self._zones, key=_natural):
            z = self._zones[zone_id]
            zone_area = z.area_id or self._zone_area.get(zone_id, "")
            if area_id is not None and zone_area != area_id:
                continue
            out.append(
                {
                    "id": zone_id,
                    "area_id": zone_area,
                    "robots": int(z.robots_total),
                    "robots_online": int(z.robots_online),
                    "idle": int(z.robots_idle),
                    "busy": int(z.robots_busy),
                    "charging": int(z.robots_charging),
                    "error": int(z.robots_error),
                    "queued": int(z.orders_queued),
                    "active": int(z.orders_active),
                    "battery_mean": round(float(z.battery_mean_percent), 2),
                }
            )
        return out

    def areas(self) -> list[dict[str, Any]]:
        """The ``/api/areas`` body (configured areas, reported or not)."""
        out = []
        for area_id, area in self._areas.items():
            s = area.summary
            zone_ids = sorted(
                {z for z, a in self._zone_area.items() if a == area_id}
                | ({z.zone_id for z in s.zones} | set(s.silent_zones) if s is not None else set()),
                key=_natural,
            )
            out.append(
                {
                    "id": area_id,
                    "zones": zone_ids,
                    "robots": int(s.robots_total) if s is not None else 0,
                    "robots_online": int(s.robots_online) if s is not None else 0,
                    "capacity": int(s.capacity) if s is not None else 0,
                    "silent_zones": list(s.silent_zones) if s is not None else [],
                }
            )
        return out

    def robots(self, *, zone_id: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """The ``/api/robots`` body."""
        names = _robot_state_names()
        out: list[dict[str, Any]] = []
        tables = [self._robots[zone_id]] if zone_id in self._robots else []
        if zone_id is None:
            tables = [self._robots[z] for z in sorted(self._robots, key=_natural)]
        for table in tables:
            out.extend(_table_rows(table, names, state))
        return out

    def fleet(self) -> dict[str, Any]:
        """The ``/api/fleet`` body."""
        zones = list(self._zones.values())
        return {
            "areas": len(self._areas),
            "zones": len(zones),
            "robots": sum(int(z.robots_total) for z in zones),
            "robots_online": sum(
                int(z.robots_online) for z in zones if z.zone_id not in self._silent_zones()
            ),
            "work_orders": self.counts(),
        }

    def fleet_summary(self) -> Any:
        """The ``FleetSummary`` message published at 1 Hz."""
        now = time.monotonic()
        timeout = self.config.scheduler.area_silence_timeout_s
        counts = self._counts
        summaries = [a.summary for a in self._areas.values() if a.summary is not None]
        return FleetSummary(
            fleet_id=self.config.fleet_id,
            stamp=now_stamp(),
            robots_total=sum(int(s.robots_total) for s in summaries),
            robots_online=sum(int(s.robots_online) for s in summaries),
            orders_pending=counts.get(WorkOrder.STATE_PENDING, 0),
            orders_active=sum(
                counts.get(s, 0)
                for s in (WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING)
            ),
            orders_completed=counts.get(WorkOrder.STATE_COMPLETED, 0),
            orders_failed=counts.get(WorkOrder.STATE_FAILED, 0),
            orders_cancelled=counts.get(WorkOrder.STATE_CANCELLED, 0),
            silent_areas=[a for a, s in self._areas.items() if now - s.seen > timeout],
            areas=summaries,
        )

    def tick(self) -> None:
        """Once per summary period: refresh gauges, push ``fleet`` and ``zones`` SSE events."""
        fleet = self.fleet()
        self.m_robots.set(fleet["robots"])
        self.m_robots_online.set(fleet["robots_online"])
        self.events.publish(ServerSentEvent(fleet, event="fleet"), key="fleet")
        self.events.publish(ServerSentEvent(self.zones(), event="zones"), key="zones")


def _at(values: Any, index: int, default: Any) -> Any:
    return values[index] if index < len(values) else default


_TABLE_COLUMNS = ("states", "x", "y", "theta", "battery_percent", "current_order_ids", "order_progress")


def _table_rows(table: Any, names: dict[int, str], state: str | None) -> list[dict[str, Any]]:
    """The ``/api/robots`` rows of one zone's ``RobotTable`` (robots in ``state`` only, if given)."""
    zone_id = table.zone_id
    return [
        _row_dict(robot_id, zone_id, values)
        for robot_id, values in _row_values(table, names)
        if state is None or values[0] == state
    ]


_RowValues = tuple[str, float, float, float, float, str, float]


def _row_values(table: Any, names: dict[int, str]) -> Iterator[tuple[str, _RowValues]]:
    """``(robot id, (state, x, y, theta, battery, order id, progress))`` per robot, rounded
    like the ``/api/robots`` rows (so a change below that precision is no change)."""
    ids = table.robot_ids
    n = len(ids)
    columns = [getattr(table, name) for name in _TABLE_COLUMNS]
    if any(len(column) < n for column in columns):  # a short column: pad it (defaults)
        defaults = (0, 0.0, 0.0, 0.0, 0.0, "", 0.0)
        columns = [[_at(c, i, d) for i in range(n)] for c, d in zip(columns, defaults, strict=True)]
    for robot_id, robot_state, x, y, theta, battery, order_id, progress in zip(ids, *columns, strict=False):
        yield (
            robot_id,
            (
                names.get(int(robot_state), "OFFLINE"),
                round(x, 3),
                round(y, 3),
                round(theta, 4),
                round(battery, 2),
                order_id,
                round(progress, 3),
            ),
        )


def _row_dict(robot_id: str, zone_id: str, values: _RowValues) -> dict[str, Any]:
    state, x, y, theta, battery, order_id, progress = values
    return {
        "id": robot_id,
        "zone_id": zone_id,
        "x": x,
        "y": y,
        "theta": theta,
        "battery": battery,
        "state": state,
        "order_id": order_id,
        "progress": progress,
    }


class _SentRows:
    """The robot rows of one zone as the event stream last sent them, each encoded once.

    :meth:`update` takes the zone's next ``RobotTable`` and returns only what changed (rows
    compared as tuples of their rounded values; only changed rows are encoded again).
    """

    __slots__ = ("prefix", "rows", "table", "zone_id")

    def __init__(self, zone_id: str) -> None:
        self.table: Any = None
        self.rows: dict[str, tuple[_RowValues, str]] = {}  # robot id -> (values, JSON row)
        self.zone_id = zone_id
        self.prefix = '{"zone_id":' + json.dumps(zone_id, ensure_ascii=False) + ","

    def update(self, table: Any, names: dict[int, str]) -> tuple[list[str], list[str]]:
        """Take ``table``; the JSON rows that changed or appeared, and the ids that left."""
        old = self.rows
        new: dict[str, tuple[_RowValues, str]] = {}
        changed: list[str] = []
        zone_id = self.zone_id
        for robot_id, values in _row_values(table, names):
            known = old.get(robot_id)
            if known is not None and known[0] == values:
                new[robot_id] = known
                continue
            row = json.dumps(_row_dict(robot_id, zone_id, values), separators=(",", ":"), ensure_ascii=False)
            new[robot_id] = (values, row)
            changed.append(row)
        removed = [robot_id for robot_id in old if robot_id not in new]
        self.rows = new
        self.table = table
        return changed, removed

    def full_event(self) -> ServerSentEvent:
        """``robots`` with every row of the zone (``full: true``)."""
        rows = ",".join(row for _, row in self.rows.values())
        return ServerSentEvent(f'{self.prefix}"full":true,"robots":[{rows}]}}', event="robots")

    def delta_event(self, changed: list[str], removed: list[str]) -> ServerSentEvent:
        """``robots`` with the changed rows and the removed ids only (``full: false``)."""
        gone = json.dumps(removed, separators=(",", ":"), ensure_ascii=False)
        body = f'{self.prefix}"full":false,"robots":[{",".join(changed)}],"removed":{gone}}}'
        return ServerSentEvent(body, event="robots")


def _natural(name: str) -> tuple[Hashable, ...]:
    """Sort ``zone-2`` before ``zone-10``."""
    head, _, tail = name.rpartition("-")
    return (head, int(tail), "") if tail.isdigit() else (name, -1, name)


class FleetNode(Node):
    """``/fleet/fleet``: publishes ``/fleet/summary`` and serves submit, cancel and get."""

    def __init__(self, service: FleetService, *, context: Context, **options: Any) -> None:
        super().__init__("fleet", context=context, namespace="/fleet", **options)
        self.service = service

    async def on_start(self) -> None:
        """Create the summary publisher, its timer and the three services."""
        self._summary = await self.create_publisher(FleetSummary, "/fleet/summary", 10)
        await self.create_service(SubmitWorkOrder, "/fleet/submit", self._on_submit)
        await self.create_service(CancelWorkOrder, "/fleet/cancel", self._on_cancel)
        await self.create_service(GetWorkOrder, "/fleet/get", self._on_get)
        self.create_timer(self.service.config.summary_period_s, self._tick)

    async def _tick(self) -> None:
        self.service.tick()
        await self._summary.publish(self.service.fleet_summary())
        self.service.m_out.labels("fleet_summary").inc()

    async def _on_submit(self, request: Any) -> Any:
        target = (request.target_x, request.target_y) if request.has_target else None
        try:
            order, _ = await self.service.submit(
                area_id=request.area_id,
                task=request.task,
                priority=int(request.priority),
                order_id=request.id,
                target=target,
            )
        except SubmitError as exc:
            return SubmitWorkOrder.Response(accepted=False, error=str(exc))
        return SubmitWorkOrder.Response(accepted=True, order=order)

    async def _on_cancel(self, request: Any) -> Any:
        result = await self.service.cancel(request.id, request.reason)
        return CancelWorkOrder.Response(
            accepted=result.accepted,
            order=result.order if result.order is not None else WorkOrder(),
            error=result.error,
        )

    async def _on_get(self, request: Any) -> Any:
        order = self.service.get(request.id)
        if order is None:
            return GetWorkOrder.Response(found=False, error=f"unknown work order {request.id!r}")
        return GetWorkOrder.Response(found=True, order=order)
