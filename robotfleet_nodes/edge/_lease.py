"""The edges' side of execution leases: one ``LeaseRenewal`` listener per context and zone.

A zone publishes one ``LeaseRenewal`` per renew period on ``/zones/<zone_id>/leases`` for
all its robots. The edges of one context (a container may hold thousands) that report to
that zone share one subscription (:class:`_LeaseListener`, on a small node of its own):
each message is decoded once and its entries are handed to the edges they name, by robot id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any, Protocol

from robotfleet_nodes.fleet.protocol import zone_name
from robotfleet_nodes.msg import LeaseRenewal
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.qos import QoSProfile, Reliability

__all__ = ["LEASE_QOS", "LeaseHolder", "join", "leave"]

log = logging.getLogger(__name__)

#: QoS of the lease subscription (best effort: it matches reliable publishers too; a lost
#: renewal is covered by the next one).
LEASE_QOS = QoSProfile(depth=10, reliability=Reliability.BEST_EFFORT)


class LeaseHolder(Protocol):
    """What the listener calls on an edge (all on the event loop, ``now`` monotonic)."""

    def on_lease_renewed(
        self, order_id: str, attempt: int, *, status_seq: int, lease_s: float, granter: str, now: float
    ) -> None: ...

    def on_lease_revoked(self, order_id: str, attempt: int, granter: str, now: float) -> None: ...


class _LeaseListener:
    """The subscription of one context to one zone's renewals, shared by its edges."""

    def __init__(self, context: Context, zone_id: str) -> None:
        self.context = context
        self.zone_id = zone_id
        self.holders: dict[str, LeaseHolder] = {}
        self._node: Node | None = None
        self._ready: asyncio.Task[None] | None = None

    async def add(self, robot_id: str, holder: LeaseHolder) -> None:
        self.holders[robot_id] = holder
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._subscribe())
        await asyncio.shield(self._ready)

    async def remove(self, robot_id: str) -> None:
        self.holders.pop(robot_id, None)
        if self.holders:
            return
        ready, self._ready = self._ready, None
        node, self._node = self._node, None
        if ready is not None and not ready.done():
            ready.cancel()
            await asyncio.gather(ready, return_exceptions=True)
            node, self._node = self._node, None
        if node is not None:
            await node.destroy_node()

    async def _subscribe(self) -> None:
        node = Node(
            "edge_leases",
            context=self.context,
            namespace=zone_name(self.zone_id),
            start_parameter_services=False,
            start_parameter_event_publisher=False,
        )
        await node.start()
        self._node = node
        await node.create_subscription(
            LeaseRenewal, zone_name(self.zone_id, "leases"), self._on_message, LEASE_QOS
        )

    def _on_message(self, msg: Any) -> None:
        now = time.monotonic()
        holders = self.holders
        granter = str(msg.granter)
        lease_s = float(msg.lease_s)
        order_ids, attempts, seqs = msg.order_ids, msg.attempts, msg.status_seqs
        n = min(len(msg.holders), len(order_ids), len(attempts), len(seqs))
        if n < len(msg.holders):
            log.warning(
                "%s: lease renewal %d has lists of different lengths; extra holders ignored",
                self.zone_id,
                msg.seq,
            )
        for i in range(n):
            holder = holders.get(msg.holders[i])
            if holder is not None:
                try:
                    holder.on_lease_renewed(
                        order_ids[i],
                        int(attempts[i]),
                        status_seq=int(seqs[i]),
                        lease_s=lease_s,
                        granter=granter,
                        now=now,
                    )
                except Exception:
                    log.exception("%r: handling a lease renewal failed", msg.holders[i])
        revoked = msg.revoked_holders
        r_orders, r_attempts = msg.revoked_order_ids, msg.revoked_attempts
        for i in range(min(len(revoked), len(r_orders), len(r_attempts))):
            holder = holders.get(revoked[i])
            if holder is not None:
                try:
                    holder.on_lease_revoked(r_orders[i], int(r_attempts[i]), granter, now)
                except Exception:
                    log.exception("%r: handling a lease revocation failed", revoked[i])


#: context -> zone id -> the listener of that context's edges of that zone.
_LISTENERS: weakref.WeakKeyDictionary[Context, dict[str, _LeaseListener]] = weakref.WeakKeyDictionary()


async def join(context: Context, zone_id: str, robot_id: str, holder: LeaseHolder) -> None:
    """Deliver ``zone_id``'s lease entries for ``robot_id`` to ``holder`` from now on."""
    listeners = _LISTENERS.setdefault(context, {})
    listener = listeners.get(zone_id)
    if listener is None:
        listener = listeners[zone_id] = _LeaseListener(context, zone_id)
    await listener.add(robot_id, holder)


async def leave(context: Context, zone_id: str, robot_id: str) -> None:
    """Stop delivering to ``robot_id``; the last edge to leave ends the subscription."""
    listeners = _LISTENERS.get(context)
    listener = listeners.get(zone_id) if listeners is not None else None
    if listener is None:
        return
    if not listener.holders.keys() - {robot_id} and listeners is not None:
        del listeners[zone_id]
    await listener.remove(robot_id)
