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
from collections.abc import Awaitable, Callable
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


async def run_contenders(
    benchmark: str,
    contenders: dict[str, Callable[[str], Awaitable[dict[str, Any]]]],
    *,
    best_by: str,
    higher_is_better: bool,
    rounds: int = 3,
) -> dict[str, dict[str, Any]]:
    """Run the contenders in interleaved rounds on one embedded broker; keep each one's best.

    The machine is shared and noisy: interleaving spreads a burst of load over everyone, and
    the best of a few rounds is the figure least disturbed by it.
    """
    from robotfleet_nodes.broker import EmbeddedBroker

    best: dict[str, dict[str, Any]] = {}
    with EmbeddedBroker() as broker:
        for round_no in range(1, rounds + 1):
            for name, run in contenders.items():
                progress(f"{benchmark}: round {round_no}/{rounds}: {name} ...")
                result = await run(broker.url)
                progress(f"{benchmark}: {name}: {result}")
                if best_by not in result:
                    best.setdefault(name, result)
                    continue
                previous = best.get(name, {}).get(best_by)
                if previous is None or (result[best_by] > previous) == higher_is_better:
                    best[name] = {**result, "rounds": rounds}
    return best


def ratio(
    results: dict[str, dict[str, Any]], key: str, ours: str, peer: str, digits: int = 3
) -> float | None:
    """``results[ours][key] / results[peer][key]``, or None when the peer did not run."""
    if key not in results.get(peer, {}):
        return None
    return round(results[ours][key] / results[peer][key], digits)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)
