"""VDA 5050 messages of :mod:`robotfleet_nodes.edge.vda5050`: headers, orders, instant actions
built from our requests, and ``state`` messages read into :class:`VehicleState`.

Builders return plain dicts that validate against the 2.1.0 schemas
(:func:`robotfleet_nodes.vda5050.validate`); :func:`read_state` expects a message that already
passed that validation and only picks out and rounds what the driver uses.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from robotfleet_nodes.edge.driver import DriverError, ErrorLevel, OperatingMode, Pose2D
from robotfleet_nodes.vda5050 import SCHEMA_VERSION

__all__ = [
    "HeaderIds",
    "VehicleState",
    "fresh_action_id",
    "instant_actions",
    "order_message",
    "read_state",
    "stamp_of",
]

_UINT32 = 2**32


class HeaderIds:
    """``headerId`` counters, one per topic, increasing by one per message sent.

    Seeded from the wall clock (tenths of a second, modulo 2**32) so that an edge that
    restarts goes on above the ids it sent before, as long as it sent fewer than ten
    messages per second on a topic on average.
    """

    __slots__ = ("_counters",)

    def __init__(self) -> None:
        self._counters: dict[str, Iterator[int]] = {}

    def next(self, topic: str) -> int:
        """The next ``headerId`` of ``topic``."""
        counter = self._counters.get(topic)
        if counter is None:
            seed = int(time.time() * 10)
            counter = self._counters[topic] = (n % _UINT32 for n in itertools.count(seed))
        return next(counter)


def _timestamp() -> str:
    """Now, ISO 8601 UTC with milliseconds (``2026-12-05T22:15:28.123Z``), as the spec shows."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stamp_of(msg: Mapping[str, Any]) -> tuple[float, int]:
    """(timestamp as unix seconds, headerId) of a message: newer messages compare greater.

    A timestamp that does not parse counts as 0 (then the headerId alone decides).
    """
    seconds = 0.0
    raw = msg.get("timestamp")
    if isinstance(raw, str):
        try:
            seconds = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            seconds = 0.0
    header = msg.get("headerId")
    return seconds, header if isinstance(header, int) else 0


def _header(ids: HeaderIds, topic: str, manufacturer: str, serial: str) -> dict[str, Any]:
    return {
        "headerId": ids.next(topic),
        "timestamp": _timestamp(),
        "version": SCHEMA_VERSION,
        "manufacturer": manufacturer,
        "serialNumber": serial,
    }


def order_message(
    ids: HeaderIds,
    manufacturer: str,
    serial: str,
    *,
    order_id: str,
    nodes: Sequence[tuple[str, Pose2D]],
    map_id: str,
    action_type: str,
    action_id: str,
) -> dict[str, Any]:
    """An ``order`` (orderUpdateId 0): ``nodes`` (id, position) released, sequence ids 0, 2, ...
    joined by edges (1, 3, ...); the last node carries one HARD action ``action_type``."""
    node_msgs: list[dict[str, Any]] = []
    edge_msgs: list[dict[str, Any]] = []
    for i, (node_id, pose) in enumerate(nodes):
        last = i == len(nodes) - 1
        actions = [{"actionId": action_id, "actionType": action_type, "blockingType": "HARD"}] if last else []
        node_msgs.append(
            {
                "nodeId": node_id,
                "sequenceId": 2 * i,
                "released": True,
                "nodePosition": {"x": pose.x, "y": pose.y, "theta": pose.theta, "mapId": map_id},
                "actions": actions,
            }
        )
        if i > 0:
            start = nodes[i - 1][0]
            edge_msgs.append(
                {
                    "edgeId": f"{start}->{node_id}",
                    "sequenceId": 2 * i - 1,
                    "released": True,
                    "startNodeId": start,
                    "endNodeId": node_id,
                    "actions": [],
                }
            )
    return {
        **_header(ids, "order", manufacturer, serial),
        "orderId": order_id,
        "orderUpdateId": 0,
        "nodes": node_msgs,
        "edges": edge_msgs,
    }


