"""What a zone reports upward: its ``ZoneSummary`` and its ``RobotTable`` (struct of arrays).

Pure functions of the zone's robots (``robot_id``, ``status``, ``online`` of each) and counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from robotfleet_nodes.action import ExecuteTask
from robotfleet_nodes.config import ZoneConfig
from robotfleet_nodes.fleet.protocol import now_stamp
from robotfleet_nodes.zone._leases import zone_lease_hold_s

__all__ = ["DEFAULT_KIND", "LEASE_LOSS", "robot_kinds", "robot_table", "zone_summary"]

#: The kind a robot has when it says none (``RobotStatus.kind`` empty, or no status yet).
DEFAULT_KIND = "sim"

_IDLE, _EXECUTING, _CHARGING, _ERROR, _OFFLINE = range(5)

#: ``leases.on_lease_loss`` -> ``ExecuteTask.Goal.LEASE_LOSS_*``.
LEASE_LOSS: dict[str, int] = {
    "pause": ExecuteTask.Goal.LEASE_LOSS_PAUSE,
    "stop": ExecuteTask.Goal.LEASE_LOSS_STOP,
    "finish": ExecuteTask.Goal.LEASE_LOSS_FINISH,
}

_COLUMNS = (
    "x", "y", "theta", "battery_percent", "states", "operating_modes",
    "current_order_ids", "order_progress", "error_counts",
)  # fmt: skip


def zone_summary(
    summary_cls: Any,
    config: ZoneConfig,
    robots: Sequence[Any],
    *,
    queued: int,
    active: int,
    capacity: int,
) -> Any:
    """The zone's ``ZoneSummary`` now (counts over online robots, the lease settings)."""
    counts = [0, 0, 0, 0]
    batteries: list[float] = []
    online = 0
    for robot in robots:
        if not robot.online or robot.status is None or robot.status.state == _OFFLINE:
            continue  # a robot reporting state OFFLINE (a dropped VDA 5050 vehicle) is not online
        online += 1
        batteries.append(float(robot.status.battery_percent))
        if robot.status.state < len(counts):
            counts[robot.status.state] += 1
    leases = config.leases
    return summary_cls(
        zone_id=config.zone_id,
        area_id=config.area_id,
        stamp=now_stamp(),
        robots_total=len(robots),
        robots_online=online,
        robots_idle=counts[_IDLE],
        robots_busy=counts[_EXECUTING],
        robots_charging=counts[_CHARGING],
        robots_error=counts[_ERROR],
        orders_queued=queued,
        orders_active=active,
        battery_mean_percent=sum(batteries) / len(batteries) if batteries else 0.0,
        capacity=capacity,
        zone_lease_s=zone_lease_hold_s(config),
        robot_lease_s=leases.robot_lease_s,
        lease_margin_s=leases.margin_s,
        on_lease_loss=LEASE_LOSS[leases.on_lease_loss],
    )


def robot_table(table_cls: Any, config: ZoneConfig, robots: Sequence[Any]) -> Any:
    """The zone's ``RobotTable`` now (one entry per configured robot, in config order)."""
    seen = [(r.status, r.online) for r in robots if r.status is not None]
    if len(seen) == len(robots):  # every robot reported: one pass per column, no branches
        statuses = [status for status, _ in seen]
        poses = [status.pose for status in statuses]
        table: dict[str, list[Any]] = {
            "x": [float(p.x) for p in poses],
            "y": [float(p.y) for p in poses],
            "theta": [float(p.theta) for p in poses],
            "battery_percent": [float(st.battery_percent) for st in statuses],
            "states": [int(st.state) if online else _OFFLINE for st, online in seen],
            "operating_modes": [int(st.operating_mode) for st in statuses],
            "current_order_ids": [str(st.current_order_id) for st in statuses],
            "order_progress": [float(st.order_progress) for st in statuses],
            "error_counts": [len(st.errors) for st in statuses],
        }
    else:
        table = {k: [] for k in _COLUMNS}
        for robot in robots:
            s = robot.status
            table["x"].append(float(s.pose.x) if s else 0.0)
            table["y"].append(float(s.pose.y) if s else 0.0)
            table["theta"].append(float(s.pose.theta) if s else 0.0)
            table["battery_percent"].append(float(s.battery_percent) if s else 0.0)
            table["states"].append(int(s.state) if s and robot.online else _OFFLINE)
            table["operating_modes"].append(int(s.operating_mode) if s else 0)
            table["current_order_ids"].append(str(s.current_order_id) if s else "")
            table["order_progress"].append(float(s.order_progress) if s else 0.0)
            table["error_counts"].append(len(s.errors) if s else 0)
    return table_cls(
        zone_id=config.zone_id,
        area_id=config.area_id,
        stamp=now_stamp(),
        robot_ids=[r.robot_id for r in robots],
        kinds=robot_kinds([r.status for r in robots]),
        **table,
    )


def robot_kinds(statuses: Sequence[Any]) -> list[str]:
    """``RobotTable.kinds`` of robots with these latest statuses (None: none yet).

    Empty when every robot is ``sim`` (the common zone costs nothing per robot); otherwise
    one entry per robot, ``""`` for ``sim``.
    """
    kinds = [s.kind if s is not None else "" for s in statuses]
    if all(not kind or kind == DEFAULT_KIND for kind in kinds):
        return []
    return ["" if kind == DEFAULT_KIND else kind for kind in kinds]
