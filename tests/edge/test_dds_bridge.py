"""The edge's ``dds`` driver: a ROS 2 robot on DDS, bridged to the fleet on NATS.

Two levels, all on real cyclonedds restricted to loopback (a random domain per test):

- the driver against a robot side made of our own nodes on a second DDS participant
  (battery / pose mapping, offline timeout, goals accepted, rejected, cancelled, malformed
  messages);
- the acceptance test of issue 7: fleet + area + zone + one edge with ``driver: dds`` on the
  session's NATS server, and ``dds_robot_peer.py``, a plain cyclonedds program that does not
  import this project, as the robot. The robot's battery shows in ``GET /api/robots``, a
  work order POSTed to the fleet reaches the robot (action or topic) and ends COMPLETED, and
  the robot going away shows as OFFLINE.
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import JsonLinesPeer, eventually, http_call, json_lines_peer

pytest.importorskip("cyclonedds")

from robotfleet_nodes.action import (
    ActionServer,
    CancelResponse,
    GoalResponse,
    GoalStatus,
    ServerGoalHandle,
)
from robotfleet_nodes.area.node import AreaNode
from robotfleet_nodes.config import (
    AreaConfig,
    AssignmentConfig,
    DdsDriverConfig,
    EdgeConfig,
    FleetConfig,
    SchedulerConfig,
    ZoneConfig,
)
from robotfleet_nodes.edge.dds_bridge import DdsBridgeDriver, battery_percent, pose_from
from robotfleet_nodes.edge.driver import (
    DriverBusy,
    DriverEvent,
    DriverRejected,
    Pose2D,
    RobotState,
    StatusChanged,
    TaskFinished,
    TaskProgress,
    TaskRequest,
)
from robotfleet_nodes.edge.node import EdgeNode, driver_from_config
from robotfleet_nodes.fleet.http_api import build_app
from robotfleet_nodes.fleet.main import STATIC_DIR
from robotfleet_nodes.fleet.service import FleetService
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.dds import LOOPBACK_CONFIG, DdsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.web import HttpServer
from robotfleet_nodes.zone.node import ZoneNode

PEER = Path(__file__).with_name("dds_robot_peer.py")
WAIT = 15.0
BatteryState: Any = default_registry().get_class("sensor_msgs/msg/BatteryState")
Odometry: Any = default_registry().get_class("nav_msgs/msg/Odometry")
PoseStamped: Any = default_registry().get_class("geometry_msgs/msg/PoseStamped")
Pose2DMsg: Any = default_registry().get_class("geometry_msgs/msg/Pose2D")
WorkOrder: Any = default_registry().get_class("robotfleet_nodes/msg/WorkOrder")
WorkOrderUpdate: Any = default_registry().get_class("robotfleet_nodes/msg/WorkOrderUpdate")
ExecuteTask: Any = default_registry().get_interface("robotfleet_nodes/action/ExecuteTask")


@pytest.fixture(autouse=True)
def _dds_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """DDS stays on 127.0.0.1 (no multicast) for this process and the peer it starts."""
    monkeypatch.setenv("CYCLONEDDS_URI", LOOPBACK_CONFIG)


@pytest.fixture
def domain_id() -> int:
    return random.randint(1, 230)


# -- the driver against a robot side of our own nodes -------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RobotSide(Node):
    """The robot's ROS 2 stack, played by our own node on a second DDS participant."""

    async def on_start(self) -> None:
        self.battery = await self.create_publisher(BatteryState, "battery_state")
        self.odom = await self.create_publisher(Odometry, "odom")
        self.order_updates = await self.create_publisher(WorkOrderUpdate, "work_order_status")
        self.orders: asyncio.Queue[Any] = asyncio.Queue()
        await self.create_subscription(WorkOrder, "work_order", self.orders.put_nowait)
        self.goal_response = GoalResponse.ACCEPT
        self.goals: list[ServerGoalHandle] = []
        self.finish = asyncio.Event()
        self.server = await ActionServer.create(
            self,
            ExecuteTask,
            "execute_task",
            self._execute,
            goal_callback=lambda goal: self.goal_response,
            cancel_callback=self._cancel,
        )
        self.cancelled: list[str] = []

    def _cancel(self, handle: ServerGoalHandle) -> CancelResponse:
        self.cancelled.append(handle.request.order_id)
        self.finish.set()
        return CancelResponse.ACCEPT

    async def _execute(self, handle: ServerGoalHandle) -> Any:
        self.goals.append(handle)
        feedback = ExecuteTask.Feedback(progress=0.5, pose=Pose2DMsg(x=1.0, y=2.0, theta=0.0), state=1)
        await handle.publish_feedback(feedback)
        await self.finish.wait()  # set by the test, or by a cancel request
        if handle.is_cancel_requested:
            handle.canceled()
            return ExecuteTask.Result(success=False, message="stopped")
        handle.succeed()
        return ExecuteTask.Result(success=True, message="done", final_pose=Pose2DMsg(x=5.0, y=6.0, theta=1.0))

    async def send_battery(self, percentage: float, status: int = 2, **fields: Any) -> None:
        await self.battery.publish(BatteryState(percentage=percentage, power_supply_status=status, **fields))

    async def send_odom(self, x: float, y: float, yaw: float, speed: float = 0.0) -> None:
        msg = Odometry()
        msg.pose.pose.position.x = x
        msg.pose.pose.position.y = y
        msg.pose.pose.orientation.z = math.sin(yaw / 2)
        msg.pose.pose.orientation.w = math.cos(yaw / 2)
        msg.twist.twist.linear.x = speed
        await self.odom.publish(msg)


