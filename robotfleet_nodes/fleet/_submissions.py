"""New orders into the store: :class:`Submissions` (submit, and adoption after a lost answer).

A submission is one create-if-absent write of the
:class:`~robotfleet_nodes.fleet.protocol.OrderStore`, serialised per order id and waiting
for nothing else. A create the broker did not answer may have been stored all the same:
:class:`Submissions` then keeps looking for the order (:data:`ADOPT_FOR_S`) and admits it
once the store has it, so it does not wait there undispatched until its client retries.
:func:`broker_call` turns a failed or unanswered broker call into
:class:`~robotfleet_nodes.errors.BrokerUnavailable` (HTTP 503) for every store write of the
fleet. :class:`~robotfleet_nodes.fleet.service.FleetService` is the facade.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import nats.errors

from robotfleet_nodes.config import FleetConfig
from robotfleet_nodes.errors import BrokerUnavailable
from robotfleet_nodes.fleet._dispatcher import Dispatcher
from robotfleet_nodes.fleet.orders import OrderIndex, OrderLocks, SubmitError, check_submission, new_order
from robotfleet_nodes.fleet.protocol import OrderStore

__all__ = ["ADOPT_FOR_S", "BROKER_ERRORS", "RETRY_AFTER_S", "Submissions", "broker_call"]

log = logging.getLogger(__name__)

#: Seconds a client should wait before retrying a submission or cancel refused for a broker outage.
RETRY_AFTER_S = 1
#: Seconds the fleet keeps looking for an order whose store write had no answer (it may be stored).
ADOPT_FOR_S = 120.0
#: What the NATS client raises when the broker or JetStream cannot answer.
BROKER_ERRORS = (nats.errors.Error, TimeoutError, ConnectionError)


@contextlib.contextmanager
def broker_call(what: str) -> Iterator[None]:
    """Turn a failed or unanswered broker call into :class:`BrokerUnavailable` (HTTP 503)."""
    try:
        yield
    except BrokerUnavailable:
        raise
    except BROKER_ERRORS as exc:
        raise BrokerUnavailable(
            f"{what}: the message broker did not answer ({type(exc).__name__}); "
            f"retry in {RETRY_AFTER_S} s (with the same id: a stored order is never stored twice)"
        ) from exc


class Submissions:
    """Submitting orders and adopting those whose create got no answer.

    Args:
        config: the fleet's configuration (areas, ``scheduler.max_pending``, ``fleet_id``).
        orders: the fleet's order index (an order in it is known).
        locks: the per-order locks of the fleet.
        dispatcher: its queues (how many orders wait for dispatch).
        admit: indexes a stored order the index does not know (and queues it if PENDING).
        connected: whether the broker connection is up now.
        started: whether the fleet runs (no adoption starts otherwise).
    """

    def __init__(
        self,
        config: FleetConfig,
        orders: OrderIndex,
        locks: OrderLocks,
        dispatcher: Dispatcher,
        *,
        admit: Callable[[Any], None],
        connected: Callable[[], bool],
        started: Callable[[], bool],
    ) -> None:
        self.config = config
        self.orders = orders
        self._locks = locks
        self._dispatcher = dispatcher
        self._admit = admit
        self._connected = connected
        self._started = started
        #: the order store (set when the fleet starts)
        self.store: OrderStore | None = None
        #: order id -> the task looking for it in the store
        self.adopting: dict[str, asyncio.Task[None]] = {}

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

        Raises :class:`SubmitError` for a submission :func:`check_submission` refuses or a
        full queue, and :class:`BrokerUnavailable` when the store cannot be written or did not
        answer: the order may or may not be stored, and a retry with the same id tells which.
        """
        check_submission(
            area_id=area_id,
            areas=self.config.areas,
            priority=priority,
            order_id=order_id,
            task=task,
            target=target,
        )
        if order_id:
            existing = self.orders.get(order_id)
            if existing is not None:
                return existing, False
        else:
            order_id = f"wo-{uuid.uuid4().hex[:12]}"
        pending = sum(len(a.queued) for a in self._dispatcher.areas.values())
        if pending >= self.config.scheduler.max_pending:
            raise SubmitError(f"{pending} orders are waiting for dispatch; try again later", retry=True)
        if not self._connected():
            raise BrokerUnavailable(
                f"work order {order_id} not stored: the fleet has no connection to the message broker; "
                f"retry in {RETRY_AFTER_S} s"
            )
        order = new_order(
            order_id=order_id,
            area_id=area_id,
            task=task,
            priority=priority,
            target=target,
            by=self.config.fleet_id,
        )
        assert self.store is not None
        async with self._locks.hold(order_id):  # this id only: nothing else waits here
            try:
                with broker_call(f"work order {order_id} may not be stored"):
                    stored, created = await self.store.create(order)
            except BrokerUnavailable:
                self.adopt_later(order_id)  # it may be stored: queue it once the store says so
                raise
            if created or stored.id not in self.orders:
                self._admit(stored)
        return self.orders[stored.id], created

    def adopt_later(self, order_id: str) -> None:
        """Look for ``order_id`` in the store until found or :data:`ADOPT_FOR_S` pass.

        A create the broker did not answer may have been stored: without this, such an order
        would wait in the store, never dispatched, until its client retried or the fleet restarted.
        """
        if order_id in self.adopting or not self._started():
            return
        task = asyncio.create_task(self._adopt(order_id), name=f"adopt {order_id}")
        self.adopting[order_id] = task
        task.add_done_callback(lambda _: self.adopting.pop(order_id, None))

    async def _adopt(self, order_id: str) -> None:
        assert self.store is not None
        deadline = time.monotonic() + ADOPT_FOR_S
        pause = 0.5
        # a request that timed out may still sit in the client's buffer, sent at reconnection:
        # "not found" is no proof, so it keeps looking (less and less often) until the deadline
        while time.monotonic() < deadline and order_id not in self.orders:
            found = None
            if self._connected():
                with contextlib.suppress(*BROKER_ERRORS):
                    found = await self.store.get(order_id)
            if found is not None:
                async with self._locks.hold(order_id):
                    if order_id not in self.orders:
                        self._admit(found[0])
                        log.info("work order %r adopted: its store write was answered late", order_id)
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)
