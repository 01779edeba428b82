"""The area tier: routes work orders from the fleet to its zones and grants their leases (docs/fleet.md).

An area keeps only caches: it learns its zones' load from their 1 Hz ``ZoneSummary``, picks
a zone for each order the fleet dispatches, forwards cancels, and grants its live zones
their leases.

Zone choice (``/areas/<id>/dispatch``):

1. only *live* zones count (a summary within ``zone_silence_timeout_s``);
2. among live zones with capacity, the one with the most capacity wins; ties take turns
   (round robin). Capacity is the zone's last reported capacity minus the orders this area
   handed it since that summary, so a burst of dispatches spreads over the zones;
3. when no live zone has capacity, the least loaded live zone (queued + active orders,
   relative to its robots) gets the order and queues it;
4. no zone accepted: the answer names each zone's reason (:mod:`.refusal`); when every zone
   that answered refused the order itself (``order_refused``), so does the area.

Leases (the rules: :mod:`.leases`): every ``summary_period_s`` the area publishes one
``LeaseRenewal`` on ``/areas/<id>/leases`` listing its live zones (``lease_s`` 0: each
zone's own ``leases.zone_lease_s``) and the orders it took back from zones (revocations).
A zone that is silent is not listed, so it loses its lease and stops renewing its robots'.
Once ``zone_lease_s + robot_lease_s + margin_s`` (the zone's own, from its summary) passed
since the last grant that listed it, and unless its robots finish without a lease, the area
takes back every order the store says the zone holds (DISPATCHED, ASSIGNED or EXECUTING):
compare-and-set in the bucket to DISPATCHED at ``attempts + 1`` without zone or robot, a
``WorkOrderUpdate`` saying so on the order-event stream, and a hand-off to another live zone
with the key ``<order id>/<attempts>/takeback-<silent zone>`` (deterministic: a repeat is
idempotent at the zone). With no live zone the order waits, in the bucket as well, and goes
to the first zone live again (the silent one too, once it reports and was granted again).
Nothing moves earlier: a cut-off zone may still be running. Once a zone took the order, the
area points the stored order's ``zone_id`` at it, so a restarted silent zone never
re-adopts it. Cancels use the area's routing map, so they reach the new zone meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from robotfleet_nodes.area._takeback import TakeBack
from robotfleet_nodes.area.leases import LeaseTerms, Revocations, takeback_due
from robotfleet_nodes.area.refusal import ZoneRefusal, refusal
from robotfleet_nodes.config import AreaConfig
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.fleet.protocol import (
    OrderEvents,
    OrderStore,
    area_name,
    ask_journal,
    nats_transport_of,
    now_stamp,
    robot_name,
    zone_name,
)
from robotfleet_nodes.msg import AreaSummary, ExecutionRecord, LeaseRenewal, WorkOrder, ZoneSummary
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.node.service import Client
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder, GetExecutions
from robotfleet_nodes.transport import ConnectionState

__all__ = ["AreaNode"]

log = logging.getLogger(__name__)

#: A zone is granted its lease while its latest summary is at most this many of the area's
#: summary periods old.
GRANT_FRESHNESS = 2.5
#: Seconds between checks for zones whose orders are due to be taken back [s].
TAKEBACK_CHECK_S = 0.25
#: Answers kept for idempotent repeats of ``/areas/<id>/dispatch``.
IDEMPOTENCY_CACHE_SIZE = 10_000
#: Orders remembered in the routing map (order id -> zone id).
ROUTING_MAP_SIZE = 100_000
#: What came of one hand-off to a zone: an answer; none after the request went out (the
#: zone may hold the order); or none because no zone serves the name (it never got it).
_Outcome = Literal["answered", "no answer", "unreachable"]
#: Hand-offs without an answer remembered (key -> zone, since): offered to that zone only.
UNKNOWN_HANDOFFS_SIZE = 10_000


@dataclass(slots=True)
class _ZoneState:
    summary: ZoneSummary | None = None
    seen: float = float("-inf")  # monotonic time of the last summary
    handed: int = 0  # orders handed to the zone since its last summary
    silent: bool = True
    granted: float = float("-inf")  # monotonic time of the last grant listing the zone
    renewed: bool = False  # the last grant listed it
    taken_back: bool = False  # its orders were (being) taken back since it last reported


class AreaNode(Node):
    """``/areas/<area_id>/area``: dispatches work orders to the area's zones, grants their leases."""

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
        # key -> (zone, since) of a hand-off sent without an answer: offered to that zone again
        self._unknown: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._turn = itertools.count()
        self._store: OrderStore | None = None
        self._takeback: TakeBack | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy: set[str] = set()  # names of the background jobs running (one of each)
        self._summary_pub: Publisher[AreaSummary] | None = None
        self._grant_pub: Publisher[LeaseRenewal] | None = None
        self._grant_seq = itertools.count(1)
        self._no_revocations = Revocations()  # off NATS: the area takes nothing back
        self._connected = True
        self._journals: dict[str, Client[GetExecutions]] = {}  # robot id -> its journal service

    # -- life ---------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Subscribe the zones' summaries, create the services, start the summary timer."""
        try:
            nats = nats_transport_of(self.context.transport)
        except TypeError as exc:  # not on NATS: route without taking orders back
            log.warning("%s: no order store (%s): silent zones' orders are not taken back", self.area_id, exc)
        else:  # on NATS with JetStream off: JetStreamUnavailable, the area does not start
            self._store = OrderStore(nats)
            await self._store.ensure()
            events = OrderEvents(nats, self.area_id)
            await events.ensure()
            self._takeback = TakeBack(
                self.area_id,
                self._store,
                events,
                dispatch=self._dispatch,
                live_zones=self.live_zones,
                forget_route=self._forget_route,
                ask_robot=self._ask_robot,
            )
        started = time.monotonic()
        for state in self._zones.values():  # a (re)started area never takes back early
            state.granted = started
        self.context.add_connection_listener(self._on_connection)
        for zone_id in self.config.zones:
            await self.create_subscription(
                ZoneSummary, zone_name(zone_id, "summary"), self._on_zone_summary, 10
            )
            self._assign[zone_id] = await self.create_client(AssignWorkOrder, zone_name(zone_id, "assign"))
            self._cancel[zone_id] = await self.create_client(CancelWorkOrder, zone_name(zone_id, "cancel"))
        self._summary_pub = await self.create_publisher(AreaSummary, area_name(self.area_id, "summary"), 10)
        self._grant_pub = await self.create_publisher(LeaseRenewal, area_name(self.area_id, "leases"), 10)
        await self.create_service(AssignWorkOrder, area_name(self.area_id, "dispatch"), self._on_dispatch)
        await self.create_service(CancelWorkOrder, area_name(self.area_id, "cancel"), self._on_cancel)
        if self._takeback is not None:
            self._spawn("recover", self._takeback.recover())
        self.create_timer(self.config.summary_period_s, self._tick)
        self.create_timer(min(TAKEBACK_CHECK_S, self.config.summary_period_s), self._check_silent)
        log.info("area %s routing to zones %s", self.area_id, ", ".join(self.config.zones))

    async def _ask_robot(self, robot_id: str, order_id: str, attempt: int) -> ExecutionRecord | None:
        """``robot_id``'s journal record of ``order_id`` (the question fences it at ``attempt``)."""
        client = self._journals.get(robot_id)
        if client is None:
            client = self._journals[robot_id] = await self.create_client(
                GetExecutions, robot_name(robot_id, "journal")
            )
        record: ExecutionRecord | None = await ask_journal(
            client, order_id, attempt, timeout=self.config.assign_timeout_s
        )
        if record is None:
            log.info("%s: %s does not answer about %s", self.area_id, robot_id, order_id)
        return record

    def _on_connection(self, state: ConnectionState) -> None:
        """A broker outage is nobody's silence: zones get their whole term again from the
        area's reconnection (later is always safe), and nothing is taken back meanwhile."""
        if state is ConnectionState.DISCONNECTED:
            self._connected = False
        elif state in (ConnectionState.CONNECTED, ConnectionState.RECONNECTED) and not self._connected:
            self._connected = True
            now = time.monotonic()
            for zone in self._zones.values():
                zone.granted = max(zone.granted, now)

    async def destroy_node(self) -> None:
        """Stop the take-back tasks, then destroy the node's entities."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().destroy_node()

    def _spawn(self, job: str, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` in the background as ``job``, unless a ``job`` runs already."""

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: %s failed", self.area_id, job)
            finally:
                self._busy.discard(job)

        if job in self._busy:
            work.close()
            return
        self._busy.add(job)
        task = asyncio.create_task(run(), name=f"{self.area_id} {job}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        state.taken_back = False

    def live_zones(self) -> list[str]:
        """Zones that reported within the silence timeout, in configuration order."""
        limit = time.monotonic() - self.config.zone_silence_timeout_s
        return [z for z, s in self._zones.items() if s.summary is not None and s.seen >= limit]

    def fresh_zones(self) -> list[str]:
        """Zones granted their lease now: a summary within :data:`GRANT_FRESHNESS` summary
        periods (stricter than routing's silence timeout: a zone that stopped reporting stops
        being renewed at once, so its orders can move sooner)."""
        limit = time.monotonic() - GRANT_FRESHNESS * self.config.summary_period_s
        return [z for z, s in self._zones.items() if s.summary is not None and s.seen >= limit]

    def silent_zones(self) -> list[str]:
        """Configured zones that have not reported within the silence timeout."""
        live = set(self.live_zones())
        return [z for z in self._zones if z not in live]

    def granted_at(self, zone_id: str) -> float:
        """Monotonic time of the last grant listing ``zone_id`` (the area's start before any)."""
        return self._zones[zone_id].granted

    def lease_terms(self, zone_id: str) -> LeaseTerms:
        """The lease terms the area applies to ``zone_id`` now (from its latest summary)."""
        return LeaseTerms.of(self._zones[zone_id].summary)

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
        refusals: list[ZoneRefusal] = []
        pinned = self._pinned_zone(key)
        while True:
            zone_id = pinned if pinned is not None else self.pick_zone(frozenset(tried))
            pinned = None
            if zone_id is None:
                break
            tried.add(zone_id)
            answer, outcome = await self._assign_to(zone_id, order, key)
            if answer.accepted:
                self._unknown.pop(key, None)
                return AssignWorkOrder.Response(
                    accepted=True,
                    duplicate=False,
                    zone_id=answer.zone_id or zone_id,
                    robot_id=answer.robot_id,
                )
            if outcome == "no answer":
                # The zone may have taken it and only its answer got lost (a broker node lost
                # meanwhile): offering it to another zone could run it twice. It stays with this
                # zone: the next dispatch (same key) asks this zone again, which answers a repeat
                # from its idempotency cache.
                self._unknown.setdefault(key, (zone_id, time.monotonic()))
                while len(self._unknown) > UNKNOWN_HANDOFFS_SIZE:
                    self._unknown.popitem(last=False)
                return AssignWorkOrder.Response(accepted=False, error=f"{self.area_id}: {answer.error}")
            self._unknown.pop(key, None)
            answered = outcome == "answered"
            refusals.append(ZoneRefusal(zone_id, answer.error, bool(answer.order_refused), answered))
        order_refused, error = refusal(self.area_id, refusals, self.silent_zones())
        return AssignWorkOrder.Response(accepted=False, order_refused=order_refused, error=error)

    async def _assign_to(
        self, zone_id: str, order: WorkOrder, key: str
    ) -> tuple[AssignWorkOrder.Response, _Outcome]:
        """The zone's answer (a refusal when it gave none), and what came of the call."""
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
        except TimeoutError as exc:  # sent, but no answer: taken or not, nobody knows
            log.warning("%s: zone %s did not answer about order %s: %s", self.area_id, zone_id, order.id, exc)
            return AssignWorkOrder.Response(
                accepted=False, error=f"no answer from {zone_id}: {exc}"
            ), "no answer"
        except (ConnectionError, RobotFleetError) as exc:
            log.warning("%s: zone %s did not take order %s: %s", self.area_id, zone_id, order.id, exc)
            return AssignWorkOrder.Response(accepted=False, error=f"zone unreachable: {exc}"), "unreachable"
        if answer.accepted:
            self._zones[zone_id].handed += 1
            self._remember(order.id, answer.zone_id or zone_id)
        return answer, "answered"

    def _pinned_zone(self, key: str) -> str | None:
        """The zone a hand-off with ``key`` went to without an answer, while it may hold it:
        until it answers, or until it has been silent for its lease terms (by then a zone that
        took the order but was cut off has stopped renewing its robots: as for take-back)."""
        unknown = self._unknown.get(key)
        if unknown is None:
            return None
        zone_id, since = unknown
        if zone_id in self.live_zones():
            return zone_id
        if time.monotonic() - max(since, self._zones[zone_id].seen) < self.lease_terms(zone_id).total_s:
            return zone_id
        del self._unknown[key]
        return None

    def _remember(self, order_id: str, zone_id: str) -> None:
        self._routes[order_id] = zone_id
        self._routes.move_to_end(order_id)
        while len(self._routes) > ROUTING_MAP_SIZE:
            self._routes.popitem(last=False)

    def _forget_route(self, order_id: str, zone_id: str) -> None:
        if self._routes.get(order_id) == zone_id:
            del self._routes[order_id]

    def zone_of(self, order_id: str) -> str | None:
        """The zone this area handed ``order_id`` to, if it remembers."""
        return self._routes.get(order_id)

    # -- cancel -------------------------------------------------------------------------
    async def _on_cancel(self, request: CancelWorkOrder.Request) -> CancelWorkOrder.Response:
        if self._takeback is not None and await self._takeback.drop(request.id):  # held by no zone
            return CancelWorkOrder.Response(accepted=True)
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

    # -- grants, summary and silence ------------------------------------------------------
    async def _tick(self) -> None:
        now = time.monotonic()
        live = self.live_zones()
        fresh = self.fresh_zones()
        grant = self.build_grant(fresh, now)
        for zone_id, state in self._zones.items():
            if zone_id in fresh:  # before sending: a lost grant only delays a take-back
                state.granted = now
                state.renewed = True
            elif state.renewed:
                state.renewed = False
                log.warning(
                    "%s: zone %s is no longer renewed (last grant %.2f s ago)",
                    self.area_id,
                    zone_id,
                    now - state.granted,
                )
        if self._grant_pub is not None:  # created in on_start, before the timer
            try:
                await self._grant_pub.publish(grant)
            except Exception as exc:
                log.warning("%s: could not publish the zones' grants: %s", self.area_id, exc)
        self._check_silent(now, live)
        if self._takeback is not None:
            if live and self._takeback.waiting:
                self._spawn("hand over", self._takeback.hand_waiting())
            if self._takeback.handed:
                self._spawn("repoint", self._takeback.repoint(now))
        if self._summary_pub is not None:
            await self._summary_pub.publish(self.build_summary())

    def _check_silent(self, now: float | None = None, live: list[str] | None = None) -> None:
        """Note zones gone silent; take back the orders of those whose leases all ran out
        (also run between summary ticks, every :data:`TAKEBACK_CHECK_S`)."""
        now = time.monotonic() if now is None else now
        live = self.live_zones() if live is None else live
        for zone_id, state in self._zones.items():
            if zone_id in live:
                continue
            terms = LeaseTerms.of(state.summary)
            if not state.silent:
                state.silent = True
                log.warning(
                    "%s: zone %s silent for %.1f s: %s",
                    self.area_id,
                    zone_id,
                    self.config.zone_silence_timeout_s,
                    "its robots finish without a lease, so its orders stay until it reports"
                    if terms.finish
                    else f"its orders move {terms.total_s:g} s after its last grant unless it reports",
                )
            if (
                self._takeback is not None
                and self._connected
                and not state.taken_back
                and takeback_due(state.granted, terms, now)
            ):
                why = f"no grant for {now - state.granted:.1f} s >= leases {terms.total_s:g} s"
                state.taken_back = True  # once per silence (a zone that reports again is reset)
                self._spawn(f"take back {zone_id}", self._take_back(zone_id, why))

    def build_grant(self, live: list[str], now: float) -> LeaseRenewal:
        """The next ``LeaseRenewal`` of the zones: ``live`` listed, the revocations kept at ``now``."""
        revocations = self._takeback.revocations if self._takeback is not None else self._no_revocations
        zones, orders, attempts = revocations.listed(now)
        return LeaseRenewal(
            granter=self.area_id,
            seq=next(self._grant_seq),
            lease_s=0.0,
            holders=live,
            revoked_holders=zones,
            revoked_order_ids=orders,
            revoked_attempts=attempts,
        )

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

    # -- take-back (robotfleet_nodes/area/_takeback.py) -----------------------------------
    @property
    def waiting(self) -> list[str]:
        """Ids of the orders taken back from silent zones and not yet handed to another."""
        return self._takeback.waiting if self._takeback is not None else []

    async def _take_back(self, zone_id: str, why: str) -> None:
        assert self._takeback is not None
        await self._takeback.zone(zone_id, why)
