"""What a simulated VDA 5050 vehicle knows: its order, position, actions, battery and errors.

Plain data and the order rules of spec 6.6 (accept, ignore, update, reject), no I/O: the
vehicle (:mod:`robotfleet_nodes.vda5050.sim`) feeds it the decoded messages and publishes
:meth:`VehicleModel.state` whenever it changes.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ACTIVE", "OrderOutcome", "VehicleModel", "error_entry"]

#: Action states of an action that still has to finish.
ACTIVE = frozenset({"WAITING", "INITIALIZING", "RUNNING"})
_KEEP_ERRORS = 20  # the latest errors a state carries; older ones are dropped
_KEEP_INSTANT = 10  # finished instant actions a state still carries


class OrderOutcome(enum.Enum):
    """What the vehicle did with an ``order`` message."""

    ACCEPTED = "accepted"  #: a new orderId, now executing
    UPDATED = "updated"  #: same orderId, higher orderUpdateId: the order was extended
    IGNORED = "ignored"  #: same orderId and orderUpdateId: already received (6.6.4)
    REJECTED = "rejected"  #: an error entry says why


def error_entry(
    error_type: str, description: str, refs: dict[str, str], level: str = "WARNING"
) -> dict[str, Any]:
    """One entry of the state's ``errors`` array."""
    return {
        "errorType": error_type,
        "errorLevel": level,
        "errorDescription": description,
        "errorReferences": [{"referenceKey": k, "referenceValue": v} for k, v in refs.items()],
    }


