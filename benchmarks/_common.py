"""Shared pieces of the messaging benchmarks: the payload, a broker, statistics, output.

The payload is a RobotStatus-sized message, defined once as a ROS type (for us) and once
as a plain pydantic model with the same fields and JSON (for raw nats-py and FastStream),
so every contender moves the same bytes.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import pydantic

from robotfleet_nodes.idl import default_registry

TYPE_NAME = "fleet_bench/msg/Status"
DEFINITION = """\
string robot_id
string zone_id
float64 x
float64 y
float64 theta
float32 battery
uint8 state
string current_order
string[] errors
int64 stamp_ns
"""
VALUES: dict[str, Any] = {
    "robot_id": "robot-42",
    "zone_id": "zone-1",
    "x": 12.5,
    "y": -3.75,
    "theta": 1.5707963267948966,
    "battery": 0.8125,
    "state": 3,
    "current_order": "wo-2026-11-26-000981",
    "errors": ["lidar_degraded"],
    "stamp_ns": 1_795_000_000_123_456_789,
}


class PlainStatus(pydantic.BaseModel):
    """The same message as a hand-written pydantic model (what a raw client would use)."""

    robot_id: str
    zone_id: str
    x: float
    y: float
    theta: float
    battery: float
    state: int
    current_order: str
    errors: list[str]
    stamp_ns: int


def ros_status_class() -> Any:
    registry = default_registry()
    if TYPE_NAME not in registry:
        registry.add_text(TYPE_NAME, DEFINITION)
    return registry.get_class(TYPE_NAME)


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentiles_us(samples: list[float]) -> dict[str, float]:
    """p50/p99 of latencies given in seconds, in microseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"p50_us": round(statistics.median(ordered) * 1e6, 1), "p99_us": round(p99 * 1e6, 1)}


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)