Bench = tuple[DdsBridgeDriver, RobotSide, FakeClock]


@pytest.fixture
async def bench(domain_id: int) -> AsyncIterator[Callable[..., Any]]:
    """``await make(**dds_config)``: a started driver, a robot side on the same domain, a clock."""
    async with AsyncExitStack() as stack:

        async def make(**options: Any) -> Bench:
            clock = FakeClock()
            options.setdefault("server_wait_s", 5.0)
            driver = DdsBridgeDriver("robot-1", DdsDriverConfig(domain_id=domain_id, **options), clock=clock)
            await driver.start()
            stack.push_async_callback(driver.close)
            transport = DdsTransport(domain_id)
            stack.push_async_callback(transport.close)
            context = await stack.enter_async_context(Context(transport=transport, enable_rosout=False))
            robot = RobotSide("robot", context=context)
            await robot.start()
            driver.step(clock.now)
            return driver, robot, clock

        yield make


async def bring_online(driver: DdsBridgeDriver, robot: RobotSide, percentage: float = 0.5) -> None:
    await robot.send_battery(percentage)
    await eventually(lambda: driver.status.state is RobotState.IDLE, what="the robot online")


async def events_until_finished(driver: DdsBridgeDriver, clock: FakeClock) -> list[DriverEvent]:
    """Step the driver (time standing still) until a TaskFinished comes out."""
    seen: list[DriverEvent] = []

    def step() -> bool:
        seen.extend(driver.step(clock.now))
        return any(isinstance(e, TaskFinished) for e in seen)

    await eventually(step, what="TaskFinished")
    return seen


def finished(events: list[DriverEvent]) -> TaskFinished:
    [done] = [e for e in events if isinstance(e, TaskFinished)]
    return done