@dataclass
class VehicleModel:
    """The vehicle's state, and the decisions of spec 6.6 on orders."""

    x: float = 0.0
    y: float = 0.0
    theta: float = 0.0
    map_id: str = "map"
    battery: float = 100.0
    order_id: str = ""
    order_update_id: int = 0
    last_node_id: str = ""
    last_node_sequence_id: int = 0
    driving: bool = False
    paused: bool = False
    charging: bool = False
    distance_since_last_node: float = 0.0
    #: nodes of the order not reached yet (base and horizon), in sequence order
    nodes: list[dict[str, Any]] = field(default_factory=list)
    #: edges of the order not traversed yet, in sequence order
    edges: list[dict[str, Any]] = field(default_factory=list)
    #: actionId -> action state (order and instant actions), in arrival order
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: set when the vehicle accepted an order and the first node was not reached yet
    at_order_start: bool = False

    # -- questions ---------------------------------------------------------------------------
    @property
    def has_active_order(self) -> bool:
        """True while released nodes are left to reach or an order action still has to finish."""
        if any(n["released"] for n in self.nodes):
            return True
        return any(a["actionStatus"] in ACTIVE for a in self.actions.values() if not a.get("_instant"))

    def add_error(self, entry: dict[str, Any]) -> None:
        """Report ``entry`` in the state's errors (the latest few are kept)."""
        self.errors.append(entry)
        del self.errors[:-_KEEP_ERRORS]

    # -- orders (6.6) ------------------------------------------------------------------------
    def take_order(self, order: dict[str, Any]) -> OrderOutcome:
        """Apply a schema-valid ``order``: accept, update, ignore or reject (adding an error)."""
        order_id: str = order["orderId"]
        update_id: int = order["orderUpdateId"]
        refs = {"headerId": str(order["headerId"]), "topic": "order", "orderId": order_id}
        if order_id == self.order_id:
            if update_id == self.order_update_id:
                return OrderOutcome.IGNORED
            if update_id < self.order_update_id:
                refs["orderUpdateId"] = str(update_id)
                self.add_error(
                    error_entry(
                        "orderUpdateError",
                        f"orderUpdateId {update_id} is lower than the current {self.order_update_id}",
                        refs,
                    )
                )
                return OrderOutcome.REJECTED
            return self._update(order, refs)
        if self.has_active_order:
            self.add_error(
                error_entry(
                    "orderError",
                    f"order {order_id!r} refused: order {self.order_id!r} is still running "
                    "(cancel it first or send an update of it)",
                    refs,
                )
            )
            return OrderOutcome.REJECTED
        problem = _check_chain(order)
        if problem:
            self.add_error(error_entry("validationError", problem, refs))
            return OrderOutcome.REJECTED
        self.order_id, self.order_update_id = order_id, update_id
        self.nodes = sorted(order["nodes"], key=lambda n: n["sequenceId"])
        self.edges = sorted(order["edges"], key=lambda e: e["sequenceId"])
        self.actions = {k: v for k, v in self.actions.items() if v["actionStatus"] in ACTIVE}
        self._add_actions(self.nodes, self.edges)
        self.errors.clear()
        self.charging = False
        self.at_order_start = True
        return OrderOutcome.ACCEPTED

    def _update(self, order: dict[str, Any], refs: dict[str, str]) -> OrderOutcome:
        nodes = sorted(order["nodes"], key=lambda n: n["sequenceId"])
        stitch = nodes[0]
        base = [n for n in self.nodes if n["released"]]
        end_id, end_seq = (
            (base[-1]["nodeId"], base[-1]["sequenceId"])
            if base
            else (
                self.last_node_id,
                self.last_node_sequence_id,
            )
        )
        problem = _check_chain(order)
        if not problem and (stitch["nodeId"], stitch["sequenceId"]) != (end_id, end_seq):
            problem = (
                f"order update {order['orderUpdateId']} starts at node {stitch['nodeId']!r} "
                f"(sequenceId {stitch['sequenceId']}), not at the end of the base "
                f"{end_id!r} (sequenceId {end_seq})"
            )
        if problem:
            refs["orderUpdateId"] = str(order["orderUpdateId"])
            self.add_error(error_entry("orderUpdateError", problem, refs))
            return OrderOutcome.REJECTED
        new_nodes = [n for n in nodes[1:] if n["sequenceId"] > end_seq]
        new_edges = sorted(
            (e for e in order["edges"] if e["sequenceId"] > end_seq), key=lambda e: e["sequenceId"]
        )
        self.nodes = [n for n in self.nodes if n["released"]] + new_nodes
        self.edges = [e for e in self.edges if e["released"]] + new_edges
        self._add_actions(new_nodes, new_edges)
        self.order_update_id = order["orderUpdateId"]
        return OrderOutcome.UPDATED

    def _add_actions(self, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> None:
        for holder in [*nodes, *edges]:
            for action in holder["actions"]:
                self.actions[action["actionId"]] = {
                    "actionId": action["actionId"],
                    "actionType": action["actionType"],
                    "actionStatus": "WAITING",
                }

    def cancel(self) -> bool:
        """Drop the order's remaining nodes, edges and actions (FAILED); False if none was active."""
        if not self.has_active_order:
            return False
        for state in self.actions.values():
            if state["actionStatus"] in ACTIVE and not state.get("_instant"):
                state["actionStatus"] = "FAILED"
                state["resultDescription"] = "cancelled (cancelOrder)"
        self.nodes.clear()
        self.edges.clear()
        self.driving = False
        self.at_order_start = False
        return True

    def set_action(self, action_id: str, status: str, result: str | None = None) -> None:
        """Move one action to ``status`` (``result`` becomes its resultDescription)."""
        state = self.actions.get(action_id)
        if state is not None:
            state["actionStatus"] = status
            if result is not None:
                state["resultDescription"] = result

    def add_instant(self, action: dict[str, Any]) -> None:
        """Track an instant action's state (WAITING until the vehicle runs it).

        Only the latest few finished instant actions stay in the state, so a vehicle that
        is paused and resumed all day does not send an ever longer ``actionStates``.
        """
        done = [k for k, v in self.actions.items() if v.get("_instant") and v["actionStatus"] not in ACTIVE]
        for key in done[: max(0, len(done) - _KEEP_INSTANT)]:
            del self.actions[key]
        self.actions[action["actionId"]] = {
            "actionId": action["actionId"],
            "actionType": action["actionType"],
            "actionStatus": "WAITING",
            "_instant": True,
        }

    # -- motion ------------------------------------------------------------------------------
    def move_towards(self, x: float, y: float, step: float) -> bool:
        """Move at most ``step`` metres straight towards (x, y); True once there."""
        dx, dy = x - self.x, y - self.y
        dist = math.hypot(dx, dy)
        if dist > 1e-9:
            self.theta = math.atan2(dy, dx)
        done = dist <= step
        moved = dist if done else step
        if not done:
            self.x += dx / dist * step
            self.y += dy / dist * step
        else:
            self.x, self.y = x, y
        self.distance_since_last_node += moved
        self.battery = max(0.0, self.battery - 0.05 * moved)
        return done

    def reach(self, node: dict[str, Any]) -> None:
        """``node`` (the first pending one) is reached: it and the edge into it leave the state."""
        if self.nodes and self.nodes[0] is node:
            self.nodes.pop(0)
        self.edges = [e for e in self.edges if e["sequenceId"] > node["sequenceId"]]
        self.last_node_id, self.last_node_sequence_id = node["nodeId"], node["sequenceId"]
        self.distance_since_last_node = 0.0
        self.at_order_start = False
        pos = node.get("nodePosition")
        if pos is not None:
            self.map_id = pos["mapId"]

    # -- the state message -------------------------------------------------------------------
    def state(self, manufacturer: str, serial_number: str) -> dict[str, Any]:
        """The ``state`` message body (headerId, timestamp and version are added when sent)."""
        return {
            "manufacturer": manufacturer,
            "serialNumber": serial_number,
            "orderId": self.order_id,
            "orderUpdateId": self.order_update_id,
            "lastNodeId": self.last_node_id,
            "lastNodeSequenceId": self.last_node_sequence_id,
            "nodeStates": [_node_state(n) for n in self.nodes],
            "edgeStates": [_edge_state(e) for e in self.edges],
            "driving": self.driving,
            "paused": self.paused,
            "distanceSinceLastNode": round(self.distance_since_last_node, 3),
            "agvPosition": {
                "x": round(self.x, 3),
                "y": round(self.y, 3),
                "theta": round(self.theta, 4),
                "mapId": self.map_id,
                "positionInitialized": True,
            },
            "actionStates": [
                {k: v for k, v in a.items() if not k.startswith("_")} for a in self.actions.values()
            ],
            "batteryState": {"batteryCharge": round(self.battery, 2), "charging": self.charging},
            "operatingMode": "AUTOMATIC",
            "errors": list(self.errors),
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
        }


def _node_state(node: dict[str, Any]) -> dict[str, Any]:
    out = {"nodeId": node["nodeId"], "sequenceId": node["sequenceId"], "released": node["released"]}
    if "nodeDescription" in node:
        out["nodeDescription"] = node["nodeDescription"]
    if "nodePosition" in node:
        pos = node["nodePosition"]
        out["nodePosition"] = {k: pos[k] for k in ("x", "y", "theta", "mapId") if k in pos}
    return out


def _edge_state(edge: dict[str, Any]) -> dict[str, Any]:
    out = {"edgeId": edge["edgeId"], "sequenceId": edge["sequenceId"], "released": edge["released"]}
    if "edgeDescription" in edge:
        out["edgeDescription"] = edge["edgeDescription"]
    return out


def _check_chain(order: dict[str, Any]) -> str:
    """Why the order's graph cannot be driven ('' if it can): node/edge alternation (6.6.1)."""
    nodes = sorted(order["nodes"], key=lambda n: n["sequenceId"])
    edges = sorted(order["edges"], key=lambda e: e["sequenceId"])
    if not nodes:
        return "an order needs at least one node"
    if len(edges) != len(nodes) - 1:
        return f"{len(nodes)} nodes need {len(nodes) - 1} edges between them, got {len(edges)}"
    for i, edge in enumerate(edges):
        start, end = nodes[i], nodes[i + 1]
        if not start["sequenceId"] < edge["sequenceId"] < end["sequenceId"]:
            return (
                f"edge {edge['edgeId']!r} (sequenceId {edge['sequenceId']}) is not between "
                "its nodes' sequenceIds"
            )
        if (edge["startNodeId"], edge["endNodeId"]) != (start["nodeId"], end["nodeId"]):
            return (
                f"edge {edge['edgeId']!r} goes {edge['startNodeId']!r} -> {edge['endNodeId']!r}, "
                f"expected {start['nodeId']!r} -> {end['nodeId']!r}"
            )
        if edge["released"] and not end["released"]:
            return f"edge {edge['edgeId']!r} is released but its end node {end['nodeId']!r} is not"
    released = [n["released"] for n in nodes]
    if not released[0] or released != sorted(released, reverse=True):
        return "released nodes must come first (the base), then the horizon"
    return ""
