"""What the fleet shows: area, zone and robot summaries in, the API's views and SSE out.

:class:`FleetViews` is a part of :class:`~robotfleet_nodes.fleet.service.FleetService` (a
mixin over its state): every instance, leader or standby, receives the areas' summaries and
the zones' summaries and robot tables through its :class:`ViewNode`, and builds the bodies
of ``/api/fleet``, ``/api/areas``, ``/api/zones``, ``/api/robots`` and the SSE snapshot with
the pure functions of :mod:`~robotfleet_nodes.fleet.views`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.fleet.orders import stamp_seconds
from robotfleet_nodes.fleet.protocol import now_stamp, zone_name
from robotfleet_nodes.fleet.views import (
    areas_view,
    fleet_summary,
    fleet_view,
    kind_counts,
    robots_view,
    silent_zones,
    zones_view,
)
from robotfleet_nodes.msg import RobotTable, ZoneSummary
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.web import ServerSentEvent

if TYPE_CHECKING:
    from robotfleet_nodes.config import FleetConfig
    from robotfleet_nodes.fleet._dispatcher import Dispatcher
    from robotfleet_nodes.fleet._metrics import FleetMetrics
    from robotfleet_nodes.fleet.service import FleetService
    from robotfleet_nodes.fleet.views import RobotEvents
    from robotfleet_nodes.web import Broadcaster

__all__ = ["FleetViews", "ViewNode"]


class FleetViews:
    """Summaries in, views out (the module docstring); mixed into ``FleetService``."""

    if TYPE_CHECKING:  # the service's state these methods use
        config: FleetConfig
        events: Broadcaster[ServerSentEvent]
        m_in: Any
        _metrics: FleetMetrics
        _dispatcher: Dispatcher
        _zones: dict[str, Any]
        _zone_area: dict[str, str]
        _robots: dict[str, Any]
        _robot_events: RobotEvents
        _subscribed_zones: set[str]
        _view: Node | None

        def counts(self) -> dict[str, int]: ...

        def role_json(self) -> dict[str, Any]: ...

    # -- summaries ----------------------------------------------------------------------
    async def _on_area_summary(self, msg: Any) -> None:
        self.m_in.labels("area_summary").inc()
        area = self._dispatcher.areas.get(msg.area_id)
        if area is None:
            return
        area.note_summary(msg, time.monotonic())
        for zone in msg.zones:
            self._note_zone(zone)
        for zone_id in [*(z.zone_id for z in msg.zones), *msg.silent_zones]:
            self._zone_area.setdefault(zone_id, msg.area_id)
            if zone_id not in self._subscribed_zones and self._view is not None:
                self._subscribed_zones.add(zone_id)
                await self._view.create_subscription(
                    ZoneSummary, zone_name(zone_id, "summary"), self._on_zone_summary, 10
                )
                await self._view.create_subscription(
                    RobotTable, zone_name(zone_id, "robots"), self._on_robot_table, 10
                )
        if area.queue:
            self._dispatcher.wake.set()

    def _note_zone(self, summary: Any) -> None:
        known = self._zones.get(summary.zone_id)
        if known is None or stamp_seconds(summary.stamp) >= stamp_seconds(known.stamp):
            self._zones[summary.zone_id] = summary

    def _on_zone_summary(self, msg: Any) -> None:
        self.m_in.labels("zone_summary").inc()
        self._note_zone(msg)

    def _on_robot_table(self, msg: Any) -> None:
        self.m_in.labels("robot_table").inc()
        zone_id = msg.zone_id
        self._robots[zone_id] = msg
        self._robot_events.publish(msg)

    def snapshot_events(self) -> list[ServerSentEvent]:
        """What a new ``/api/events`` stream starts with: ``fleet``, ``zones`` and, per zone, a
        full ``robots`` event (the rows the deltas that follow are relative to)."""
        events = [ServerSentEvent(self.fleet(), event="fleet"), ServerSentEvent(self.zones(), event="zones")]
        return [*events, *self._robot_events.snapshot(self._robots)]

    # -- views (built by fleet/views.py) -------------------------------------------------------
    def zones(self, area_id: str | None = None) -> list[dict[str, Any]]:
        """The ``/api/zones`` body."""
        return zones_view(self._zones, self._zone_area, area_id, silent=self._silent_zones())

    def _silent_zones(self) -> set[str]:
        """Zones the areas' latest summaries call silent (shown DISCONNECTED)."""
        return silent_zones(a.summary for a in self._dispatcher.areas.values())

    def areas(self) -> list[dict[str, Any]]:
        """The ``/api/areas`` body (configured areas, reported or not)."""
        return areas_view({a: area.summary for a, area in self._dispatcher.areas.items()}, self._zone_area)

    def robots(self, *, zone_id: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """The ``/api/robots`` body."""
        return robots_view(self._robots, zone_id=zone_id, state=state, stale_zones=self._silent_zones())

    def robot_known(self, robot_id: str) -> bool:
        """Whether a zone's latest robot table lists ``robot_id``."""
        return any(robot_id in table.robot_ids for table in self._robots.values())

    def fleet(self) -> dict[str, Any]:
        """The ``/api/fleet`` body."""
        view = fleet_view(
            areas=len(self._dispatcher.areas),
            zones=list(self._zones.values()),
            silent=silent_zones(a.summary for a in self._dispatcher.areas.values()),
            work_orders=self.counts(),
            kinds=(kind_counts(table) for table in self._robots.values()),
        )
        return {**view, **self.role_json()}

    def fleet_summary(self) -> Any:
        """The ``FleetSummary`` message published at 1 Hz."""
        return fleet_summary(
            self.config.fleet_id,
            self._dispatcher.areas,
            self._metrics.counts,
            now=time.monotonic(),
            silence_timeout_s=self.config.scheduler.area_silence_timeout_s,
            stamp=now_stamp(),
        )

    def tick(self) -> None:
        """Once per summary period: refresh gauges, push ``fleet`` and ``zones`` SSE events."""
        fleet = self.fleet()
        self._metrics.m_robots.set(fleet["robots"])
        self._metrics.m_robots_online.set(fleet["robots_online"])
        self.events.publish(ServerSentEvent(fleet, event="fleet"), key="fleet")
        self.events.publish(ServerSentEvent(self.zones(), event="zones"), key="zones")


class ViewNode(Node):
    """``/fleet/view_<instance>``: the summaries every instance receives (leader or standby),
    and the SSE ``fleet``/``zones`` tick of a standby (the leader's FleetNode ticks)."""

    def __init__(self, service: FleetService, *, context: Context, **options: Any) -> None:
        name = "view_" + service.instance.replace("-", "_")
        super().__init__(name, context=context, namespace="/fleet", **options)
        self.service = service

    async def on_start(self) -> None:
        """The standby's tick."""
        self.create_timer(self.service.config.summary_period_s, self._tick)

    def _tick(self) -> None:
        if self.service.role == "standby":
            self.service.tick()