def test_mapping_helpers() -> None:
    assert battery_percent(BatteryState(percentage=0.42)) == pytest.approx(42.0)
    assert battery_percent(BatteryState(percentage=math.nan)) is None  # unknown
    assert battery_percent(BatteryState(percentage=math.nan, charge=10.0, capacity=40.0)) == 25.0
    assert battery_percent(BatteryState(percentage=87.0)) == 87.0  # a driver sending percent
    with pytest.raises(ValueError, match=r"not within 0\.\.1"):
        battery_percent(BatteryState(percentage=-0.5))
    stamped = PoseStamped()
    stamped.pose.position.x, stamped.pose.orientation.w = 2.0, 1.0
    assert pose_from(stamped, "geometry_msgs/msg/PoseStamped") == (Pose2D(2.0, 0.0, 0.0), None)
    assert pose_from(Pose2DMsg(x=1.0, y=2.0, theta=3.0), "geometry_msgs/msg/Pose2D") == (
        Pose2D(1.0, 2.0, 3.0),
        None,
    )
    stamped.pose.orientation.w = 0.0
    with pytest.raises(ValueError, match="zero quaternion"):
        pose_from(stamped, "geometry_msgs/msg/PoseStamped")


def test_driver_from_config_builds_the_bridge() -> None:
    driver = driver_from_config(
        EdgeConfig(robot_id="robot-9", driver="dds", dds=DdsDriverConfig(domain_id=3))
    )
    assert isinstance(driver, DdsBridgeDriver)
    assert driver.robot_id == "robot-9" and driver.config.domain_id == 3
    assert driver.status.state is RobotState.OFFLINE  # nothing heard from the robot yet


def test_missing_cyclonedds_fails_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from robotfleet_nodes.transport.dds import DdsUnavailable

    monkeypatch.setitem(sys.modules, "cyclonedds", None)  # "not installed"
    monkeypatch.delitem(sys.modules, "robotfleet_nodes.transport.dds")
    with pytest.raises(ImportError, match=r"pip install 'robotfleet_nodes\[dds\]'") as caught:
        driver_from_config(EdgeConfig(driver="dds"))
    assert type(caught.value).__name__ == DdsUnavailable.__name__


async def test_battery_pose_and_charging_map_to_the_status(bench: Callable[..., Any]) -> None:
    driver, robot, clock = await bench()
    assert driver.status.state is RobotState.OFFLINE
    await robot.send_battery(0.42)
    await robot.send_odom(1.0, 2.0, math.pi / 2, speed=0.3)
    await eventually(
        lambda: driver.status.battery_percent == 42.0 and driver.status.pose.x == 1.0, what="battery and pose"
    )
    status = driver.status
    assert status.state is RobotState.IDLE and not status.charging
    assert (status.pose.y, status.pose.theta, status.velocity) == (2.0, round(math.pi / 2, 3), 0.3)
    [changed] = [e for e in driver.step(clock.now) if isinstance(e, StatusChanged)]
    seq = changed.status.seq
    assert driver.step(clock.now) == []  # nothing new: no event, same snapshot
    # NaN = unknown: the last known level stays; the robot still counts as heard.
    await robot.send_battery(math.nan)
    await robot.send_battery(0.1, status=BatteryState.POWER_SUPPLY_STATUS_CHARGING)
    await eventually(lambda: driver.status.charging, what="charging")
    assert driver.status.state is RobotState.CHARGING and driver.status.battery_percent == 10.0
    assert driver.status.seq > seq
    # A dead battery is a FATAL error: ERROR, and no orders.
    await robot.send_battery(0.1, power_supply_health=BatteryState.POWER_SUPPLY_HEALTH_DEAD)
    await eventually(lambda: driver.status.state is RobotState.ERROR, what="ERROR")
    assert [e.code for e in driver.status.errors] == ["BATTERY_DEAD"]
    with pytest.raises(DriverRejected, match="BATTERY_DEAD"):
        driver.start_task(TaskRequest("o-1", "pick"))


async def test_nan_battery_before_any_level_reports_the_configured_default(bench: Callable[..., Any]) -> None:
    driver, robot, _ = await bench(battery_unknown_percent=60.0)
    await robot.send_battery(math.nan)
    await eventually(lambda: driver.status.state is RobotState.IDLE, what="online")
    assert driver.status.battery_percent == 60.0


