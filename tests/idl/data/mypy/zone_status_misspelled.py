"""As ``zone_status_ok.py``, with ``battery_percent`` misspelled: mypy must report it."""

from __future__ import annotations

from robotfleet_nodes.msg import RobotStatus


def can_take_an_order(status: RobotStatus | None, min_battery_percent: float) -> bool:
    return (
        status is not None
        and status.state == RobotStatus.STATE_IDLE
        and not status.current_order_id
        and status.batery_percent >= min_battery_percent
    )


def position(status: RobotStatus) -> tuple[float, float]:
    return status.pose.x, status.pose.y
