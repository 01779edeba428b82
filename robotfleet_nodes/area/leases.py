"""The area's lease rules: when a silent zone's orders may move, and what moving does (no I/O).

:class:`~robotfleet_nodes.area.node.AreaNode` grants every live zone its lease once per
summary period and remembers, per zone, the monotonic time ``granted`` of the last grant
that listed it (an area that just started counts its start: it never takes back early).
The rules (``docs/fleet.md``, "Leases"); nothing here awaits or reads a clock, ``now`` goes in:

- **Terms** (:meth:`LeaseTerms.of`): a zone's ``zone_lease_s``, ``robot_lease_s`` and
  ``lease_margin_s`` from its latest ``ZoneSummary``; ``LeaseConfig()``'s defaults when the
  zone never reported, or its summary carries no lease settings (``robot_lease_s`` 0, which
  no zone configuration allows: a zone from before leases).
- **When** (:func:`takeback_due`): at ``granted + zone_lease_s + robot_lease_s + margin``
  (the zone stopped renewing its robots by then and they paused or stopped), never when the
  zone's robots run to the end on a lost lease (``on_lease_loss`` FINISH).
- **What** (:func:`held_by`): every non-final order the store says the zone holds, in
  DISPATCHED, ASSIGNED or EXECUTING.
- **How** (:func:`take_back`): the order becomes DISPATCHED again with ``attempts + 1`` (the
  new fencing token), no zone and no robot, and a history event by the area; the same
  transition is the ``WorkOrderUpdate`` the area publishes.
- **Revocations** (:class:`Revocations`): each ``(zone, order, old attempt)`` taken back is
  listed in the area's grants for :data:`REVOCATION_KEEP_S`, at most
  :data:`REVOCATION_LIMIT` of them (the newest), so a zone that comes back drops the order.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from robotfleet_nodes.action import ExecuteTask
from robotfleet_nodes.config import LeaseConfig
from robotfleet_nodes.fleet.protocol import apply_update
from robotfleet_nodes.idl.standard import Time
from robotfleet_nodes.msg import WorkOrder, WorkOrderUpdate, ZoneSummary

__all__ = [
    "HELD_STATES",
    "REVOCATION_KEEP_S",
    "REVOCATION_LIMIT",
    "TAKEN_BACK_NOTE",
    "LeaseTerms",
    "Revocations",
    "held_by",
    "take_back",
    "takeback_due",
    "taken_back_from",
]

#: States in which a zone holds an order (queued, or on a robot).
HELD_STATES = frozenset({WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING})
#: How long a revocation is listed in the area's grants [s].
REVOCATION_KEEP_S = 600.0
#: Revocations listed at most (the oldest are dropped first).
REVOCATION_LIMIT = 10_000
#: The note of a take-back event; the zone's id follows, then why.
TAKEN_BACK_NOTE = "taken back from silent "
_TAKEN_BACK_RE = re.compile(re.escape(TAKEN_BACK_NOTE) + r"(\S+)")


@dataclass(frozen=True, slots=True)
class LeaseTerms:
    """A zone's lease settings as its area applies them."""

    zone_lease_s: float
    robot_lease_s: float
    margin_s: float
    finish: bool = False  # its robots run to the end without a lease: nothing ever moves

    @property
    def total_s(self) -> float:
        """How long after its last grant a zone's orders may move [s]."""
        return self.zone_lease_s + self.robot_lease_s + self.margin_s

    @classmethod
    def of(cls, summary: ZoneSummary | None) -> LeaseTerms:
        """The terms a zone announced in ``summary``; ``LeaseConfig()``'s when it announced none."""
        if summary is None or not summary.robot_lease_s > 0:
            defaults = LeaseConfig()
            return cls(
                defaults.zone_lease_s,
                defaults.robot_lease_s,
                defaults.margin_s,
                defaults.on_lease_loss == "finish",
            )
        return cls(
            float(summary.zone_lease_s),
            float(summary.robot_lease_s),
            float(summary.lease_margin_s),
            summary.on_lease_loss == ExecuteTask.Goal.LEASE_LOSS_FINISH,
        )


def takeback_due(granted: float, terms: LeaseTerms, now: float) -> bool:
    """True when a zone last granted at ``granted`` (monotonic) has lost its orders at ``now``."""
    return not terms.finish and now >= granted + terms.total_s


def held_by(order: WorkOrder, zone_id: str, area_id: str) -> bool:
    """True when the stored ``order`` says ``zone_id`` of ``area_id`` holds it."""
    return order.zone_id == zone_id and order.area_id == area_id and order.state in HELD_STATES


def take_back(
    order: WorkOrder, *, zone_id: str, by: str, why: str, stamp: Time
) -> tuple[WorkOrder, WorkOrderUpdate]:
    """``order`` taken back from the silent ``zone_id``: (the order to store, the event to publish).

    The stored order is DISPATCHED at ``attempts + 1`` with neither zone nor robot, and
    records the event in its history; ``why`` ends the note ("no grant for 27.0 s").
    """
    update = WorkOrderUpdate(
        order_id=order.id,
        attempt=int(order.attempts) + 1,
        state=WorkOrder.STATE_DISPATCHED,
        area_id=order.area_id,
        stamp=stamp,
        by=by,
        note=f"{TAKEN_BACK_NOTE}{zone_id} ({why})",
    )
    stored = apply_update(order, update).model_copy(update={"zone_id": "", "robot_id": ""})
    return stored, update


def taken_back_from(order: WorkOrder, area_id: str) -> str | None:
    """The zone ``area_id`` took ``order`` back from, while the order still waits for another.

    An order waits while it is DISPATCHED without a zone (or still naming the zone it was
    taken from) and the take-back is its latest event; ``None`` otherwise.
    """
    if order.state != WorkOrder.STATE_DISPATCHED or order.area_id != area_id or not order.history:
        return None
    last = order.history[-1]
    if last.by != area_id or last.state != WorkOrder.STATE_DISPATCHED:
        return None
    match = _TAKEN_BACK_RE.match(last.note)
    if match is None or order.zone_id not in ("", match.group(1)):
        return None
    return match.group(1)


class Revocations:
    """The orders taken back from zones, as the area's grants list them (bounded, newest kept)."""

    def __init__(self, *, keep_s: float = REVOCATION_KEEP_S, limit: int = REVOCATION_LIMIT) -> None:
        self.keep_s = keep_s
        self.limit = limit
        self._items: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, zone_id: str, order_id: str, attempt: int, now: float) -> None:
        """Remember that ``zone_id`` must drop ``order_id`` at ``attempt`` or older."""
        key = (zone_id, order_id)
        old = self._items.pop(key, None)
        self._items[key] = (max(attempt, old[0]) if old is not None else attempt, now)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def prune(self, now: float) -> None:
        """Forget revocations older than ``keep_s``."""
        while self._items:
            key, (_attempt, since) = next(iter(self._items.items()))
            if now - since < self.keep_s:
                break
            del self._items[key]

    def listed(self, now: float) -> tuple[list[str], list[str], list[int]]:
        """(zone ids, order ids, attempts) of the revocations still kept at ``now``."""
        self.prune(now)
        zones: list[str] = []
        orders: list[str] = []
        attempts: list[int] = []
        for (zone_id, order_id), (attempt, _since) in self._items.items():
            zones.append(zone_id)
            orders.append(order_id)
            attempts.append(attempt)
        return zones, orders, attempts
