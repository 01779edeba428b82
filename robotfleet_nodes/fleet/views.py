"""What the fleet shows: the zone/area/robot/fleet views and the SSE ``robots`` row deltas.

Plain functions of the latest summaries and robot tables (no I/O);
:class:`~robotfleet_nodes.fleet.service.FleetService` keeps those messages and serves these
views behind the HTTP API (``/api/zones``, ``/api/areas``, ``/api/robots``, ``/api/fleet``).
:class:`SentRows` keeps the robot rows of one zone as the event stream last sent them, so
each new ``RobotTable`` becomes one ``robots`` event with the changed rows only.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping
from typing import Any

from robotfleet_nodes.fleet.scheduler import AreaState
from robotfleet_nodes.msg import FleetSummary, WorkOrder
from robotfleet_nodes.web import Broadcaster, ServerSentEvent

__all__ = [
    "DEFAULT_KIND",
    "ROBOT_STATE_NAMES",
    "ZONE_CONNECTED",
    "ZONE_DISCONNECTED",
    "RobotEvents",
    "SentRows",
    "areas_view",
    "fleet_summary",
    "fleet_view",
    "kind_counts",
    "natural_key",
    "robot_state_names",
    "robots_view",
    "silent_zones",
    "table_kinds",
    "table_rows",
    "zones_view",
]


#: RobotStatus.STATE_* as the API names them (RobotTable.states carries the numbers).
ROBOT_STATE_NAMES: dict[int, str] = {}


def robot_state_names() -> dict[int, str]:
    """RobotStatus.STATE_* value -> name (read from the message class once)."""
    if not ROBOT_STATE_NAMES:
        from robotfleet_nodes.msg import RobotStatus

        for name in ("IDLE", "EXECUTING", "CHARGING", "ERROR", "OFFLINE"):
            value = getattr(RobotStatus, f"STATE_{name}", None)
            if value is not None:
                ROBOT_STATE_NAMES[int(value)] = name
    return ROBOT_STATE_NAMES


def silent_zones(summaries: Iterable[Any]) -> set[str]:
    """The zones that the areas' latest ``AreaSummary`` messages (None: none yet) call silent."""
    silent: set[str] = set()
    for summary in summaries:
        if summary is not None:
            silent.update(summary.silent_zones)
    return silent


#: ``state`` of a zone in ``/api/zones``: its summaries arrive / its area calls it silent.
ZONE_CONNECTED = "CONNECTED"
ZONE_DISCONNECTED = "DISCONNECTED"


