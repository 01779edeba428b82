"""The fleet's core, usable without HTTP: :class:`FleetService`, a facade over its parts.

``FleetService(config, context)`` owns

- the :class:`~robotfleet_nodes.fleet.protocol.OrderStore` (JetStream KV) and an
  :class:`~robotfleet_nodes.fleet.orders.OrderIndex` of every order, loaded at start.
  Orders are serialised one by one (:class:`~robotfleet_nodes.fleet.orders.OrderLocks`),
  never behind each other: a submission is one create-if-absent write and waits for
  nothing else (:class:`~robotfleet_nodes.fleet._submissions.Submissions`, which also
  adopts an order whose create got no answer); cancel is here;
- the dispatch loop (:class:`~robotfleet_nodes.fleet._dispatcher.Dispatcher`): the pure
  :mod:`~robotfleet_nodes.fleet.scheduler` (a priority queue per area, the budget from the
  latest ``AreaSummary``, backoff) says which orders go to which area now; the loop makes
  the ``/areas/<a>/dispatch`` calls. A submission or a freed robot wakes it at once;
- the durable consumer of ``WorkOrderUpdate`` events
  (:class:`~robotfleet_nodes.fleet._consumer.OrderEventConsumer`), which applies them
  through :meth:`FleetService._apply_all` (each order stored once per batch);
- the latest area and zone summaries and robot tables, the views behind the HTTP API and
  the SSE ``robots`` deltas (:mod:`~robotfleet_nodes.fleet.views`), a :class:`Broadcaster`
  of SSE events and the metrics (:class:`~robotfleet_nodes.fleet._metrics.FleetMetrics`);
- :class:`~robotfleet_nodes.fleet.node.FleetNode` (``/fleet/fleet``): ``FleetSummary`` at
  1 Hz and the services ``/fleet/submit``, ``/fleet/cancel``, ``/fleet/get``;
- the leader lease (:class:`~robotfleet_nodes.fleet._leader.LeaderLease`, docs/fleet.md
  "Fleet failover"): only the leading instance runs the dispatch loop, the consumer and
  the FleetNode, and writes orders; a standby keeps its index current by watching the
  order bucket, receives the summaries as the leader does, and refuses writes
  (:class:`~robotfleet_nodes.fleet._leader.NotLeader`, naming the leader).

The names other modules import from here (``order_json``, ``SubmitError``, ...) are
re-exported from the modules that define them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from robotfleet_nodes._callbacks import RateLimitedLog, cancel_and_wait
from robotfleet_nodes.config import FleetConfig
from robotfleet_nodes.errors import BrokerUnavailable, TransportError
from robotfleet_nodes.fleet._audit import AuditLog
from robotfleet_nodes.fleet._consumer import OrderEventConsumer
from robotfleet_nodes.fleet._dispatcher import Dispatcher
from robotfleet_nodes.fleet._factsheets import FactsheetStore
from robotfleet_nodes.fleet._fleet_views import FleetViews, ViewNode
from robotfleet_nodes.fleet._leader import LeaderLease, NotLeader
from robotfleet_nodes.fleet._metrics import FleetMetrics
from robotfleet_nodes.fleet._submissions import RETRY_AFTER_S, Submissions, broker_call
from robotfleet_nodes.fleet.node import FleetNode
from robotfleet_nodes.fleet.orders import (
    CancelResult,
    OrderIndex,
    OrderLocks,
    SubmitError,
    order_json,
    stamp_iso,
    stamp_seconds,
)
from robotfleet_nodes.fleet.protocol import (
    FINAL_STATES,
    STATE_NAMES,
    OrderEvents,
    OrderStore,
    accepts_from,
    advances,
    apply_update,
    area_name,
    nats_transport_of,
    note_stale_outcome,
    now_stamp,
    state_name,
)
from robotfleet_nodes.fleet.scheduler import MAX_BACKOFF_S
from robotfleet_nodes.fleet.sites import SiteSourceWatch, add_site_sources
from robotfleet_nodes.fleet.views import (
    ROBOT_STATE_NAMES,
    RobotEvents,
)
from robotfleet_nodes.msg import (
    AreaSummary,
    WorkOrder,
    WorkOrderUpdate,
)
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder
from robotfleet_nodes.web import Broadcaster, ServerSentEvent

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "MAX_BACKOFF_S",
    "RETRY_AFTER_S",
    "ROBOT_STATE_NAMES",
    "BrokerUnavailable",
    "CancelResult",
    "FleetNode",
    "FleetService",
    "NotLeader",
    "OrderIndex",
    "SubmitError",
    "order_json",
    "stamp_iso",
]

log = logging.getLogger(__name__)

#: Dispatch calls outstanding per area at most (the default of ``max_in_flight``).
DEFAULT_MAX_IN_FLIGHT = 64


class FleetService(FleetViews):
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
        self.orders = OrderIndex()
        self.events: Broadcaster[ServerSentEvent] = Broadcaster(max_queue=2000)
        self._metrics = FleetMetrics()
        self.metrics = self._metrics.registry
        self.m_in = self._metrics.m_in
        self.m_out = self._metrics.m_out
        self.audit = AuditLog(self.metrics)  # every state-changing command (fleet/_audit.py)
        self.node: FleetNode | None = None
        self._node_options = node_options or {}
        self._store: OrderStore | None = None
        self._factsheets: FactsheetStore | None = None
        self._events: OrderEvents | None = None
        self._consumer: OrderEventConsumer | None = None
        self._dispatcher = Dispatcher(
            config, self.orders, apply=self._apply, sent=self.m_out, max_in_flight=max_in_flight
        )
        self._zones: dict[str, Any] = {}  # zone id -> latest ZoneSummary
        self._zone_area: dict[str, str] = {}
        self._refusals = RateLimitedLog(log)
        self._robots: dict[str, Any] = {}  # zone id -> latest RobotTable
        self._robot_events = RobotEvents(self.events)
        self._subscribed_zones: set[str] = set()
        self._loops: list[asyncio.Task[Any]] = []
        self._order_locks = OrderLocks()
        self._submissions = Submissions(
            config,
            self.orders,
            self._order_locks,
            self._dispatcher,
            admit=self._admit,
            connected=lambda: self.connected,
            started=lambda: self._started and self._leading,  # a standby adopts nothing
        )
        self._started = False
        self._leading = False  # the role this instance runs now (the lease may be ahead)
        self._lease: LeaderLease | None = None
        self._view: Node | None = None  # summaries in, on leader and standby alike
        self._role_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._dispatcher.allowed = self._holds_lease
        #: this instance's HTTP URL, as the leader lease advertises it ("" while unknown)
        self.http_url = config.failover.advertise_url

    @property
    def max_in_flight(self) -> int:
        """Dispatch calls outstanding per area at most."""
        return self._dispatcher.max_in_flight

    # -- metrics (fleet/_metrics.py) ------------------------------------------------------
    def _count(self, old: Any, new: Any) -> None:
        self._metrics.count(old, new)
        held_a_robot = old is not None and old.state not in (*FINAL_STATES, WorkOrder.STATE_PENDING)
        if new.state in FINAL_STATES and held_a_robot:
            area = self._dispatcher.areas.get(new.area_id)
            if area is not None:  # its robot is free again: offer the area more at once
                area.note_freed()
                if area.queue:
                    self._dispatcher.wake.set()

    # -- life ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store, load every order, start the node, scheduler and consumer."""
        if self._started:
            return
        await self.context.start()
        nats = nats_transport_of(self.context.transport)
        self._store = OrderStore(nats)
        await self._store.ensure(create=True)
        self._submissions.store = self._store
        self._events = OrderEvents(nats, self.config.fleet_id)
        await self._events.ensure(create=True)
        await add_site_sources(self._events, self.config.site_domains)  # docs/fleet.md "Edge sites"
        try:  # set-up of the latched-topics stream: secured robots may not change it
            await nats.cover_latched()
        except TransportError as exc:
            log.warning("fleet %s: latched topics are not stored: %s", self.config.fleet_id, exc)
        await self.audit.start(nats)
        self._factsheets = FactsheetStore(nats)  # docs/fleet.md "Robot kinds and factsheets"
        await self._factsheets.ensure()
        self._view = ViewNode(self, context=self.context, **self._node_options)
        await self._view.start()
        for area_id in self.config.areas:
            await self._view.create_subscription(
                AreaSummary, area_name(area_id, "summary"), self._on_area_summary, 10
            )
        self._lease = LeaderLease(nats, self.config.failover, url=lambda: self.http_url)
        await self._lease.start()
        self._started = True
        if self._lease.is_leader:
            await self._lead()
        else:
            await self._stand_by()
        self._role_task = asyncio.create_task(self._follow_lease(), name="fleet role")

    async def factsheet(self, robot_id: str) -> bytes | None:
        """``robot_id``'s stored factsheet (the JSON body of ``/api/robots/{id}/factsheet``),
        or None when it has sent none."""
        if self._factsheets is None:
            raise BrokerUnavailable("the fleet is starting: factsheets are not readable yet; retry shortly")
        with broker_call(f"the factsheet of {robot_id}"):
            return await self._factsheets.get(robot_id)

    # -- leader or standby (fleet/_leader.py) ----------------------------------------------
    @property
    def role(self) -> str:
        """``"leader"`` or ``"standby"``: what this instance does now."""
        return "leader" if self._leading else "standby"

    @property
    def instance(self) -> str:
        """This instance's id (``failover.instance_id``)."""
        return self.config.failover.instance_id

    @property
    def leader(self) -> str | None:
        """The leading instance's id as last seen (None: none known)."""
        if self._leading:
            return self.instance
        return self._lease.leader if self._lease is not None else None

    @property
    def leader_url(self) -> str | None:
        """The leading instance's HTTP URL as it advertises it (None: unknown)."""
        if self._leading:
            return self.http_url or None
        return self._lease.leader_url if self._lease is not None else None

    def role_json(self) -> dict[str, Any]:
        """``instance``, ``role``, ``leader`` and ``leader_url``: in /healthz and /api/fleet."""
        return {
            "instance": self.instance,
            "role": self.role,
            "leader": self.leader,
            "leader_url": self.leader_url,
        }

    def _holds_lease(self) -> bool:
        return self._lease is None or self._lease.holds()

    def _require_leader(self, what: str) -> None:
        """Raise :class:`NotLeader` unless this instance leads with a valid lease."""
        if self._lease is not None and not (self._leading and self._lease.holds()):
            raise self._lease.not_leader(what)

    async def _follow_lease(self) -> None:
        """Run as the lease says: lead when it is held, stand by when it is not."""
        assert self._lease is not None
        while self._started:
            await self._lease.changed.wait()
            self._lease.changed.clear()
            try:
                if self._lease.is_leader and not self._leading:
                    await self._lead()
                elif not self._lease.is_leader and self._leading:
                    await self._stand_by()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fleet %s: could not take over; standing by and trying again", self.instance)
                await self._stand_by()
                await asyncio.sleep(1.0)
                self._lease.changed.set()

    async def _lead(self) -> None:
        """Take over: reload the index from the store, start the node, consumer and dispatch."""
        took_over = self._role_task is not None  # not at start: an instance ran before
        await self._stop_watching()
        # Load before taking writes: an order submitted while the bucket is being read would
        # be dropped from the index (and its queue) by the snapshot that replaces it.
        await self.load_all(queue=True)
        self._leading = True
        self.node = FleetNode(self, context=self.context, **self._node_options)
        await self.node.start()
        for area_id in self.config.areas:
            self._dispatcher.dispatch_clients[area_id] = await self.node.create_client(
                AssignWorkOrder, area_name(area_id, "dispatch")
            )
            self._dispatcher.cancel_clients[area_id] = await self.node.create_client(
                CancelWorkOrder, area_name(area_id, "cancel")
            )
        consumer = await self._subscribe_events()
        self._loops = [
            asyncio.create_task(self._dispatch_loop(), name="fleet dispatch"),
            asyncio.create_task(self._consume_loop(consumer), name="fleet events"),
        ]
        if self.config.site_domains and self._events is not None:  # docs/fleet.md "Edge sites"
            watch = SiteSourceWatch(
                self._events, nats_transport_of(self.context.transport), self.config.site_domains
            )
            self._loops.append(asyncio.create_task(watch.run(), name="fleet site sources"))
        epoch = self._lease.epoch if self._lease is not None else 0
        log.info(
            "fleet %s: %s (instance %s, epoch %d): %d orders loaded, areas %s",
            self.config.fleet_id,
            "took over as leader" if took_over else "leading",
            self.instance,
            epoch,
            len(self.orders),
            self.config.areas,
        )

    async def _stand_by(self) -> None:
        """Stop leading (if it did): no dispatch, no consumer, no node; follow the order bucket."""
        was_leading, self._leading = self._leading, False
        await self._stop_leading_work()
        await self._stop_watching()  # one watch at a time (a failed take-over stands by again)
        self._watch_task = asyncio.create_task(self._watch_orders(), name="fleet order watch")
        log.info(
            "fleet %s: %s (instance %s); the leader is %s",
            self.config.fleet_id,
            "stepped down to standby" if was_leading else "standby",
            self.instance,
            self.leader or "not known yet",
        )

    async def _stop_leading_work(self) -> None:
        self._dispatcher.wake.set()
        adopting = list(self._submissions.adopting.values())
        for task in [*self._loops, *self._dispatcher.tasks, *adopting]:
            task.cancel()
        await asyncio.gather(*self._loops, *self._dispatcher.tasks, *adopting, return_exceptions=True)
        self._submissions.adopting.clear()
        self._loops.clear()
        self._dispatcher.tasks.clear()
        self._dispatcher.forget_queues()
        if self.node is not None:
            node, self.node = self.node, None
            self._dispatcher.dispatch_clients.clear()
            self._dispatcher.cancel_clients.clear()
            await node.destroy_node()

    async def _stop_watching(self) -> None:
        task, self._watch_task = self._watch_task, None
        await cancel_and_wait(task)  # its loop runs on while a standby: a swallowed cancel hung here

    async def _watch_orders(self) -> None:
        """A standby's index: every order of the bucket, then every change (KV watch)."""
        from robotfleet_nodes.idl.codec import deserialize

        assert self._store is not None
        while not self._leading and self._started:
            watcher: Any = None
            try:
                watcher = await self._store.watch()
                initial = True
                async for entry in watcher:  # ends only if the watcher is stopped
                    if entry is None:  # the stored orders are in: changes follow
                        initial = False
                    elif entry.value:
                        self._set(deserialize(WorkOrder, entry.value), publish=not initial)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._refusals(
                    logging.WARNING, "fleet %s: order bucket watch failed (%r); again", self.instance, exc
                )
                await asyncio.sleep(1.0)
            finally:
                if watcher is not None:
                    with contextlib.suppress(Exception):
                        await watcher.stop()

    async def stop(self) -> None:
        """Stop the loops and the nodes and release the lease (the context stays open; its
        owner closes it)."""
        if not self._started:
            return
        self._started = False  # the loops end at their next turn even if a cancel is swallowed
        task, self._role_task = self._role_task, None
        await cancel_and_wait(task)
        self._leading = False
        await self._stop_leading_work()  # before the release: nothing dispatches once a standby may
        await self._stop_watching()
        if self._lease is not None:
            await self._lease.stop()
        if self._view is not None:
            await self._view.destroy_node()
            self._view = None
        await self.audit.stop()
        self.events.close()

    async def load_all(self, *, queue: bool | None = None) -> None:
        """(Re)build the index, and the dispatch queues when ``queue`` (default: while
        leading), from the store."""
        assert self._store is not None
        queue = self._leading if queue is None else queue
        orders = await self._store.load_all()
        orders.sort(key=lambda o: (stamp_seconds(o.created), o.id))
        self.orders.clear()
        self._metrics.counts.clear()
        for order in orders:
            self.orders[order.id] = order
            self._count(None, order)
            if order.state == WorkOrder.STATE_PENDING and queue:
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
        return {name: self._metrics.counts.get(value, 0) for value, name in STATE_NAMES.items()}

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

        Raises :class:`SubmitError` for a submission ``check_submission`` refuses or a
        full queue, and :class:`BrokerUnavailable` when the store cannot be written or did not
        answer: the order may or may not be stored, and a retry with the same id tells which.
        """
        self._require_leader("work order not submitted")
        return await self._submissions.submit(
            area_id=area_id, task=task, priority=priority, order_id=order_id, target=target
        )

    def _adopt_later(self, order_id: str) -> None:
        """Look for ``order_id`` in the store for a while; queue it once found (it may be stored)."""
        self._submissions.adopt_later(order_id)

    def _admit(self, order: Any) -> None:
        """Index a stored order the index did not know; queue it while PENDING (and leading)."""
        self._set(order)
        if order.state == WorkOrder.STATE_PENDING and self._leading:
            self._enqueue(order)

    def _set(self, order: Any, *, publish: bool = True) -> None:
        old = self.orders.get(order.id)
        self.orders[order.id] = order
        self._count(old, order)
        if publish:
            self.events.publish(ServerSentEvent(order_json(order), event="order"), key=("order", order.id))

    async def _apply(self, update: Any) -> Any | None:
        """Apply ``update`` if it moves its order forward; store; return the new order."""
        return await self._apply_all(update.order_id, [update])

    async def _apply_all(
        self, order_id: str, updates: list[Any], sources: list[str | None] | None = None
    ) -> Any | None:
        """Apply ``updates`` of one order in order (those that move it forward), store once.

        ``sources``: the tier that published each (from its subject); one that may not
        report about this order (:func:`accepts_from`) is ignored and counted. Returns the
        new order, or None when none of them moved it. The index changes only after the
        store write succeeded, so a failed write leaves the events to re-apply.
        """
        assert self._store is not None
        async with self._order_locks.hold(order_id):
            order = self.orders.get(order_id)
            if order is None:
                with broker_call(f"work order {order_id} could not be read"):
                    found = await self._store.get(order_id)
                if found is None:
                    log.debug("update for unknown order %r ignored", order_id)
                    return None
                order = found[0]
            steps: list[Any] = []
            for index, update in enumerate(updates):
                if sources is not None and not self._accepts(order, update, sources[index]):
                    continue
                if advances(order, update):
                    order = apply_update(order, update)
                    steps.append(order)
                else:
                    noted = note_stale_outcome(order, update)
                    if noted is not None:  # recorded, not applied (docs/fleet.md, "Leases")
                        log.info("work order %r: %s", order_id, noted.history[-1].note)
                        order = noted
                        steps.append(order)
            if not steps:
                return None
            self._require_leader(f"work order {order_id} not stored")  # fenced: never after the lease
            with broker_call(f"work order {order_id} could not be stored"):
                await self._store.put(order)
            for moved in steps:  # every transition counted (metrics), one SSE event
                self._set(moved, publish=moved is order)
            return order

    def _accepts(self, order: Any, update: Any, source: str | None) -> bool:
        ok = accepts_from(
            order,
            update,
            source,
            fleet_id=self.config.fleet_id,
            areas=self.config.areas,
            zone_area=self._zone_area,
        )
        if not ok:
            self.m_in.labels("order_event_refused").inc()
            self._refusals(
                logging.WARNING,
                "work order %r: an event from %s (%s, zone %r) ignored: the order is %s's",
                order.id,
                source,
                state_name(update.state),
                update.zone_id,
                order.zone_id or order.area_id,
            )
        return ok

    async def cancel(self, order_id: str, reason: str = "") -> CancelResult:
        """Cancel a non-final order (docs/fleet.md); CANCELLED again is accepted.

        Raises :class:`BrokerUnavailable` when the cancel cannot be stored now (retry it).
        """
        self._require_leader(f"work order {order_id} not cancelled")
        order = self.orders.get(order_id)
        if order is None:
            return CancelResult(False, None, f"unknown work order {order_id!r}")
        if order.state == WorkOrder.STATE_CANCELLED:
            return CancelResult(True, order)
        if order.state in FINAL_STATES:
            name = STATE_NAMES[order.state]
            return CancelResult(False, order, f"work order {order_id} is already {name}", final=True)
        note = reason or "cancelled by request"
        if not self.connected:
            raise BrokerUnavailable(
                f"work order {order_id} not cancelled: the fleet has no connection to the message broker; "
                f"retry in {RETRY_AFTER_S} s"
            )
        if order.state != WorkOrder.STATE_PENDING:
            await self._dispatcher.forward_cancel(order, note)
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
        area = self._dispatcher.areas.get(order.area_id)
        if area is not None:
            area.discard(order.id)  # its heap entry is skipped when popped
        if order.state != WorkOrder.STATE_PENDING and self._events is not None:
            try:  # so every tier (and a restarted fleet) converges on CANCELLED
                await self._events.publish(update)
                self.m_out.labels("order_event").inc()
            except Exception as exc:
                log.warning("could not publish the cancel of %r: %r", order.id, exc)
        current = self.orders.get(order_id, order)
        if moved is None and current.state != WorkOrder.STATE_CANCELLED:
            name = STATE_NAMES[current.state]
            return CancelResult(False, current, f"work order {order_id} is already {name}", final=True)
        return CancelResult(True, current)

    # -- dispatch (fleet/_dispatcher.py; the decisions are fleet/scheduler.py's) ------------
    def _enqueue(self, order: Any) -> None:
        self._dispatcher.enqueue(order)

    def queued(self, area_id: str) -> list[str]:
        """Order ids waiting for ``area_id``, in dispatch order (for tests and views)."""
        return self._dispatcher.queued(area_id)

    async def _dispatch_loop(self) -> None:
        await self._dispatcher.run(lambda: self._started and self._leading)

    # -- events consumer (fleet/_consumer.py) -----------------------------------------------
    async def _subscribe_events(self) -> Any:
        assert self._events is not None
        self._consumer = OrderEventConsumer(
            self._events,
            fleet_id=self.config.fleet_id,
            apply_all=self._apply_all,
            received=self.m_in.labels("order_event"),
        )
        return await self._consumer.subscribe(take_over=True)

    async def _consume_loop(self, consumer: Any) -> None:
        assert self._consumer is not None
        await self._consumer.run(consumer, lambda: self._started and self._leading)
