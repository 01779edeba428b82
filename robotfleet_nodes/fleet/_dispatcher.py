"""The fleet's dispatch loop: the calls to ``/areas/<a>/dispatch`` around the scheduler.

:mod:`~robotfleet_nodes.fleet.scheduler` decides (queues, budget, backoff); this module
makes the calls with the key ``<id>/<attempts>``, stores DISPATCHED through the service's
``apply``, tells the scheduler each outcome and wakes the loop: a refusal or an unreachable
area keeps the order PENDING at its place in the queue and backs the area off, except a
refusal of the order itself (``order_refused``: no zone will ever take it), which FAILS it
at once with the area's reason. It also forwards cancels to an order's area.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import prometheus_client as prometheus

from robotfleet_nodes.config import FleetConfig
from robotfleet_nodes.errors import BrokerUnavailable, RobotFleetError
from robotfleet_nodes.fleet.protocol import now_stamp
from robotfleet_nodes.fleet.scheduler import AreaState, picks
from robotfleet_nodes.msg import WorkOrder, WorkOrderUpdate
from robotfleet_nodes.node.service import Client
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)


class Dispatcher:
    """Hands the PENDING orders of ``orders`` to their areas, ``max_in_flight`` calls per area at most.

    ``areas`` holds the scheduler's state per area, ``wake`` starts a pass at once, ``tasks``
    are the calls under way. The service fills ``dispatch_clients`` and ``cancel_clients``
    (area id -> client) when its node is up; ``apply`` stores an update of an order;
    ``sent`` counts the calls made.
    """

    def __init__(
        self,
        config: FleetConfig,
        orders: Mapping[str, Any],
        *,
        apply: Callable[[Any], Awaitable[Any]],
        sent: prometheus.Counter,
        max_in_flight: int,
    ) -> None:
        self.config = config
        self.orders = orders
        self.max_in_flight = max_in_flight
        self.areas: dict[str, AreaState] = {a: AreaState() for a in config.areas}
        self.dispatch_clients: dict[str, Client[Any]] = {}
        self.cancel_clients: dict[str, Client[Any]] = {}
        self.wake = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self._apply = apply
        self._sent = sent
        self._seq = itertools.count()
        #: checked right before each dispatch call: False (the fleet leader lease lapsed)
        #: leaves the order PENDING in its queue
        self.allowed: Callable[[], bool] = lambda: True

    def enqueue(self, order: Any) -> None:
        """Queue a PENDING ``order`` for its area (once) and start a pass."""
        area = self.areas.get(order.area_id)
        if area is not None and area.enqueue(order.id, order.priority, next(self._seq)):
            self.wake.set()

    def forget_queues(self) -> None:
        """Empty every queue (a standby dispatches nothing; a new leader queues from the store)."""
        for area in self.areas.values():
            area.queue.clear()
            area.queued.clear()
            area.in_flight = 0

    def queued(self, area_id: str) -> list[str]:
        """Order ids waiting for ``area_id``, in dispatch order (for tests and views)."""
        return self.areas[area_id].waiting()

    def _pending(self, order_id: str) -> bool:
        order = self.orders.get(order_id)
        return order is not None and order.state == WorkOrder.STATE_PENDING

    async def run(self, running: Callable[[], bool]) -> None:
        """Dispatch passes while ``running()``: at once when woken, else every dispatch interval."""
        interval = self.config.scheduler.dispatch_interval_s
        while running():
            self.wake.clear()
            due = picks(
                self.areas,
                time.monotonic(),
                pending=self._pending,
                max_in_flight=self.max_in_flight,
                silence_timeout_s=self.config.scheduler.area_silence_timeout_s,
            )
            for area_id, order_id, seq in due:
                order = self.orders[order_id]
                task = asyncio.create_task(self._dispatch(area_id, order, seq), name=f"dispatch {order_id}")
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):  # not wait_for: it may swallow a cancel (3.11)
                    await self.wake.wait()

    async def _dispatch(self, area_id: str, order: Any, seq: int) -> None:
        area = self.areas[area_id]
        key = f"{order.id}/{order.attempts}"
        accepted = released = False
        try:
            if not self.allowed():
                log.info("not dispatching %r: this fleet instance no longer holds the leader lease", order.id)
                return
            request = AssignWorkOrder.Request(
                idempotency_key=key, by=self.config.fleet_id, target_id=area_id, order=order
            )
            self._sent.labels("dispatch").inc()
            try:
                answer = await self.dispatch_clients[area_id].call(
                    request, timeout=self.config.scheduler.dispatch_timeout_s
                )
            except (TimeoutError, ConnectionError, RobotFleetError) as exc:
                log.info("area %s unreachable for %r: %r", area_id, order.id, exc)
                answer = None
            area.in_flight -= 1  # the call is over: the store write below needs no slot
            released = True
            self.wake.set()
            if answer is not None and answer.accepted:
                accepted = True
                area.note_accepted()
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
                    await self.forward_cancel(current, current.error or "cancelled")  # lost the race
            elif answer is not None and answer.order_refused:
                log.info("area %s refused work order %r itself: %r", area_id, order.id, answer.error)
                await self._fail(order, area_id, answer.error)
            else:
                if answer is not None:
                    log.info("area %s refused %r: %r", area_id, order.id, answer.error)
                area.note_refused(time.monotonic(), self.config.scheduler.dispatch_interval_s)
        except asyncio.CancelledError:
            raise
        except BrokerUnavailable as exc:
            log.warning("dispatching %r to %s: %s", order.id, area_id, exc)
        except Exception:
            log.exception("dispatching %r to %s failed", order.id, area_id)
        finally:
            if not released:
                area.in_flight -= 1
            if not accepted:
                current = self.orders.get(order.id)
                if current is not None and current.state == WorkOrder.STATE_PENDING:
                    area.requeue(order.id, order.priority, seq)  # keeps its place
                else:
                    area.discard(order.id)
            else:
                area.discard(order.id)
            self.wake.set()

    async def _fail(self, order: Any, area_id: str, error: str) -> None:
        """FAIL ``order`` for the reason ``area_id`` refused it (order_refused): no retry helps."""
        update = WorkOrderUpdate(
            order_id=order.id,
            attempt=order.attempts,
            state=WorkOrder.STATE_FAILED,
            area_id=area_id,
            stamp=now_stamp(),
            by=self.config.fleet_id,
            note=error or f"refused by {area_id}",
        )
        await self._apply(update)

    async def forward_cancel(self, order: Any, reason: str) -> None:
        """Ask the area of ``order`` to cancel it (a refusal or no answer is logged)."""
        client = self.cancel_clients.get(order.area_id)
        if client is None:
            return
        try:
            self._sent.labels("cancel").inc()
            answer = await client.call(
                CancelWorkOrder.Request(id=order.id, reason=reason),
                timeout=self.config.scheduler.dispatch_timeout_s,
            )
            if not answer.accepted:
                log.info("area %s did not cancel %r: %r", order.area_id, order.id, answer.error)
        except (TimeoutError, ConnectionError, RobotFleetError) as exc:
            log.warning("area %s unreachable to cancel %r: %r", order.area_id, order.id, exc)
