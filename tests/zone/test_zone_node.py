"""A zone with three simulated edges on the session broker: assignment, events, failures."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from robotfleet_nodes.config import EdgeConfig, ZoneConfig
from robotfleet_nodes.edge.driver import TaskRejected, TaskRequest
from robotfleet_nodes.edge.node import EdgeNode, driver_from_config
from robotfleet_nodes.edge.sim import SimulatedRobot
from robotfleet_nodes.fleet.protocol import OrderEvents, OrderStore, now_stamp, state_name
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import deserialize
from robotfleet_nodes.msg import WorkOrder, WorkOrderUpdate
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.srv import AssignWorkOrder
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.zone.main import main
from robotfleet_nodes.zone.node import DEFAULT_MAX_ATTEMPTS, REFUSAL_COOLDOWN_S, ZoneNode

ROBOTS = {"robot-1": 0.0, "robot-2": 10.0, "robot-3": 20.0}  # start x of each robot (y = 0)
S = WorkOrder


def _zone_config(assignment: dict[str, Any] | None = None) -> ZoneConfig:
    return ZoneConfig.model_validate(
        {
            "zone_id": "zone-1",
            "area_id": "area-1",
            "robots": list(ROBOTS),
            "heartbeat_timeout_s": 1.0,
            "summary_period_s": 0.2,
            "assignment": assignment or {},
            "leases": {"zone_lease_s": 0, "robot_lease_s": 2.0, "renew_period_s": 0.2, "margin_s": 0.5},
        }
    )


def _edge_config(robot_id: str, x: float) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "robot_id": robot_id,
            "zone_id": "zone-1",
            "status_rate_hz": 10.0,
            "sim": {
                "speed": 40.0,
                "work_time_s": {"pick": 0.1, "slow": 2.0},
                "start_pose": {"x": x, "y": 0.0},
                "idle_drain_per_s": 0.0,
            },
        }
    )


@dataclass
class Topology:
    zone_ctx: Context
    edge_ctx: Context
    zone: ZoneNode
    edges: dict[str, EdgeNode]
    client: Any  # AssignWorkOrder client
    cancel: Any  # CancelWorkOrder client
    tester: Node
    nats: NatsTransport

    async def assign(self, order: Any, key: str = "") -> Any:
        srv: Any = default_registry().get_interface("robotfleet_nodes/srv/AssignWorkOrder")
        request = srv.Request(
            idempotency_key=key or f"{order.id}/{order.attempts}",
            by="area-1",
            target_id="zone-1",
            order=order,
        )
        return await self.client.call(request, timeout=5.0)

    async def events(self, order_id: str, until: int = S.STATE_COMPLETED, timeout: float = 15.0) -> list[Any]:
        """The order's events on the stream, in stream order, up to the first final one."""
        js = self.nats.jetstream()
        sub = await js.subscribe(OrderEvents(self.nats).order_filter(order_id), ordered_consumer=True)
        got: list[Any] = []
        try:
            async with asyncio.timeout(timeout):
                while not got or got[-1].state not in (S.STATE_COMPLETED, S.STATE_FAILED, S.STATE_CANCELLED):
                    got.append(deserialize(WorkOrderUpdate, (await sub.next_msg(timeout=timeout)).data))
        finally:
            await sub.unsubscribe()
        assert got[-1].state == until, [(state_name(e.state), e.note) for e in got]
        return got


