"""Executing an accepted order: drive node to node in straight lines, run each node's actions.

One :meth:`OrderWorker.run` task per order (restarted by an order update once it has stopped at
the end of the base). Pausing (``startPause``) clears the ``go`` event: driving and action timers
stand still until ``stopPause`` sets it again. Cancelling the task stops the vehicle at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from robotfleet_nodes.vda5050._sim_model import VehicleModel, error_entry

__all__ = ["FAIL_ACTION", "OrderWorker", "SimCounters"]

#: The action type that always FAILS (our test hook for a vehicle-side failure).
FAIL_ACTION = "fail"
_STEP_S = 0.25  # position is updated at least this often while driving


@dataclass
class SimCounters:
    """What one simulated vehicle did since it was made."""

    orders_accepted: int = 0
    orders_updated: int = 0
    orders_ignored: int = 0
    orders_rejected: int = 0
    orders_finished: int = 0
    orders_cancelled: int = 0
    actions_finished: int = 0
    actions_failed: int = 0
    instant_actions: int = 0
    messages_received: int = 0
    messages_sent: int = 0
    #: received messages refused as invalid JSON or against the schema
    schema_errors: int = 0
    #: own messages that broke the schema (only checked with ``validate=True``)
    invalid_sent: int = 0


class OrderWorker:
    """Runs the model's order; calls ``changed`` whenever the state should be published."""

    def __init__(
        self,
        model: VehicleModel,
        counters: SimCounters,
        *,
        speed: float,
        work_time_s: float,
        go: asyncio.Event,
        halt: asyncio.Event,
        changed: Callable[[], None],
    ) -> None:
        self.model = model
        self.counters = counters
        self.speed = speed
        self.work_time_s = work_time_s
        self.go = go  # set while not paused
        self.halt = halt  # set while paused
        self.changed = changed
        self._finished_order = ""

    async def run(self) -> None:
        """Drive through the released nodes, running their actions; stop at the base's end."""
        m = self.model
        try:
            while m.nodes and m.nodes[0]["released"]:
                node = m.nodes[0]
                if m.at_order_start:
                    # The simulator starts an order where it stands: the first node counts as
                    # reached at once, the second one is driven to from the current position.
                    m.reach(node)
                else:
                    edge = m.edges[0] if m.edges else None
                    if edge is not None:
                        self._edge_actions(edge, "RUNNING")
                    pos = node.get("nodePosition")
                    if pos is not None:
                        await self._drive(pos["x"], pos["y"])
                    if edge is not None:
                        self._edge_actions(edge, "FINISHED")
                    m.reach(node)
                if node["actions"] or not (m.nodes and m.nodes[0]["released"]):
                    m.driving = False  # it stops at a node with actions and at the end of the base
                self.changed()
                for action in node["actions"]:
                    await self._run_action(action)
        finally:
            if m.driving:
                m.driving = False
                self.changed()
        if not m.has_active_order and m.order_id != self._finished_order:
            self._finished_order = m.order_id
            self.counters.orders_finished += 1
        self.changed()

    async def _drive(self, x: float, y: float) -> None:
        m = self.model
        loop = asyncio.get_running_loop()
        while True:
            if not self.go.is_set():
                if m.driving:
                    m.driving = False
                    self.changed()
                await self.go.wait()
            if not m.driving:
                m.driving = True
                self.changed()
            remaining = ((x - m.x) ** 2 + (y - m.y) ** 2) ** 0.5
            started = loop.time()
            await asyncio.sleep(min(_STEP_S, remaining / self.speed) if self.speed > 0 else _STEP_S)
            if self.go.is_set() and m.move_towards(x, y, self.speed * (loop.time() - started)):
                return

    async def _work(self, seconds: float) -> None:
        """Let ``seconds`` of unpaused time pass."""
        loop = asyncio.get_running_loop()
        left = seconds
        while left > 0:
            await self.go.wait()
            started = loop.time()
            try:
                async with asyncio.timeout(left):
                    await self.halt.wait()
            except TimeoutError:
                return
            left -= loop.time() - started

    async def _run_action(self, action: dict[str, Any]) -> None:
        m = self.model
        state = m.actions.get(action["actionId"])
        if state is None or state["actionStatus"] != "WAITING":
            return
        if action["actionType"] == FAIL_ACTION:
            self._fail(action)
            return
        m.set_action(action["actionId"], "RUNNING")
        self.changed()
        await self._work(self.work_time_s)
        m.set_action(action["actionId"], "FINISHED", f"{action['actionType']} done")
        self.counters.actions_finished += 1
        self.changed()

    def _fail(self, action: dict[str, Any]) -> None:
        m = self.model
        text = (
            f"action {action['actionId']!r} ({FAIL_ACTION}) failed: "
            f"the simulator's {FAIL_ACTION!r} action always fails"
        )
        m.set_action(action["actionId"], "FAILED", text)
        m.add_error(
            error_entry("actionFailed", text, {"actionId": action["actionId"], "orderId": m.order_id})
        )
        self.counters.actions_failed += 1
        self.changed()

    def _edge_actions(self, edge: dict[str, Any], status: str) -> None:
        for action in edge["actions"]:
            state = self.model.actions.get(action["actionId"])
            if state is None or state["actionStatus"] not in ("WAITING", "RUNNING"):
                continue
            if action["actionType"] == FAIL_ACTION:
                self._fail(action)
            else:
                self.model.set_action(action["actionId"], status)
                if status == "FINISHED":
                    self.counters.actions_finished += 1
        if edge["actions"]:
            self.changed()
