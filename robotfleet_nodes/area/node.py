"""The area tier: routes work orders from the fleet to its zones (docs/fleet.md).

An area is stateless apart from caches: it learns its zones' load from their 1 Hz
``ZoneSummary``, picks a zone for each order the fleet dispatches, and forwards cancels.

Zone choice (``/areas/<id>/dispatch``):

1. only *live* zones count (a summary within ``zone_silence_timeout_s``);
2. among live zones with capacity, the one with the most capacity wins; ties take turns
   (round robin). Capacity is the zone's last reported capacity minus the orders this area
   handed it since that summary, so a burst of dispatches spreads over the zones;
3. when no live zone has capacity, the least loaded live zone (queued + active orders,
   relative to its robots) gets the order and queues it;
4. no live zone: the request is refused with ``error`` saying so.

Re-routing: when a zone turns silent, every order it held that is still ``DISPATCHED`` to it
(from this area's routing map and from the order store, so an area restart does not lose
them) is handed to another live zone with a new idempotency key
``<order id>/<attempts>/reroute-<silent zone>`` (deterministic, so repeating the same
re-route is idempotent at the zone that took it). Orders already ASSIGNED or EXECUTING stay where they
are: a robot holds them and its zone reassigns them when the robot goes offline. Once the new
zone took an order, the area points the stored order's ``zone_id`` at it (compare-and-set on
the bucket entry, only while it is still DISPATCHED to the silent zone): an update can only
move an order forward and DISPATCHED -> DISPATCHED is not forward, so without this the store
would name the silent zone until the new zone reports ASSIGNED, and the silent zone, were it
restarted meanwhile, would re-adopt the order and run it a second time. Cancels use the
area's routing map, so they reach the new zone meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from robotfleet_nodes.config import AreaConfig
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.fleet.protocol import (
    FINAL_STATES,
    OrderStore,
    area_name,
    nats_transport_of,
    now_stamp,
    zone_name,
)
from robotfleet_nodes.msg import AreaSummary, WorkOrder, ZoneSummary
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.node.service import Client
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder

__all__ = ["AreaNode"]

log = logging.getLogger(__name__)

#: Answers kept for idempotent repeats of ``/areas/<id>/dispatch``.
IDEMPOTENCY_CACHE_SIZE = 10_000
#: Orders remembered in the routing map (order id -> zone id).
ROUTING_MAP_SIZE = 100_000


@dataclass(slots=True)
class _ZoneState:
    summary: ZoneSummary | None = None
    seen: float = float("-inf")  # monotonic time of the last summary
    handed: int = 0  # orders handed to the zone since its last summary
    silent: bool = True


class AreaNode(Node):
    """``/areas/<area_id>/area``: dispatches work orders to the area's zones."""

    def __init__(self, config: AreaConfig, *, context: Context, **options: Any) -> None:
        super().__init__("area", context=context, namespace=area_name(config.area_id), **options)
        self.config = config
        self.area_id = config.area_id
        self._zones: dict[str, _ZoneState] = {z: _ZoneState() for z in config.zones}
        self._assign: dict[str, Client[AssignWorkOrder]] = {}
        self._cancel: dict[str, Client[CancelWorkOrder]] = {}
        # key -> (zone_id, robot_id) of an accepted hand-off: plain tuples, which the garbage
        # collector stops tracking (10 000 response messages would be 30 000 objects it walks)
        self._answers: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[AssignWorkOrder.Response]] = {}
        self._routes: OrderedDict[str, str] = OrderedDict()
        self._turn = itertools.count()
        self._store: OrderStore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._summary_pub: Publisher[AreaSummary] | None = None

    # -- life ---------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Subscribe the zones' summaries, create the services, start the summary timer."""
        try:
            nats = nats_transport_of(self.context.transport)
        except TypeError as exc:  # not on NATS: route without re-routing
            log.warning("%s: no order store (%s): silent zones' orders are not re-routed", self.area_id, exc)
        else:  # on NATS with JetStream off: JetStreamUnavailable, the area does not start
            self._store = OrderStore(nats)
            await self._store.ensure()
        for zone_id in self.config.zones:
            await self.create_subscription(
                ZoneSummary, zone_name(zone_id, "summary"), self._on_zone_summary, 10
            )
            self._assign[zone_id] = await self.create_client(AssignWorkOrder, zone_name(zone_id, "assign"))
            self._cancel[zone_id] = await self.create_client(CancelWorkOrder, zone_name(zone_id, "cancel"))
        self._summary_pub = await self.create_publisher(AreaSummary, area_name(self.area_id, "summary"), 10)
        await self.create_service(AssignWorkOrder, area_name(self.area_id, "dispatch"), self._on_dispatch)
        await self.create_service(CancelWorkOrder, area_name(self.area_id, "cancel"), self._on_cancel)
        self.create_timer(self.config.summary_period_s, self._tick)
        log.info("area %s routing to zones %s", self.area_id, ", ".join(self.config.zones))

    async def destroy_node(self) -> None:
        """Stop re-routing tasks, then destroy the node's entities."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().destroy_node()

    # -- zones --------------------------------------------------------------------------
    def _on_zone_summary(self, msg: ZoneSummary) -> None:
        state = self._zones.get(msg.zone_id)
        if state is None:
            return
        if state.silent and state.summary is not None:
            log.info("%s: zone %s reports again", self.area_id, msg.zone_id)
        state.summary = msg
        state.seen = time.monotonic()
        state.handed = 0
        state.silent = False

    def live_zones(self) -> list[str]:
        """Zones that reported within the silence timeout, in configuration order."""
        limit = time.monotonic() - self.config.zone_silence_timeout_s
        return [z for z, s in self._zones.items() if s.summary is not None and s.seen >= limit]

    def silent_zones(self) -> list[str]:
        """Configured zones that have not reported within the silence timeout."""
        live = set(self.live_zones())
        return [z for z in self._zones if z not in live]

    def _capacity(self, zone_id: str) -> int:
        state = self._zones[zone_id]
        return max(0, int(state.summary.capacity) - state.handed) if state.summary is not None else 0

    def _load(self, zone_id: str) -> float:
        state = self._zones[zone_id]
        summary = state.summary
        if summary is None:  # has never reported, so not live: never the lightest
            return float("inf")
        waiting = int(summary.orders_queued) + int(summary.orders_active) + state.handed
        return waiting / max(1, int(summary.robots_total))

    def pick_zone(self, exclude: frozenset[str] = frozenset()) -> str | None:
        """The zone for the next order (see the module docstring), or None if none is live."""
        live = [z for z in self.live_zones() if z not in exclude]
        if not live:
            return None
        turn = next(self._turn)
        best = max(self._capacity(z) for z in live)
        if best > 0:
            tied = [z for z in live if self._capacity(z) == best]
            return tied[turn % len(tied)]
        lightest = min(self._load(z) for z in live)
        tied = [z for z in live if self._load(z) == lightest]
        return tied[turn % len(tied)]

    # -- dispatch -----------------------------------------------------------------------
    async def _on_dispatch(self, request: AssignWorkOrder.Request) -> AssignWorkOrder.Response:
        key = request.idempotency_key or f"{request.order.id}/{request.order.attempts}"
        if key in self._answers:
            zone_id, robot_id = self._answers[key]
            return AssignWorkOrder.Response(accepted=True, duplicate=True, zone_id=zone_id, robot_id=robot_id)
        pending = self._pending.get(key)
        if pending is not None:  # the same hand-off is being answered right now
            first = await asyncio.shield(pending)
            return first.model_copy(update={"duplicate": True})
        future: asyncio.Future[AssignWorkOrder.Response] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            answer = await self._dispatch(request.order, key)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(answer)
        if answer.accepted:  # a refusal is not cached: the retry may find capacity
            self._answers[key] = (str(answer.zone_id), str(answer.robot_id))
            while len(self._answers) > IDEMPOTENCY_CACHE_SIZE:
                self._answers.popitem(last=False)
        return answer

    async def _dispatch(
        self, order: WorkOrder, key: str, exclude: frozenset[str] = frozenset()
    ) -> AssignWorkOrder.Response:
        """Offer ``order`` to the best zone, then the others; the first acceptance wins."""
        tried: set[str] = set(exclude)
        errors: list[str] = []
        while True:
            zone_id = self.pick_zone(frozenset(tried))
            if zone_id is None:
                break
            tried.add(zone_id)
            answer = await self._assign_to(zone_id, order, key)
            if answer.accepted:
                return AssignWorkOrder.Response(
                    accepted=True,
                    duplicate=False,
                    zone_id=answer.zone_id or zone_id,
                    robot_id=answer.robot_id,
                )
            errors.append(f"{zone_id}: {answer.error or 'refused'}")
        if not errors:
            silent = ", ".join(self.silent_zones()) or "none configured"
            error = f"area {self.area_id} has no live zone (silent: {silent})"
        else:
            error = f"no zone of area {self.area_id} accepted the order: " + "; ".join(errors)
        return AssignWorkOrder.Response(accepted=False, error=error)

    async def _assign_to(self, zone_id: str, order: WorkOrder, key: str) -> AssignWorkOrder.Response:
        request = AssignWorkOrder.Request(
            idempotency_key=key,
            by=self.area_id,
            target_id=zone_id,
            order=order.model_copy(update={"area_id": order.area_id or self.area_id, "zone_id": zone_id}),
        )
        try:
            answer: AssignWorkOrder.Response = await self._assign[zone_id].call(
                request, timeout=self.config.assign_timeout_s
            )
        except (TimeoutError, ConnectionError, RobotFleetError) as exc:
            log.warning("%s: zone %s did not take order %s: %s", self.area_id, zone_id, order.id, exc)
            return AssignWorkOrder.Response(accepted=False, error=f"zone unreachable: {exc}")
        if answer.accepted:
            self._zones[zone_id].handed += 1
            self._remember(order.id, answer.zone_id or zone_id)
        return answer

    def _remember(self, order_id: str, zone_id: str) -> None:
        self._routes[order_id] = zone_id
        self._routes.move_to_end(order_id)
        while len(self._routes) > ROUTING_MAP_SIZE:
            self._routes.popitem(last=False)

    def zone_of(self, order_id: str) -> str | None:
        """The zone this area handed ``order_id`` to, if it remembers."""
        return self._routes.get(order_id)

    # -- cancel -------------------------------------------------------------------------
    async def _on_cancel(self, request: CancelWorkOrder.Request) -> CancelWorkOrder.Response:
        zone_id = self._routes.get(request.id)
        if zone_id is None and self._store is not None:
            stored = await self._store.get(request.id)
            if stored is not None and stored[0].zone_id in self._cancel:
                zone_id = stored[0].zone_id
        if zone_id is None or zone_id not in self._cancel:
            return CancelWorkOrder.Response(
                accepted=False, error=f"area {self.area_id} does not know which zone holds {request.id}"
            )
        try:
            answer: CancelWorkOrder.Response = await self._cancel[zone_id].call(
                request, timeout=self.config.assign_timeout_s
            )
        except (TimeoutError, ConnectionError, RobotFleetError) as exc:
            return CancelWorkOrder.Response(accepted=False, error=f"zone {zone_id} unreachable: {exc}")
        if answer.accepted:
            self._routes.pop(request.id, None)
        return answer

    # -- summary and silence --------------------------------------------------------------
    async def _tick(self) -> None:
        live = set(self.live_zones())
        for zone_id, state in self._zones.items():
            if zone_id not in live and not state.silent:
                state.silent = True
                log.warning(
                    "%s: zone %s silent for %.1f s: re-routing its queued orders",
                    self.area_id,
                    zone_id,
                    self.config.zone_silence_timeout_s,
                )
                task = asyncio.create_task(self._reroute(zone_id), name=f"reroute {zone_id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if self._summary_pub is not None:  # created in on_start, before the timer
            await self._summary_pub.publish(self.build_summary())

    def build_summary(self) -> AreaSummary:
        """The current ``AreaSummary``: totals over zones, capacity over live zones."""
        live = set(self.live_zones())
        summaries = [s.summary for s in self._zones.values() if s.summary is not None]
        return AreaSummary(
            area_id=self.area_id,
            stamp=now_stamp(),
            robots_total=sum(int(s.robots_total) for s in summaries),
            robots_online=sum(int(s.robots_online) for s in summaries if s.zone_id in live),
            orders_queued=sum(int(s.orders_queued) for s in summaries),
            orders_active=sum(int(s.orders_active) for s in summaries),
            capacity=sum(self._capacity(z) for z in live),
            silent_zones=[z for z in self._zones if z not in live],
            zones=summaries,
        )

    async def _move_stored(self, order_id: str, silent: str, zone_id: str) -> None:
        """Name ``zone_id`` in the stored order re-routed away from ``silent`` (see the module doc)."""
        if self._store is None or not zone_id:
            return
        try:
            found = await self._store.get(order_id)
            if found is None:
                return
            stored, revision = found
            if stored.state != WorkOrder.STATE_DISPATCHED or stored.zone_id != silent:
                return  # moved on meanwhile: the new zone's own events name it
            await self._store.replace(stored.model_copy(update={"zone_id": zone_id}), revision)
        except Exception as exc:
            log.warning("%s: could not record %s's move to %s: %s", self.area_id, order_id, zone_id, exc)

    async def _reroute(self, zone_id: str) -> None:
        """Hand the orders still DISPATCHED to the silent ``zone_id`` to other zones."""
        candidates = {order_id for order_id, z in self._routes.items() if z == zone_id}
        orders: dict[str, WorkOrder] = {}
        if self._store is not None:
            try:
                for order in await self._store.load_all():
                    if order.id in candidates or (order.zone_id == zone_id and order.area_id == self.area_id):
                        orders[order.id] = order
            except Exception:
                log.exception("%s: cannot read the order store to re-route zone %s", self.area_id, zone_id)
                return
        moved = 0
        for order in orders.values():
            if order.state in FINAL_STATES or order.state != WorkOrder.STATE_DISPATCHED:
                continue  # a robot holds it (or it is done): its zone handles it
            if self._routes.get(order.id, order.zone_id) != zone_id:
                continue
            if not [z for z in self.live_zones() if z != zone_id]:
                log.warning("%s: no live zone to re-route %s to", self.area_id, order.id)
                return
            key = f"{order.id}/{order.attempts}/reroute-{zone_id}"
            answer = await self._dispatch(order, key, exclude=frozenset({zone_id}))
            if answer.accepted:
                moved += 1
                await self._move_stored(order.id, zone_id, answer.zone_id)
                log.info(
                    "%s: re-routed %s from silent %s to %s", self.area_id, order.id, zone_id, answer.zone_id
                )
            else:
                log.warning("%s: could not re-route %s: %s", self.area_id, order.id, answer.error)
        if moved:
            log.info("%s: re-routed %d order(s) of silent zone %s", self.area_id, moved, zone_id)