def zones_view(
    zones: Mapping[str, Any],
    zone_area: Mapping[str, str],
    area_id: str | None = None,
    *,
    silent: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The ``/api/zones`` body: zone id -> latest ``ZoneSummary``, zone id -> area id seen;
    a zone in ``silent`` (no summary for the area's ``zone_silence_timeout_s``) is
    ``DISCONNECTED`` and shows its last summary."""
    out = []
    for zone_id in sorted(zones, key=natural_key):
        z = zones[zone_id]
        zone_area_id = z.area_id or zone_area.get(zone_id, "")
        if area_id is not None and zone_area_id != area_id:
            continue
        out.append(
            {
                "id": zone_id,
                "area_id": zone_area_id,
                "robots": int(z.robots_total),
                "robots_online": int(z.robots_online),
                "idle": int(z.robots_idle),
                "busy": int(z.robots_busy),
                "charging": int(z.robots_charging),
                "error": int(z.robots_error),
                "queued": int(z.orders_queued),
                "active": int(z.orders_active),
                "battery_mean": round(float(z.battery_mean_percent), 2),
                "state": ZONE_DISCONNECTED if zone_id in silent else ZONE_CONNECTED,
            }
        )
    return out


def areas_view(summaries: Mapping[str, Any], zone_area: Mapping[str, str]) -> list[dict[str, Any]]:
    """The ``/api/areas`` body: area id -> latest ``AreaSummary`` (None: not reported yet)."""
    out = []
    for area_id, s in summaries.items():
        zone_ids = sorted(
            {z for z, a in zone_area.items() if a == area_id}
            | ({z.zone_id for z in s.zones} | set(s.silent_zones) if s is not None else set()),
            key=natural_key,
        )
        out.append(
            {
                "id": area_id,
                "zones": zone_ids,
                "robots": int(s.robots_total) if s is not None else 0,
                "robots_online": int(s.robots_online) if s is not None else 0,
                "capacity": int(s.capacity) if s is not None else 0,
                "silent_zones": list(s.silent_zones) if s is not None else [],
            }
        )
    return out


def robots_view(
    tables: Mapping[str, Any],
    *,
    zone_id: str | None = None,
    state: str | None = None,
    stale_zones: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The ``/api/robots`` body: zone id -> latest ``RobotTable``; the robots of a zone in
    ``stale_zones`` (DISCONNECTED) keep their last known state with ``stale: true``."""
    names = robot_state_names()
    out: list[dict[str, Any]] = []
    if zone_id is None:
        selected = [tables[z] for z in sorted(tables, key=natural_key)]
    else:
        selected = [tables[zone_id]] if zone_id in tables else []
    for table in selected:
        stale = table.zone_id in stale_zones
        out.extend({**row, "stale": stale} for row in table_rows(table, names, state))
    return out


def fleet_view(
    *,
    areas: int,
    zones: Collection[Any],
    silent: Collection[str],
    work_orders: dict[str, int],
    kinds: Iterable[Mapping[str, int]] = (),
) -> dict[str, Any]:
    """The ``/api/fleet`` body: the latest ``ZoneSummary`` messages, the silent zone ids, and
    the robots per kind of each zone's latest ``RobotTable`` (:func:`kind_counts`)."""
    robot_kinds: dict[str, int] = {}
    for counts in kinds:
        for kind, count in counts.items():
            robot_kinds[kind] = robot_kinds.get(kind, 0) + count
    return {
        "areas": areas,
        "zones": len(zones),
        "robots": sum(int(z.robots_total) for z in zones),
        "robots_online": sum(int(z.robots_online) for z in zones if z.zone_id not in silent),
        "robot_kinds": dict(sorted(robot_kinds.items())),
        "work_orders": work_orders,
    }


def fleet_summary(
    fleet_id: str,
    areas: Mapping[str, AreaState],
    counts: Mapping[int, int],
    *,
    now: float,
    silence_timeout_s: float,
    stamp: Any,
) -> Any:
    """The ``FleetSummary`` message: order ``counts`` by state, the areas' latest summaries
    (an area silent longer than ``silence_timeout_s`` at ``now`` is listed as silent)."""
    summaries = [a.summary for a in areas.values() if a.summary is not None]
    return FleetSummary(
        fleet_id=fleet_id,
        stamp=stamp,
        robots_total=sum(int(s.robots_total) for s in summaries),
        robots_online=sum(int(s.robots_online) for s in summaries),
        orders_pending=counts.get(WorkOrder.STATE_PENDING, 0),
        orders_active=sum(
            counts.get(s, 0)
            for s in (WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING)
        ),
        orders_completed=counts.get(WorkOrder.STATE_COMPLETED, 0),
        orders_failed=counts.get(WorkOrder.STATE_FAILED, 0),
        orders_cancelled=counts.get(WorkOrder.STATE_CANCELLED, 0),
        silent_areas=[a for a, s in areas.items() if now - s.seen > silence_timeout_s],
        areas=summaries,
    )


def _at(values: Any, index: int, default: Any) -> Any:
    return values[index] if index < len(values) else default


_TABLE_COLUMNS = ("states", "x", "y", "theta", "battery_percent", "current_order_ids", "order_progress")


def table_rows(table: Any, names: dict[int, str], state: str | None) -> list[dict[str, Any]]:
    """The ``/api/robots`` rows of one zone's ``RobotTable`` (robots in ``state`` only, if given)."""
    zone_id = table.zone_id
    return [
        _row_dict(robot_id, zone_id, values)
        for robot_id, values in _row_values(table, names)
        if state is None or values[0] == state
    ]


_RowValues = tuple[str, float, float, float, float, str, float, str]

#: A robot's kind when its zone's ``RobotTable.kinds`` is empty or says ``""``.
DEFAULT_KIND = "sim"


def _row_values(table: Any, names: dict[int, str]) -> Iterator[tuple[str, _RowValues]]:
    """``(robot id, (state, x, y, theta, battery, order id, progress, kind))`` per robot,
    rounded like the ``/api/robots`` rows (so a change below that precision is no change)."""
    ids = table.robot_ids
    n = len(ids)
    columns = [getattr(table, name) for name in _TABLE_COLUMNS]
    if any(len(column) < n for column in columns):  # a short column: pad it (defaults)
        defaults = (0, 0.0, 0.0, 0.0, 0.0, "", 0.0)
        columns = [[_at(c, i, d) for i in range(n)] for c, d in zip(columns, defaults, strict=True)]
    kinds = table_kinds(table)
    for robot_id, robot_state, x, y, theta, battery, order_id, progress, kind in zip(
        ids, *columns, kinds, strict=False
    ):
        yield (
            robot_id,
            (
                names.get(int(robot_state), "OFFLINE"),
                round(x, 3),
                round(y, 3),
                round(theta, 4),
                round(battery, 2),
                order_id,
                round(progress, 3),
                kind,
            ),
        )


def table_kinds(table: Any) -> list[str]:
    """The kind of each robot of a ``RobotTable`` (``kinds`` empty or ``""``: ``sim``)."""
    n = len(table.robot_ids)
    kinds = getattr(table, "kinds", None) or ()
    if not kinds:
        return [DEFAULT_KIND] * n
    return [(kinds[i] or DEFAULT_KIND) if i < len(kinds) else DEFAULT_KIND for i in range(n)]


def kind_counts(table: Any) -> dict[str, int]:
    """How many robots of each kind a ``RobotTable`` lists (no per-robot work when all are ``sim``)."""
    if not getattr(table, "kinds", None):
        return {DEFAULT_KIND: len(table.robot_ids)} if table.robot_ids else {}
    counts: dict[str, int] = {}
    for kind in table_kinds(table):
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _row_dict(robot_id: str, zone_id: str, values: _RowValues) -> dict[str, Any]:
    state, x, y, theta, battery, order_id, progress, kind = values
    return {
        "id": robot_id,
        "zone_id": zone_id,
        "kind": kind,
        "x": x,
        "y": y,
        "theta": theta,
        "battery": battery,
        "state": state,
        "order_id": order_id,
        "progress": progress,
    }


class SentRows:
    """The robot rows of one zone as the event stream last sent them, each encoded once.

    :meth:`update` takes the zone's next ``RobotTable`` and returns only what changed (rows
    compared as tuples of their rounded values; only changed rows are encoded again).
    """

    __slots__ = ("prefix", "rows", "table", "zone_id")

    def __init__(self, zone_id: str) -> None:
        self.table: Any = None
        self.rows: dict[str, tuple[_RowValues, str]] = {}  # robot id -> (values, JSON row)
        self.zone_id = zone_id
        self.prefix = '{"zone_id":' + json.dumps(zone_id, ensure_ascii=False) + ","

    def update(self, table: Any, names: dict[int, str]) -> tuple[list[str], list[str]]:
        """Take ``table``; the JSON rows that changed or appeared, and the ids that left."""
        old = self.rows
        new: dict[str, tuple[_RowValues, str]] = {}
        changed: list[str] = []
        zone_id = self.zone_id
        for robot_id, values in _row_values(table, names):
            known = old.get(robot_id)
            if known is not None and known[0] == values:
                new[robot_id] = known
                continue
            row = json.dumps(_row_dict(robot_id, zone_id, values), separators=(",", ":"), ensure_ascii=False)
            new[robot_id] = (values, row)
            changed.append(row)
        removed = [robot_id for robot_id in old if robot_id not in new]
        self.rows = new
        self.table = table
        return changed, removed

    def full_event(self) -> ServerSentEvent:
        """``robots`` with every row of the zone (``full: true``)."""
        rows = ",".join(row for _, row in self.rows.values())
        return ServerSentEvent(f'{self.prefix}"full":true,"robots":[{rows}]}}', event="robots")

    def delta_event(self, changed: list[str], removed: list[str]) -> ServerSentEvent:
        """``robots`` with the changed rows and the removed ids only (``full: false``)."""
        gone = json.dumps(removed, separators=(",", ":"), ensure_ascii=False)
        body = f'{self.prefix}"full":false,"robots":[{",".join(changed)}],"removed":{gone}}}'
        return ServerSentEvent(body, event="robots")


def natural_key(name: str) -> tuple[Hashable, ...]:
    """Sort ``zone-2`` before ``zone-10``."""
    head, _, tail = name.rpartition("-")
    return (head, int(tail), "") if tail.isdigit() else (name, -1, name)


class RobotEvents:
    """The ``robots`` events of the SSE stream: per zone, the rows last sent, then deltas.

    The change set of a new ``RobotTable`` is computed and encoded once here, not once per
    watching dashboard; nothing is built while nobody watches.
    """

    def __init__(self, events: Broadcaster[ServerSentEvent]) -> None:
        self._events = events
        self._sent: dict[str, SentRows] = {}  # zone id -> rows the event stream sent last

    def publish(self, table: Any) -> None:
        """Publish what ``table`` (a zone's new ``RobotTable``) changed, if anybody watches."""
        zone_id = table.zone_id
        if not self._events.subscriber_count:  # nobody watches: build no rows (10000 robots/s)
            return
        sent = self._sent.get(zone_id)
        if sent is None:  # the first table of this zone on the stream: the whole zone
            sent = self._sent[zone_id] = SentRows(zone_id)
            sent.update(table, robot_state_names())
            self._events.publish(sent.full_event(), key=("robots", zone_id))
            return
        changed, removed = sent.update(table, robot_state_names())
        if not changed and not removed:
            return
        full: list[ServerSentEvent] = []

        def merge(queued: ServerSentEvent, delta: ServerSentEvent) -> ServerSentEvent:
            # Still queued for a slow client: both together are the zone as it is now.
            if not full:
                full.append(sent.full_event())
            return full[0]

        self._events.publish(sent.delta_event(changed, removed), key=("robots", zone_id), merge=merge)

    def snapshot(self, tables: Mapping[str, Any]) -> list[ServerSentEvent]:
        """A full ``robots`` event per zone of ``tables`` (zone id -> latest ``RobotTable``)."""
        events: list[ServerSentEvent] = []
        names = robot_state_names()
        for zone_id in sorted(tables, key=natural_key):
            table = tables[zone_id]
            sent = self._sent.get(zone_id)
            if sent is None or sent.table is not table:  # built while nobody watched: catch up
                sent = self._sent[zone_id] = SentRows(zone_id)
                sent.update(table, names)
            events.append(sent.full_event())
        return events