async def test_silence_is_offline_and_fails_the_running_order(bench: Callable[..., Any]) -> None:
    driver, robot, clock = await bench(orders="topic", offline_timeout_s=2.0)
    with pytest.raises(DriverRejected, match="OFFLINE"):
        driver.start_task(TaskRequest("o-1", "pick"))
    await bring_online(driver, robot)
    driver.start_task(TaskRequest("o-1", "pick"))
    with pytest.raises(DriverBusy, match="o-1"):
        driver.start_task(TaskRequest("o-2", "pick"))
    clock.now += 1.5
    assert driver.step(clock.now)[-1].status.state is RobotState.EXECUTING  # type: ignore[union-attr]
    clock.now += 1.0  # 2.5 s of silence
    events = driver.step(clock.now)
    assert finished(events).outcome.success is False
    assert "offline" in finished(events).outcome.message
    assert isinstance(events[-1], StatusChanged) and events[-1].status.state is RobotState.OFFLINE
    await robot.send_battery(0.5)  # the robot's stack is back
    await eventually(lambda: driver.status.state is RobotState.IDLE, what="online again")


async def test_goal_runs_to_completion_with_feedback(bench: Callable[..., Any]) -> None:
    driver, robot, clock = await bench()
    await bring_online(driver, robot)
    driver.start_task(TaskRequest("o-1", "pick", target=Pose2D(5.0, 6.0), priority=7))
    assert driver.status.state is RobotState.EXECUTING and driver.status.current_task_id == "o-1"
    await eventually(lambda: robot.goals, what="the goal on the robot")
    goal = robot.goals[0].request
    assert (goal.order_id, goal.task, goal.has_target, goal.target_x, goal.priority) == (
        "o-1",
        "pick",
        True,
        5.0,
        7,
    )
    await eventually(lambda: driver.status.progress == 0.5, what="feedback")
    robot.finish.set()
    events = await events_until_finished(driver, clock)
    assert [e.progress for e in events if isinstance(e, TaskProgress)] == [0.5, 1.0]
    outcome = finished(events).outcome
    assert (outcome.success, outcome.message, outcome.final_pose) == (True, "done", Pose2D(5.0, 6.0, 1.0))
    assert driver.status.state is RobotState.IDLE and driver.status.current_task_id is None


async def test_rejected_goal_fails_the_task(bench: Callable[..., Any]) -> None:
    driver, robot, clock = await bench()
    await bring_online(driver, robot)
    robot.goal_response = GoalResponse.REJECT
    driver.start_task(TaskRequest("o-1", "pick"))  # accepted locally ...
    outcome = finished(await events_until_finished(driver, clock)).outcome
    assert (outcome.success, outcome.message) == (False, "the robot rejected the goal")  # ... refused later
    assert driver.status.state is RobotState.IDLE


async def test_no_action_server_fails_the_task(bench: Callable[..., Any]) -> None:
    driver, robot, clock = await bench(action_name="nobody_serves_this", server_wait_s=0.3)
    await bring_online(driver, robot)
    driver.start_task(TaskRequest("o-1", "pick"))
    outcome = finished(await events_until_finished(driver, clock)).outcome
    assert not outcome.success and "no action server /nobody_serves_this" in outcome.message


async def test_cancel_stops_the_goal_on_the_robot(bench: Callable[..., Any]) -> None:
    driver, robot, clock = await bench()
    await bring_online(driver, robot)
    driver.start_task(TaskRequest("o-1", "pick"))
    await eventually(lambda: robot.goals, what="the goal on the robot")
    assert driver.cancel_task("o-1") is True
    assert driver.cancel_task("o-1") is False  # twice is safe
    events = driver.step(clock.now)
    assert (finished(events).outcome.success, finished(events).outcome.message) == (False, "cancelled")
    await eventually(lambda: robot.cancelled == ["o-1"], what="the cancel on the robot")
    await eventually(lambda: robot.goals[0].status is GoalStatus.CANCELED, what="the goal cancelled")
    assert not [e for e in driver.step(clock.now) if isinstance(e, TaskFinished)]  # exactly once