def _order(order_id: str, x: float = 0.0, y: float = 0.0, task: str = "pick", **kw: Any) -> Any:
    return WorkOrder(
        id=order_id,
        area_id="area-1",
        task=task,
        has_target=True,
        target_x=x,
        target_y=y,
        state=S.STATE_DISPATCHED,
        created=now_stamp(),
        **kw,
    )


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    """Wait for ``predicate()`` (node state without an event hook), failing after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polls state the nodes expose no event for
            await asyncio.sleep(0.02)


@pytest.fixture
async def topo(nats_url: str, unique: str, request: pytest.FixtureRequest) -> AsyncIterator[Topology]:
    """Three edges and a zone; ``indirect`` parametrization gives the zone's ``assignment:``."""
    mapper = SubjectMapper(root=unique)
    zone_t, edge_t, test_t = (NatsTransport(nats_url, mapper=mapper) for _ in range(3))
    async with (
        Context(transport=zone_t, enable_rosout=False) as zone_ctx,
        Context(transport=edge_t, enable_rosout=False) as edge_ctx,
        Context(transport=test_t, enable_rosout=False) as test_ctx,
    ):
        edges = {rid: EdgeNode(_edge_config(rid, x), context=edge_ctx) for rid, x in ROBOTS.items()}
        for edge in edges.values():
            await edge.start()
        zone = ZoneNode(_zone_config(getattr(request, "param", None)), context=zone_ctx)
        await zone.start()
        tester = Node("tester", context=test_ctx)
        await tester.start()
        reg = default_registry()
        client = await tester.create_client(
            reg.get_interface("robotfleet_nodes/srv/AssignWorkOrder"), "/zones/zone-1/assign"
        )
        cancel = await tester.create_client(
            reg.get_interface("robotfleet_nodes/srv/CancelWorkOrder"), "/zones/zone-1/cancel"
        )
        assert await client.wait_for_service(5.0)
        await _until(lambda: all(zone.robot_online(r) for r in ROBOTS))
        yield Topology(zone_ctx, edge_ctx, zone, edges, client, cancel, tester, test_t)
    for t in (zone_t, edge_t, test_t):
        await t.close()


