"""The area's take-back machinery: orders of silent zones moved to others (see :mod:`.node`).

:class:`TakeBack` does the I/O the rules of :mod:`.leases` decide: the compare-and-set on
the bucket entry, the order event, the revocation, the hand-off to another zone (through
the area's own dispatch, so taken-back orders follow the same zone choice as new ones),
and, once a zone took an order, pointing the stored order at it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from robotfleet_nodes.area.leases import Revocations, held_by, take_back, taken_back_from
from robotfleet_nodes.fleet.protocol import FINAL_STATES, OrderEvents, OrderStore, now_stamp
from robotfleet_nodes.msg import ExecutionRecord, WorkOrder, WorkOrderUpdate
from robotfleet_nodes.srv import AssignWorkOrder

__all__ = ["CAS_TRIES", "REPOINT_S", "TakeBack"]

log = logging.getLogger(__name__)

#: Compare-and-set attempts on one stored order before the area gives up for now.
CAS_TRIES = 5
#: Seconds the area keeps pointing a handed-over order's stored ``zone_id`` at its new zone:
#: the fleet applies the take-back event to its own copy (which still names the old zone)
#: and stores that copy once, shortly after.
REPOINT_S = 10.0
#: Pauses between attempts to publish a take-back event [s].
_PUBLISH_RETRIES = (0.1, 0.5, 1.0, 2.0)

#: ``dispatch(order, idempotency key, zones to leave out)``: the area's hand-off to a zone.
Dispatch = Callable[[WorkOrder, str, frozenset[str]], Awaitable[AssignWorkOrder.Response]]
#: ``ask(robot id, order id, attempt)``: that robot's journal record of the order (fencing it),
#: or None when the robot does not answer.
AskRobot = Callable[[str, str, int], Awaitable[ExecutionRecord | None]]


@dataclass(slots=True)
class _Waiting:
    """An order taken back from ``silent``, waiting for another zone."""

    order: WorkOrder
    silent: str


@dataclass(slots=True)
class _Handed:
    """An order handed over at ``attempt`` to ``zone_id``: its stored zone is checked until ``until``."""

    zone_id: str
    attempt: int
    silent: str
    until: float


class TakeBack:
    """Takes silent zones' orders back and hands them over, for the area ``area_id``."""

    def __init__(
        self,
        area_id: str,
        store: OrderStore,
        events: OrderEvents,
        *,
        dispatch: Dispatch,
        live_zones: Callable[[], list[str]],
        forget_route: Callable[[str, str], None],
        ask_robot: AskRobot | None = None,
    ) -> None:
        self.area_id = area_id
        self.revocations = Revocations()
        self._store = store
        self._events = events
        self._dispatch = dispatch
        self._live_zones = live_zones
        self._forget_route = forget_route
        self._ask_robot = ask_robot
        self._waiting: dict[str, _Waiting] = {}  # order id -> taken back, not handed over yet
        self._handing: dict[str, asyncio.Event] = {}  # order id -> set once its hand-over ended
        self._handed: dict[str, _Handed] = {}

    @property
    def waiting(self) -> list[str]:
        """Ids of the orders taken back and not yet handed to another zone."""
        return list(self._waiting)

    @property
    def handed(self) -> bool:
        """True while handed-over orders' stored zone is still checked."""
        return bool(self._handed)

    async def drop(self, order_id: str) -> bool:
        """Forget the waiting ``order_id`` (cancelled); True if it was waiting.

        A hand-over of ``order_id`` under way ends first: once a zone took the order, the
        cancel goes to that zone, like any other.
        """
        handing = self._handing.get(order_id)
        if handing is not None:
            await handing.wait()
        return self._waiting.pop(order_id, None) is not None

    async def zone(self, zone_id: str, why: str) -> None:
        """Take back every order the store says the silent ``zone_id`` holds."""
        held = [o.id for o in await self._store.load_all() if self._holds(o, zone_id)]
        if held:
            log.warning("%s: taking %d order(s) back from %s (%s)", self.area_id, len(held), zone_id, why)
        for order_id in held:
            await self._order(order_id, zone_id, why)

    def _holds(self, order: WorkOrder, zone_id: str) -> bool:
        """The store says ``zone_id`` holds ``order``, and it was not taken back from it already.

        (The fleet's copy of an order taken back still names the old zone until the order
        has a new one: such an order is waiting, not held.)
        """
        return held_by(order, zone_id, self.area_id) and taken_back_from(order, self.area_id) != zone_id

    async def _done_by_robot(self, order: WorkOrder, zone_id: str) -> bool:
        """Ask the robot the store names whether it finished ``order`` while ``zone_id`` was
        silent: then the order is COMPLETED, not moved (and the question fenced it either way).
        True when the order must stay (done, or the robot says it still runs it)."""
        if not order.robot_id or self._ask_robot is None:
            return False
        record = await self._ask_robot(order.robot_id, order.id, int(order.attempts))
        if record is None:
            return False  # silent too: its lease ended, it stopped
        if record.state == ExecutionRecord.STATE_RUNNING:
            log.warning(
                "%s: %s says it still runs %s under a lease: not taken back",
                self.area_id,
                order.robot_id,
                order.id,
            )
            return True
        if record.state != ExecutionRecord.STATE_SUCCEEDED:
            return False
        await self._publish(
            WorkOrderUpdate(
                order_id=order.id,
                attempt=max(int(record.attempt), int(order.attempts)),
                state=WorkOrder.STATE_COMPLETED,
                area_id=order.area_id or self.area_id,
                zone_id=zone_id,
                robot_id=order.robot_id,
                progress=1.0,
                stamp=now_stamp(),
                by=self.area_id,
                note=f"done by {order.robot_id} while {zone_id} was silent",
            )
        )
        log.info(
            "%s: %s finished %s while %s was silent: COMPLETED",
            self.area_id,
            order.robot_id,
            order.id,
            zone_id,
        )
        return True

    async def _order(self, order_id: str, zone_id: str, why: str) -> None:
        found = await self._store.get(order_id)
        if (
            found is None
            or not self._holds(found[0], zone_id)
            or await self._done_by_robot(found[0], zone_id)
        ):
            return
        for _ in range(CAS_TRIES):
            found = await self._store.get(order_id)
            if found is None or not self._holds(found[0], zone_id):
                return  # moved on meanwhile (completed, cancelled, reported elsewhere)
            old, revision = found
            stored, update = take_back(old, zone_id=zone_id, by=self.area_id, why=why, stamp=now_stamp())
            if await self._store.replace(stored, revision):
                break
        else:
            log.warning("%s: %s changed %d times while taken back", self.area_id, order_id, CAS_TRIES)
            return
        self.revocations.add(zone_id, order_id, int(old.attempts), time.monotonic())
        await self._publish(update)
        self._forget_route(order_id, zone_id)
        self._waiting[order_id] = _Waiting(stored, zone_id)
        log.info("%s: took %s (attempt %d) back from %s", self.area_id, order_id, old.attempts, zone_id)
        await self.hand_over(order_id, exclude=frozenset({zone_id}))

    async def _publish(self, update: WorkOrderUpdate) -> None:
        for delay in (*_PUBLISH_RETRIES, None):
            try:
                await self._events.publish(update)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if delay is None:
                    name = f"{update.order_id}/{update.attempt}"
                    log.warning("%s: take-back event %s lost: %s", self.area_id, name, exc)
                    return
                await asyncio.sleep(delay)

    async def hand_waiting(self) -> None:
        """Offer the waiting orders to the live zones (after a grant: its revocations went first)."""
        for order_id in list(self._waiting):
            if not self._live_zones():
                return
            await self.hand_over(order_id)

    async def hand_over(self, order_id: str, exclude: frozenset[str] = frozenset()) -> bool:
        """Hand the waiting ``order_id`` to a live zone; True once a zone took it."""
        waiting = self._waiting.get(order_id)
        if waiting is None or order_id in self._handing:
            return False
        order, silent = waiting.order, waiting.silent
        self._handing[order_id] = asyncio.Event()
        try:
            found = await self._store.get(order_id)
            if (
                found is None
                or taken_back_from(found[0], self.area_id) != silent
                or found[0].attempts != order.attempts
            ):
                self._waiting.pop(order_id, None)  # cancelled, or reported elsewhere meanwhile
                return False
            key = f"{order.id}/{order.attempts}/takeback-{silent}"
            answer = await self._dispatch(order, key, exclude)
            if not answer.accepted:
                log.info("%s: %s waits for a zone: %s", self.area_id, order_id, answer.error)
                return False
            self._waiting.pop(order_id, None)
            attempt = int(order.attempts)
            self._handed[order_id] = _Handed(answer.zone_id, attempt, silent, time.monotonic() + REPOINT_S)
            await self._point_stored(order_id, self._handed[order_id])
            log.info("%s: handed %s (taken from %s) to %s", self.area_id, order_id, silent, answer.zone_id)
            return True
        finally:
            self._handing.pop(order_id).set()

    async def _point_stored(self, order_id: str, handed: _Handed) -> None:
        """Name the new zone in the stored order, while it still names none or the silent one."""
        try:
            for _ in range(CAS_TRIES):
                found = await self._store.get(order_id)
                if found is None:
                    return
                stored, revision = found
                if (
                    stored.state != WorkOrder.STATE_DISPATCHED
                    or stored.attempts != handed.attempt
                    or stored.zone_id not in ("", handed.silent)
                ):
                    return  # named already, or moved on: the new zone's own events name it
                moved = stored.model_copy(update={"zone_id": handed.zone_id, "robot_id": ""})
                if await self._store.replace(moved, revision):
                    return
        except Exception as exc:
            log.warning(
                "%s: could not record %s's move to %s: %s", self.area_id, order_id, handed.zone_id, exc
            )

    async def repoint(self, now: float) -> None:
        """Point handed-over orders at their zone again where the fleet's copy named the old one."""
        for order_id, handed in list(self._handed.items()):
            if now > handed.until:
                del self._handed[order_id]
            else:
                await self._point_stored(order_id, handed)

    async def recover(self) -> None:
        """At the area's start: the orders it took back earlier and handed to no zone wait again."""
        now = time.monotonic()
        for order in await self._store.load_all():
            if order.state in FINAL_STATES:
                continue
            silent = taken_back_from(order, self.area_id)
            if silent is not None and order.id not in self._waiting:
                self._waiting[order.id] = _Waiting(order, silent)
                self.revocations.add(silent, order.id, int(order.attempts) - 1, now)
        if self._waiting:
            log.info("%s: %d order(s) taken back earlier wait for a zone", self.area_id, len(self._waiting))