async def test_robot_going_silent_mid_goal_fails_it(bench: Callable[..., Any]) -> None:
    driver, robot, clock = await bench(offline_timeout_s=1.0)
    await bring_online(driver, robot)
    driver.start_task(TaskRequest("o-1", "pick"))
    await eventually(lambda: robot.goals, what="the goal on the robot")
    clock.now += 1.5
    events = driver.step(clock.now)
    assert "robot went offline" in finished(events).outcome.message
    assert driver.status.state is RobotState.OFFLINE
    await eventually(lambda: robot.cancelled == ["o-1"], what="a cancel sent, in case it still listens")


async def test_topic_orders_and_reports(bench: Callable[..., Any]) -> None:
    driver, robot, clock = await bench(orders="topic")
    await bring_online(driver, robot)
    driver.start_task(TaskRequest("o-1", "inspect", target=Pose2D(7.0, 8.0)))
    order = await asyncio.wait_for(robot.orders.get(), WAIT)
    assert (order.id, order.task, order.robot_id, order.target_x, order.state) == (
        "o-1",
        "inspect",
        "robot-1",
        7.0,
        2,
    )
    await robot.order_updates.publish(WorkOrderUpdate(order_id="o-1", state=3, progress=0.25))
    await robot.order_updates.publish(WorkOrderUpdate(order_id="o-1", state=4, note="inspected"))
    events = await events_until_finished(driver, clock)
    assert [e.progress for e in events if isinstance(e, TaskProgress)] == [0.25, 1.0]
    assert (finished(events).outcome.success, finished(events).outcome.message) == (True, "inspected")
    # A cancel is the order again, with state CANCELLED.
    driver.start_task(TaskRequest("o-2", "pick"))
    assert (await asyncio.wait_for(robot.orders.get(), WAIT)).id == "o-2"
    assert driver.cancel_task("o-2")
    cancel = await asyncio.wait_for(robot.orders.get(), WAIT)
    assert (cancel.id, cancel.state) == ("o-2", 6)


async def test_topic_order_without_a_report_fails(bench: Callable[..., Any]) -> None:
    driver, robot, clock = await bench(orders="topic", order_ack_timeout_s=0.3)
    await bring_online(driver, robot)
    driver.start_task(TaskRequest("o-1", "pick"))
    outcome = finished(await events_until_finished(driver, clock)).outcome
    assert not outcome.success and "did not report on work_order_status" in outcome.message


async def test_malformed_messages_are_counted_and_ignored(bench: Callable[..., Any]) -> None:
    driver, robot, _ = await bench()
    await bring_online(driver, robot, 0.5)
    await robot.send_battery(-3.0)
    bad_pose = Odometry()
    bad_pose.pose.pose.position.x = math.nan
    await robot.odom.publish(bad_pose)
    no_rotation = Odometry()
    no_rotation.pose.pose.orientation.w = 0.0
    await robot.odom.publish(no_rotation)  # a zero quaternion
    await eventually(lambda: driver.malformed == 3, what="three malformed messages counted")
    assert driver.status.battery_percent == 50.0 and driver.status.pose == Pose2D(0.0, 0.0, 0.0)
    await robot.send_battery(0.75)  # and it carries on
    await eventually(lambda: driver.status.battery_percent == 75.0, what="a good message after bad ones")
    assert driver.status.state is RobotState.IDLE


# -- acceptance: fleet on NATS, the robot a plain cyclonedds program ---------------------------------
def robot_peer(domain_id: int, battery: float) -> AbstractAsyncContextManager[JsonLinesPeer]:
    """``dds_robot_peer.py``: the robot's own ROS 2 side, a plain cyclonedds program."""
    return json_lines_peer(PEER, str(domain_id), str(battery))


