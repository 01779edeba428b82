"""The edge node on a real broker: status, the execute action, refusals, the command log."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import eventually

from robotfleet_nodes.action import ActionClient, GoalStatus
from robotfleet_nodes.config import EdgeConfig
from robotfleet_nodes.edge import node as edge_node
from robotfleet_nodes.edge.driver import DriverEvent, DriverStatus, RobotState, StatusChanged
from robotfleet_nodes.edge.main import main
from robotfleet_nodes.edge.node import STATUS_QOS, EdgeNode
from robotfleet_nodes.edge.sim import SimulatedRobot
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

ContextFactory = Callable[[], AbstractAsyncContextManager[Context]]


@pytest.fixture
def make_context(nats_url: str, unique: str) -> ContextFactory:
    @asynccontextmanager
    async def factory() -> AsyncIterator[Context]:
        transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
        try:
            async with Context(transport=transport, enable_rosout=False) as context:
                yield context
        finally:
            await transport.close()

    return factory


def _config(**sim: Any) -> EdgeConfig:
    settings: dict[str, Any] = {"speed": 50.0, "work_time_s": {"pick": 0.2}, **sim}
    return EdgeConfig.model_validate(
        {"robot_id": "robot-7", "zone_id": "zone-1", "status_rate_hz": 10.0, "sim": settings}
    )


def _execute() -> Any:
    return default_registry().get_interface("robotfleet_nodes/action/ExecuteTask")


async def _client(ctx: Context) -> tuple[Node, ActionClient]:
    node = Node("tester", context=ctx)
    await node.start()
    client = await ActionClient.create(node, _execute(), "/robots/robot-7/execute", status_qos=STATUS_QOS)
    assert await client.wait_for_server(timeout=5.0)
    return node, client


async def test_goal_gives_feedback_and_result_and_is_logged(
    make_context: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(_config(), context=edge_ctx)
        await edge.start()
        _, client = await _client(ctx)
        feedback: list[float] = []
        goal = _execute().Goal(order_id="wo-1", task="pick", has_target=True, target_x=3.0, target_y=4.0)
        handle = await client.send_goal(
            goal, feedback_callback=lambda m: feedback.append(m.feedback.progress)
        )
        assert handle.accepted
        response = await handle.get_result(timeout=10.0)
        assert response.status == GoalStatus.SUCCEEDED
        assert response.result.success
        assert (response.result.final_pose.x, response.result.final_pose.y) == pytest.approx((3.0, 4.0))
        assert feedback, "feedback arrived before the result"
        assert feedback == sorted(feedback)
        assert edge.current_order_id == ""
    received = "robot-7: received work order wo-1 (task='pick', target=(3.0, 4.0), attempt=0)"
    assert received in caplog.messages


async def test_status_at_rate_and_on_change(make_context: ContextFactory) -> None:
    status_cls: Any = default_registry().get_class("robotfleet_nodes/msg/RobotStatus")
    async with make_context() as edge_ctx, make_context() as ctx:
        got: list[Any] = []
        executing = asyncio.Event()
        listener = Node("listener", context=ctx)
        await listener.start()

        def on_status(msg: Any) -> None:
            got.append(msg)
            if msg.current_order_id == "wo-2":
                executing.set()

        await listener.create_subscription(status_cls, "/robots/robot-7/status", on_status, STATUS_QOS)
        edge = EdgeNode(_config(work_time_s={"pick": 5.0}), context=edge_ctx)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await edge.start()
        await eventually(lambda: len(got) >= 8, what="eight idle heartbeats")
        idle, window = len(got), loop.time() - started
        # Never faster than 10 Hz (its timer skips missed ticks, never bursts to catch up);
        # how much slower a busy machine makes it is not this test's business.
        assert idle <= 10 * window + 2, (idle, window)
        assert got[-1].robot_id == "robot-7" and got[-1].zone_id == "zone-1"
        assert got[-1].state == status_cls.STATE_IDLE
        assert [m.seq for m in got] == sorted(m.seq for m in got)
        _, client = await _client(ctx)
        goal = _execute().Goal(order_id="wo-2", task="pick", has_target=True, target_x=1.0, target_y=0.0)
        handle = await client.send_goal(goal)
        assert handle.accepted
        await asyncio.wait_for(executing.wait(), 10)
        first = next(m for m in got if m.current_order_id == "wo-2")
        assert first.state == status_cls.STATE_EXECUTING
        cancel = await handle.cancel_goal()
        assert len(cancel.goals_canceling) == 1
        response = await handle.get_result(timeout=5.0)
        assert response.status == GoalStatus.CANCELED
        assert not response.result.success


async def test_duplicate_goal_and_low_battery_are_rejected(
    make_context: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(_config(work_time_s={"pick": 5.0}), context=edge_ctx)
        await edge.start()
        _, client = await _client(ctx)
        goal = _execute().Goal(order_id="wo-3", task="pick")
        first = await client.send_goal(goal)
        second = await client.send_goal(goal)
        assert first.accepted and not second.accepted
        assert any("rejected work order wo-3: 'already executing it'" in m for m in caplog.messages)
        other = await client.send_goal(_execute().Goal(order_id="wo-4", task="pick"))
        assert not other.accepted, "busy"
        await first.cancel_goal()
        assert (await first.get_result(timeout=5.0)).status == GoalStatus.CANCELED

    caplog.clear()
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(_config(battery_start_percent=10.0), context=edge_ctx)
        await edge.start()
        _, client = await _client(ctx)
        handle = await client.send_goal(_execute().Goal(order_id="wo-5", task="pick"))
        assert not handle.accepted
        assert any("rejected work order wo-5" in m and "battery too low" in m for m in caplog.messages)


class _FlakyRobot(SimulatedRobot):
    """A simulated robot a test can switch OFFLINE (as the simulator's injection does)."""

    offline = False

    @property
    def status(self) -> DriverStatus:
        status = super().status
        return dataclasses.replace(status, state=RobotState.OFFLINE) if self.offline else status

    def step(self, now: float) -> list[DriverEvent]:
        events = super().step(now)
        if not self.offline:
            return events
        return [StatusChanged(self.status) if isinstance(e, StatusChanged) else e for e in events]


async def _listen_to_status(ctx: Context, status_cls: Any) -> tuple[list[Any], asyncio.Event]:
    """robot-7's status messages as they arrive, and an event set on each."""
    got: list[Any] = []
    arrived = asyncio.Event()
    listener = Node("listener", context=ctx)
    await listener.start()

    def on_status(msg: Any) -> None:
        got.append(msg)
        arrived.set()

    await listener.create_subscription(status_cls, "/robots/robot-7/status", on_status, STATUS_QOS)
    return got, arrived


async def test_offline_robot_stops_publishing_status(make_context: ContextFactory) -> None:
    status_cls: Any = default_registry().get_class("robotfleet_nodes/msg/RobotStatus")
    async with make_context() as edge_ctx, make_context() as ctx:
        got, arrived = await _listen_to_status(ctx, status_cls)
        robot = _FlakyRobot("robot-7")
        edge = EdgeNode(_config(), context=edge_ctx, driver=robot)
        await edge.start()
        await asyncio.wait_for(arrived.wait(), 10)
        robot.offline = True
        await asyncio.sleep(0.3)  # let a message in flight arrive
        silent_from = len(got)
        await asyncio.sleep(0.7)  # measuring silence: 7 heartbeats at 10 Hz would be due
        assert len(got) == silent_from, "no status while OFFLINE"
        assert all(m.state != status_cls.STATE_OFFLINE for m in got), "OFFLINE is never sent"
        arrived.clear()
        robot.offline = False
        await asyncio.wait_for(arrived.wait(), 10)


async def test_robot_offline_at_start_is_announced_only_once_online(make_context: ContextFactory) -> None:
    status_cls: Any = default_registry().get_class("robotfleet_nodes/msg/RobotStatus")
    async with make_context() as edge_ctx, make_context() as ctx:
        got, arrived = await _listen_to_status(ctx, status_cls)
        robot = _FlakyRobot("robot-7")
        robot.offline = True  # e.g. a DDS robot whose ROS 2 stack is not up yet
        edge = EdgeNode(_config(), context=edge_ctx, driver=robot)
        await edge.start()
        await asyncio.sleep(0.5)  # measuring silence: 5 heartbeats at 10 Hz would be due
        assert got == [], "an OFFLINE robot is not announced"
        robot.offline = False
        await asyncio.wait_for(arrived.wait(), 10)
        assert got[0].state != status_cls.STATE_OFFLINE


async def test_edges_of_one_context_share_one_stepper(make_context: ContextFactory) -> None:
    """One timer steps every edge of a context; idle edges still heartbeat; it goes with the last edge."""
    status_cls: Any = default_registry().get_class("robotfleet_nodes/msg/RobotStatus")
    robots = [f"robot-{i}" for i in range(1, 6)]
    async with make_context() as edge_ctx, make_context() as ctx:
        beating = {rid: asyncio.Event() for rid in robots}
        listener = Node("listener", context=ctx)
        await listener.start()

        def on_status(msg: Any) -> None:
            if msg.seq >= 3:  # the first status and two heartbeats after it
                beating[msg.robot_id].set()

        for rid in robots:
            await listener.create_subscription(status_cls, f"/robots/{rid}/status", on_status, STATUS_QOS)
        edges = [EdgeNode(_config().model_copy(update={"robot_id": rid}), context=edge_ctx) for rid in robots]
        for edge in edges:
            await edge.start()
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in beating.values())), 5.0)
        steppers = edge_node._STEPPERS[edge_ctx]
        assert list(steppers) == [0.1]  # status at 10 Hz: stepped every 0.1 s
        assert len(steppers[0.1]) == 5
        for edge in edges[:2]:
            await edge.destroy_node()
        assert len(steppers[0.1]) == 3
        for edge in edges[2:]:
            await edge.destroy_node()
        assert not edge_node._STEPPERS.get(edge_ctx)


def test_main_reports_a_bad_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDGE_CONFIG", str(tmp_path / "missing.yaml"))
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edge: ") and "missing.yaml" in err
