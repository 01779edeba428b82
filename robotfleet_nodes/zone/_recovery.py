"""A restarted zone takes its orders back from the order bucket: :func:`recover_orders`.

Every order the bucket names this zone for and that is still live (DISPATCHED, ASSIGNED or
EXECUTING) is adopted, oldest first. A DISPATCHED one, or one whose robot is unknown or
already given another order, is queued again. The others stay with their robot, marked
``recovering``: its status adopts them, or once the recovery window ends its journal is
asked (:meth:`~robotfleet_nodes.zone._executions.Executions.check_orders`) before any
moves (docs/fleet.md, "Leases"). :class:`~robotfleet_nodes.zone.node.ZoneNode` calls it
once at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from nats import errors as nats_errors

from robotfleet_nodes.fleet.protocol import OrderStore
from robotfleet_nodes.msg import WorkOrder
from robotfleet_nodes.zone._executions import Executions
from robotfleet_nodes.zone._slots import OrderSlot

__all__ = ["open_store", "recover_orders"]

log = logging.getLogger(__name__)

#: Longest pause between two tries to reach the hub's order bucket from a site [s].
MAX_HUB_RETRY_S = 2.0

_LIVE_STATES = (WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING)


async def open_store(store: OrderStore, zone_id: str, *, at_site: bool) -> None:
    """Open the order bucket; a zone at an edge site waits until the hub answers.

    The bucket lives in the hub's JetStream domain: a site zone that (re)starts while its
    uplink is cut takes no order until the link is back (its robots' leases lapse meanwhile,
    so they pause; nothing runs twice), as docs/fleet.md "Edge sites" says.
    """
    if not at_site:
        await store.ensure()
        return
    delay = 0.25
    while True:
        try:
            await store.ensure(create=False)
            return
        except (nats_errors.NoRespondersError, nats_errors.TimeoutError, TimeoutError) as exc:
            log.warning("%s: the hub's order bucket does not answer (%s): is the uplink up?", zone_id, exc)
        await asyncio.sleep(delay)
        delay = min(MAX_HUB_RETRY_S, delay * 2)


async def recover_orders(store: OrderStore, executions: Executions, *, seq: Iterator[int]) -> None:
    """Adopt this zone's live orders from ``store`` into ``executions`` (see the module doc).

    ``seq`` numbers the adopted orders (FIFO within a priority). A bucket that cannot be
    read is logged and the zone starts empty.
    """
    ex = executions
    try:
        stored = await store.load_all()
    except Exception:
        log.exception("%s: could not read the order bucket; starting empty", ex.zone_id)
        return
    adopted = 0
    for wo in sorted(stored, key=lambda o: (o.created.sec, o.created.nanosec)):
        if wo.zone_id != ex.zone_id or wo.state not in _LIVE_STATES or wo.id in ex.orders:
            continue
        order = OrderSlot(order=wo, seq=next(seq), attempt=int(wo.attempts), state=int(wo.state))
        ex.orders[wo.id] = order
        adopted += 1
        robot = ex.robots.get(wo.robot_id)
        if wo.state == WorkOrder.STATE_DISPATCHED or robot is None or robot.order_id:
            ex.requeue(order)
            continue
        order.robot_id = robot.robot_id
        order.offered = order.attempt
        order.assigned_sent = True
        order.executing_sent = wo.state == WorkOrder.STATE_EXECUTING
        order.recovering = True
        robot.order_id = wo.id
    if adopted:
        ex.log.info("%s: re-adopted %d orders from the store", ex.zone_id, adopted)