@asynccontextmanager
async def fleet_with_a_dds_robot(nats_url: str, root: str, dds: DdsDriverConfig) -> AsyncIterator[str]:
    """Fleet (HTTP on a free port), area-1, zone-1 and robot-1's edge with ``driver: dds``."""
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=root))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(transport.close)
        context = await stack.enter_async_context(Context(transport=transport, enable_rosout=False))
        edge = EdgeNode(EdgeConfig(driver="dds", dds=dds, status_rate_hz=10.0), context=context)
        zone = ZoneNode(
            ZoneConfig(
                heartbeat_timeout_s=1.0,
                summary_period_s=0.1,
                assignment=AssignmentConfig(min_battery_percent=5.0),
            ),
            context=context,
        )
        area = AreaNode(AreaConfig(zone_silence_timeout_s=1.0, summary_period_s=0.1), context=context)
        for node in (edge, zone, area):
            await node.start()
            stack.push_async_callback(node.destroy_node)
        fleet_config = FleetConfig(
            summary_period_s=0.2,
            scheduler=SchedulerConfig(
                dispatch_interval_s=0.05, dispatch_timeout_s=2.0, area_silence_timeout_s=2.0
            ),
        )
        service = FleetService(fleet_config, context)
        await service.start()
        stack.push_async_callback(service.stop)
        server = await stack.enter_async_context(
            HttpServer(
                build_app(service, static_dir=STATIC_DIR, check_responses=True),
                "127.0.0.1",
                0,
                metrics=service.metrics,
            )
        )
        yield f"http://127.0.0.1:{server.port}"


async def robot_1(base: str) -> dict[str, Any] | None:
    status, robots = await http_call(base, "GET", "/api/robots")
    assert status == 200, robots
    return next((r for r in robots if r["id"] == "robot-1"), None)


@pytest.mark.parametrize("orders", ["action", "topic"])
async def test_fleet_sees_the_ros2_robot_and_its_work_orders_reach_it(
    nats_url: str, unique: str, domain_id: int, orders: str
) -> None:
    dds = DdsDriverConfig(domain_id=domain_id, orders=orders, offline_timeout_s=1.0)  # type: ignore[arg-type]
    async with robot_peer(domain_id, 0.42) as peer, fleet_with_a_dds_robot(nats_url, unique, dds) as base:
        # The robot's BatteryState and Odometry, from DDS, in the fleet's API over NATS.
        async def robot_ready() -> Any:
            robot = await robot_1(base)
            return robot if robot is not None and robot["state"] == "IDLE" else None

        robot = await eventually(robot_ready, what="robot-1 IDLE in GET /api/robots")
        assert robot["battery"] == pytest.approx(42.0, abs=0.1)
        assert (robot["x"], robot["y"]) == (3.0, 4.0) and robot["theta"] == pytest.approx(
            math.pi / 2, abs=1e-3
        )
        # A work order POSTed to the fleet reaches the robot on DDS and completes.
        body = {"area_id": "area-1", "task": "pick", "id": f"wo-{orders}", "target": {"x": 1.5, "y": 2.5}}
        status, order = await http_call(base, "POST", "/api/work-orders", body)
        assert status == 201, order
        kind = "goal" if orders == "action" else "work_order"
        key = "order_id" if orders == "action" else "id"
        reached = await peer.wait_for(lambda e: e["event"] == kind and e[key] == f"wo-{orders}")
        assert reached["task"] == "pick"

        async def final_state() -> Any:
            status, order = await http_call(base, "GET", f"/api/work-orders/wo-{orders}")
            assert status == 200, order
            return order if order["state"] in ("COMPLETED", "FAILED", "CANCELLED") else None

        order = await eventually(final_state, what=f"wo-{orders} final")
        assert order["state"] == "COMPLETED", order
        assert order["robot_id"] == "robot-1"
        # The robot's ROS stack dies: the fleet sees the robot go OFFLINE.
        await peer.stop()

        async def offline() -> Any:
            robot = await robot_1(base)
            return robot is not None and robot["state"] == "OFFLINE"

        await eventually(offline, what="robot-1 OFFLINE after its ROS stack stopped")