async def test_order_runs_on_nearest_robot_once(topo: Topology, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    order = _order("wo-1", 19.0, 1.0)
    first = await topo.assign(order)
    again = await topo.assign(order)
    assert first.accepted and not first.duplicate and first.zone_id == "zone-1"
    assert again.accepted and again.duplicate
    events = await topo.events("wo-1")
    assert [e.state for e in events] == [
        S.STATE_DISPATCHED,
        S.STATE_ASSIGNED,
        S.STATE_EXECUTING,
        S.STATE_COMPLETED,
    ]
    assert [e.attempt for e in events] == [0, 1, 1, 1]
    assert events[1].robot_id == "robot-3", "nearest to (19, 1)"
    assert all(e.zone_id == "zone-1" and e.area_id == "area-1" and e.by == "zone-1" for e in events)
    assert "zone-1: assigned wo-1 to robot-3 (attempt 1)" in caplog.messages
    assert sum("received work order wo-1 " in m for m in caplog.messages) == 1, "executed once"
    refused = await topo.assign(_order("wo-x").model_copy(update={"area_id": "area-9"}))
    assert not refused.accepted and "area-9" in refused.error


@pytest.mark.parametrize("topo", [{"policy": "round_robin"}], indirect=True)
async def test_round_robin_policy_takes_turns_across_passes(topo: Topology) -> None:
    """Each order next to robot-3, one after another: round robin still goes robot-1, 2, 3, 1."""
    assigned = []
    for i in range(4):
        await topo.assign(_order(f"wo-rr{i}", 20.0, 0.0))
        events = await topo.events(f"wo-rr{i}")
        assigned += [e.robot_id for e in events if e.state == S.STATE_ASSIGNED]
    assert assigned == ["robot-1", "robot-2", "robot-3", "robot-1"]


async def test_summary_and_robot_table(topo: Topology) -> None:
    reg = default_registry()
    summaries: list[Any] = []
    tables: list[Any] = []
    await topo.tester.create_subscription(
        reg.get_class("robotfleet_nodes/msg/ZoneSummary"), "/zones/zone-1/summary", summaries.append, 1
    )
    await topo.tester.create_subscription(
        reg.get_class("robotfleet_nodes/msg/RobotTable"), "/zones/zone-1/robots", tables.append, 1
    )
    await topo.assign(_order("wo-s", 0.0, 0.0, task="slow"))
    await _until(lambda: any(s.orders_active == 1 and s.robots_busy == 1 for s in summaries))
    s = next(s for s in summaries if s.orders_active == 1 and s.robots_busy == 1)
    assert (s.zone_id, s.area_id, s.robots_total, s.robots_online) == ("zone-1", "area-1", 3, 3)
    assert (s.robots_idle, s.orders_queued, s.capacity) == (2, 0, 2)
    assert s.battery_mean_percent > 90
    await _until(lambda: any("wo-s" in t.current_order_ids for t in tables))
    t = next(t for t in tables if "wo-s" in t.current_order_ids)
    assert t.robot_ids == list(ROBOTS)
    assert t.current_order_ids[0] == "wo-s", "robot-1 is nearest to (0, 0)"
    assert list(t.states) == [1, 0, 0]
    assert len(t.x) == len(t.battery_percent) == len(t.error_counts) == 3


async def test_killed_robot_order_is_reassigned(topo: Topology) -> None:
    await topo.assign(_order("wo-k", 0.0, 0.0, task="slow"))
    await _until(lambda: topo.edges["robot-1"].driver.status.progress > 0)  # started (and said so)
    await topo.edges["robot-1"].destroy_node()  # the robot's process dies
    events = await topo.events("wo-k")
    assigned = [e for e in events if e.state == S.STATE_ASSIGNED]
    assert (assigned[0].attempt, assigned[0].robot_id) == (1, "robot-1")
    assert assigned[-1].robot_id != "robot-1" and assigned[-1].attempt == 2
    assert events[-1].attempt == 2
    await _until(lambda: not topo.zone.robot_online("robot-1"), timeout=3.0)


async def test_cancel_while_executing(topo: Topology) -> None:
    srv: Any = default_registry().get_interface("robotfleet_nodes/srv/CancelWorkOrder")
    await topo.assign(_order("wo-c", 10.0, 0.0, task="slow"))
    await _until(lambda: topo.edges["robot-2"].current_order_id == "wo-c")
    response = await topo.cancel.call(srv.Request(id="wo-c", reason="user"), timeout=5.0)
    assert response.accepted and response.order.state == S.STATE_CANCELLED
    events = await topo.events("wo-c", until=S.STATE_CANCELLED)
    assert events[-1].note == "user"
    await _until(lambda: topo.edges["robot-2"].current_order_id == "")
    again = await topo.cancel.call(srv.Request(id="wo-c"), timeout=5.0)
    assert again.accepted, "cancelling a cancelled order succeeds again"


async def test_restarted_zone_adopts_queued_orders(topo: Topology) -> None:
    await topo.zone.destroy_node()
    store = OrderStore(topo.nats)
    await store.ensure()
    stored = _order("wo-r", 10.0, 0.0).model_copy(update={"zone_id": "zone-1"})
    await store.create(stored)
    zone = ZoneNode(_zone_config(), context=topo.zone_ctx)
    await zone.start()
    assert zone.queued == ["wo-r"] or zone.active
    events = await topo.events("wo-r")
    assert [e.state for e in events] == [S.STATE_ASSIGNED, S.STATE_EXECUTING, S.STATE_COMPLETED]
    assert events[0].robot_id == "robot-2"


def test_main_reports_a_bad_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "zone.yaml"
    bad.write_text("zone_id: zone-1\nheartbeat_timeout_s: -1\n")
    monkeypatch.setenv("ZONE_CONFIG", str(bad))
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zone: ") and "heartbeat_timeout_s" in err


class _Weldless(SimulatedRobot):
    """A simulated robot that has no welder: it refuses every ``weld`` order (about the order)."""

    __slots__ = ()

    def start_task(self, req: TaskRequest) -> None:
        if req.task == "weld":
            raise TaskRejected(f"{self.robot_id} has no welder")
        super().start_task(req)


async def test_an_order_every_robot_refuses_ends_failed_with_the_reason(nats_url: str, unique: str) -> None:
    """A refusal about the order uses an attempt: after max_attempts it is FAILED with the
    robots' reason (today's main offered it ~30 times a second forever)."""
    mapper = SubjectMapper(root=unique)
    zone_t, edge_t, test_t = (NatsTransport(nats_url, mapper=mapper) for _ in range(3))
    async with (
        Context(transport=zone_t, enable_rosout=False) as zone_ctx,
        Context(transport=edge_t, enable_rosout=False) as edge_ctx,
        Context(transport=test_t, enable_rosout=False) as test_ctx,
    ):
        for rid, x in ROBOTS.items():
            config = _edge_config(rid, x)
            driver = driver_from_config(config)
            driver.__class__ = _Weldless
            await EdgeNode(config, context=edge_ctx, driver=driver).start()
        zone = ZoneNode(_zone_config(), context=zone_ctx)
        await zone.start()
        await _until(lambda: all(zone.robot_online(r) for r in ROBOTS))
        tester = Node("tester", context=test_ctx)
        await tester.start()
        client = await tester.create_client(AssignWorkOrder, "/zones/zone-1/assign")
        topo = Topology(zone_ctx, edge_ctx, zone, {}, client, None, tester, test_t)
        await topo.assign(_order("wo-weld", 0.0, 0.0, task="weld"))
        events = await topo.events("wo-weld", until=S.STATE_FAILED)
        assert "has no welder" in events[-1].note, events[-1].note
        assert events[-1].attempt == DEFAULT_MAX_ATTEMPTS, [(e.state, e.attempt) for e in events]
        await topo.assign(_order("wo-pick", 0.0, 0.0))  # the robots still take other orders
        await topo.events("wo-pick")
    for t in (zone_t, edge_t, test_t):
        await t.close()


async def test_a_refusal_about_the_robot_uses_no_attempt_and_cools_the_robot_down(
    nats_url: str, unique: str
) -> None:
    """Robots that refuse because of themselves (battery too low for their own rule): the order
    stays queued at attempt 0, and each robot gets at most one offer per cooldown."""
    mapper = SubjectMapper(root=unique)
    zone_t, edge_t, test_t = (NatsTransport(nats_url, mapper=mapper) for _ in range(3))
    async with (
        Context(transport=zone_t, enable_rosout=False) as zone_ctx,
        Context(transport=edge_t, enable_rosout=False) as edge_ctx,
        Context(transport=test_t, enable_rosout=False) as test_ctx,
    ):
        for rid, x in ROBOTS.items():  # 10 %: above the zone's 5 % minimum, below their own 15 %
            config = _edge_config(rid, x)
            weak = config.sim.model_copy(
                update={"battery_start_percent": 10.0, "recharge_below_percent": 0.0}
            )
            await EdgeNode(config.model_copy(update={"sim": weak}), context=edge_ctx).start()
        zone = ZoneNode(_zone_config({"min_battery_percent": 5.0}), context=zone_ctx)
        await zone.start()
        await _until(lambda: all(zone.robot_online(r) for r in ROBOTS))
        tester = Node("tester", context=test_ctx)
        await tester.start()
        client = await tester.create_client(AssignWorkOrder, "/zones/zone-1/assign")
        topo = Topology(zone_ctx, edge_ctx, zone, {}, client, None, tester, test_t)
        began = asyncio.get_running_loop().time()
        await topo.assign(_order("wo-low", 0.0, 0.0))

        def refusals() -> list[dict[str, Any]]:
            return [r for r in _journal_records() if r.get("o") == "wo-low" and r.get("s") == "REFUSED"]

        await _until(lambda: len(refusals()) >= 2 * len(ROBOTS), timeout=15.0)
        elapsed = asyncio.get_running_loop().time() - began
        per_robot: dict[str, int] = {}
        for record in refusals():
            per_robot[record["robot"]] = per_robot.get(record["robot"], 0) + 1
        # one offer per robot per REFUSAL_COOLDOWN_S at most (a slow machine only offers less)
        assert max(per_robot.values()) <= elapsed / REFUSAL_COOLDOWN_S + 2, (per_robot, elapsed)
        # queued again between offers (an offer in flight takes it off the queue for a moment)
        await _until(lambda: zone.queued == ["wo-low"])
        assert {int(r["a"]) for r in refusals()} == {1}, "a robot refusal uses no attempt"
    for t in (zone_t, edge_t, test_t):
        await t.close()


def _journal_records() -> list[dict[str, Any]]:
    folder = Path(os.environ["RFOS_STATE_DIR"]) / "journal"
    records: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.journal")):
        for line in path.read_text().splitlines():
            if line.strip():
                records.append({**json.loads(line), "robot": path.name.removesuffix(".journal")})
    return records