def instant_actions(
    ids: HeaderIds, manufacturer: str, serial: str, action_type: str, **parameters: str
) -> dict[str, Any]:
    """An ``instantActions`` message with one action ``action_type`` (blockingType NONE) and
    ``parameters`` as key/value pairs."""
    action: dict[str, Any] = {
        "actionId": f"{action_type}-{uuid.uuid4().hex[:12]}",
        "actionType": action_type,
        "blockingType": "NONE",
    }
    if parameters:
        action["actionParameters"] = [{"key": k, "value": v} for k, v in parameters.items()]
    return {**_header(ids, "instantActions", manufacturer, serial), "actions": [action]}


def fresh_action_id(order_id: str) -> str:
    """A new ``actionId`` for the action of order ``order_id``."""
    return f"{order_id}-{uuid.uuid4().hex[:8]}"


_MODES = {m.value: m for m in OperatingMode}


@dataclass(frozen=True, slots=True)
class VehicleState:
    """What the driver reads of one (schema-valid) ``state`` message, rounded."""

    stamp: tuple[float, int]
    order_id: str
    last_node_id: str
    pose: Pose2D | None  #: None: ``agvPosition`` missing or not initialised (keep the last one)
    map_id: str
    battery_percent: float
    charging: bool
    driving: bool
    velocity: float
    mode: OperatingMode
    paused: bool
    loads: int
    errors: tuple[DriverError, ...]
    #: ``(errorType, errorDescription)`` of the errors referencing ``orderId`` -> value
    order_errors: Mapping[str, tuple[str, str]]
    node_ids: tuple[str, ...]  #: nodeStates still to pass
    edge_count: int
    #: actionId -> (actionStatus, resultDescription)
    actions: Mapping[str, tuple[str, str]]


def _num(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else default


def read_state(msg: Mapping[str, Any]) -> VehicleState:
    """The fields of a schema-valid ``state`` message the driver maps (see vda5050.py)."""
    position = msg.get("agvPosition")
    pose: Pose2D | None = None
    map_id = ""
    if isinstance(position, Mapping) and position.get("positionInitialized", False):
        pose = Pose2D(
            round(_num(position.get("x")), 3),
            round(_num(position.get("y")), 3),
            round(_num(position.get("theta")), 3),
        )
        map_id = str(position.get("mapId", ""))
    battery = msg.get("batteryState") or {}
    velocity = msg.get("velocity") or {}
    speed = math.hypot(_num(velocity.get("vx")), _num(velocity.get("vy")))
    driving = bool(msg.get("driving", False))
    errors: list[DriverError] = []
    order_errors: dict[str, tuple[str, str]] = {}
    for error in msg.get("errors", ()):
        code = str(error.get("errorType", ""))
        text = str(error.get("errorDescription", "")) or code
        level: ErrorLevel = "FATAL" if error.get("errorLevel") == "FATAL" else "WARNING"
        errors.append(DriverError(code, level, text))
        for ref in error.get("errorReferences", ()) or ():
            if ref.get("referenceKey") == "orderId":
                order_errors[str(ref.get("referenceValue", ""))] = (code, text)
    actions = {
        str(a.get("actionId")): (str(a.get("actionStatus")), str(a.get("resultDescription", "") or ""))
        for a in msg.get("actionStates", ())
    }
    loads = msg.get("loads")
    return VehicleState(
        stamp=stamp_of(msg),
        order_id=str(msg.get("orderId", "")),
        last_node_id=str(msg.get("lastNodeId", "")),
        pose=pose,
        map_id=map_id,
        battery_percent=round(min(max(_num(battery.get("batteryCharge")), 0.0), 100.0), 1),
        charging=bool(battery.get("charging", False)),
        driving=driving,
        velocity=round(speed, 2) if driving or speed else 0.0,
        mode=_MODES.get(str(msg.get("operatingMode")), OperatingMode.MANUAL),
        paused=bool(msg.get("paused", False)),
        loads=len(loads) if isinstance(loads, list) else 0,
        errors=tuple(errors),
        order_errors=order_errors,
        node_ids=tuple(str(n.get("nodeId")) for n in msg.get("nodeStates", ())),
        edge_count=len(msg.get("edgeStates", ())),
        actions=actions,
    )
