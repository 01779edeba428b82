"""Orders as the fleet keeps and shows them: the in-memory index, JSON form, submit/cancel results.

:class:`OrderIndex` holds every order the fleet knows (final ones serialised),
:class:`OrderLocks` serialises the changes of one order; :func:`check_submission` and
:func:`new_order` check and build a submission;
:func:`order_json` is an order as the HTTP API shows it; :class:`SubmitError` and
:class:`CancelResult` are what :meth:`FleetService.submit
<robotfleet_nodes.fleet.service.FleetService.submit>` raises and
:meth:`~robotfleet_nodes.fleet.service.FleetService.cancel` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections import Counter
from collections.abc import AsyncIterator, Collection, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.fleet.protocol import FINAL_STATES, ORDER_ID_RE, STATE_NAMES, now_stamp
from robotfleet_nodes.msg import WorkOrder, WorkOrderEvent

__all__ = [
    "MAX_COORDINATE",
    "TASK_RE",
    "CancelResult",
    "OrderIndex",
    "OrderLocks",
    "SubmitError",
    "check_submission",
    "finite_target",
    "new_order",
    "order_json",
    "stamp_iso",
    "stamp_seconds",
]


#: Task names: what a driver can be asked to do (and safe in any log line or subject).
TASK_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
#: Target coordinates [m] are finite and at most this far from the map's origin on each axis.
MAX_COORDINATE = 1e6


def finite_target(order: Any) -> dict[str, float] | None:
    """``{"x", "y"}`` of an order's target, or None without one or when a coordinate is not finite.

    Orders stored before targets were checked may hold NaN or infinity, which JSON cannot
    carry: they are shown without a target rather than breaking every client's parser.
    """
    if not order.has_target:
        return None
    x, y = float(order.target_x), float(order.target_y)
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    return {"x": x, "y": y}


def stamp_iso(stamp: Any) -> str | None:
    """A ``builtin_interfaces/Time`` as ISO 8601 UTC (``None`` for the zero time)."""
    if stamp is None or (stamp.sec == 0 and stamp.nanosec == 0):
        return None
    moment = datetime.fromtimestamp(stamp.sec + stamp.nanosec / 1e9, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stamp_seconds(stamp: Any) -> float:
    """A ``builtin_interfaces/Time`` in seconds."""
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
        "target": finite_target(order),
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


def check_submission(
    *,
    area_id: str,
    areas: Collection[str],
    priority: int,
    order_id: str,
    task: str,
    target: tuple[float, float] | None,
) -> None:
    """Raise :class:`SubmitError` unless a submission is one the fleet may hand to a robot.

    The rules (docs/fleet.md, "HTTP API"), shared by ``POST /api/work-orders`` and the
    ``/fleet/submit`` service: ``area_id`` is one of ``areas``; ``priority`` is 0..9;
    ``order_id`` is empty or matches :data:`~robotfleet_nodes.fleet.protocol.ORDER_ID_RE`;
    ``task`` matches :data:`TASK_RE`; each target coordinate is a finite number with
    ``|value| <= MAX_COORDINATE`` (NaN, infinities and integers too large for a float are not).
    """
    if area_id not in areas:
        raise SubmitError(
            f"unknown area {area_id!r}; this fleet dispatches to {', '.join(areas)}",
            "area_id",
        )
    if not 0 <= priority <= 9:
        raise SubmitError(f"priority must be 0..9, got {priority}", "priority")
    if order_id and not ORDER_ID_RE.fullmatch(order_id):
        raise SubmitError(
            f"{order_id!r} is not a valid order id (letters, digits, '_', '-'; at most 128)", "id"
        )
    if not TASK_RE.fullmatch(task):
        raise SubmitError(
            f"{task[:80]!r} is not a valid task: it must match {TASK_RE.pattern} "
            "(a letter, then up to 63 letters, digits, '_', '.' or '-')",
            "task",
        )
    if target is not None:
        for axis, value in zip("xy", target, strict=True):
            # ``not <=`` also catches NaN; an int is compared exactly (no float overflow)
            if not abs(value) <= MAX_COORDINATE:
                shown = "an integer too large" if isinstance(value, int) else repr(value)
                raise SubmitError(
                    f"target.{axis} must be a finite number of metres within "
                    f"-{MAX_COORDINATE:g}..{MAX_COORDINATE:g}, got {shown}",
                    f"target.{axis}",
                )


def new_order(
    *, order_id: str, area_id: str, task: str, priority: int, target: tuple[float, float] | None, by: str
) -> Any:
    """A new PENDING ``WorkOrder``, created now by ``by``."""
    stamp = now_stamp()
    return WorkOrder(
        id=order_id,
        area_id=area_id,
        task=task,
        priority=priority,
        has_target=target is not None,
        target_x=float(target[0]) if target else 0.0,
        target_y=float(target[1]) if target else 0.0,
        state=WorkOrder.STATE_PENDING,
        created=stamp,
        updated=stamp,
        history=[WorkOrderEvent(state=WorkOrder.STATE_PENDING, stamp=stamp, by=by)],
    )


@dataclass(slots=True)
class CancelResult:
    """What :meth:`FleetService.cancel` did: ``order`` is None for an unknown id."""

    accepted: bool
    order: Any = None
    error: str = ""
    final: bool = False  # refused because the order is COMPLETED or FAILED


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
            self._final_meta[order_id] = (int(order.state), str(order.area_id), stamp_seconds(order.created))
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
            (stamp_seconds(o.created), o.id)
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


class OrderLocks:
    """One ``asyncio.Lock`` per order id, dropped once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, order_id: str) -> AsyncIterator[None]:
        """Serialise the changes of one order (others go on concurrently); FIFO."""
        lock = self._locks.get(order_id)
        if lock is None:
            lock = self._locks[order_id] = asyncio.Lock()
        self._users[order_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[order_id] -= 1
            if self._users[order_id] <= 0:
                del self._users[order_id]
                del self._locks[order_id]
