"""A simulated ROS 2 robot as a plain cyclonedds program: the robot side of the DDS bridge test.

It does NOT import robotfleet_nodes: every type is written by hand the way rosidl and
rmw_cyclonedds define it (``pkg::msg::dds_::Type_``, XCDR1, services with the request header
``{uint64 guid; int64 seq}``), so it stands in for an unmodified ROS 2 robot stack.

    python dds_robot_peer.py <domain_id> <battery 0..1>

- publishes ``/battery_state`` (sensor_msgs/BatteryState, CHARGING when battery < 0.2) and
  ``/odom`` (nav_msgs/Odometry at x=3, y=4, yaw=pi/2, 0.5 m/s) every 100 ms;
- reads ``/work_order`` (robotfleet_nodes/WorkOrder) and answers on ``/work_order_status``
  (robotfleet_nodes/WorkOrderUpdate): EXECUTING 0.5, then COMPLETED (or CANCELLED when the
  order comes again with state CANCELLED);
- serves the action ``/execute_task`` (robotfleet_nodes/action/ExecuteTask) as rclcpp's
  action server does on DDS: ``_action/send_goal``, ``get_result``, ``cancel_goal``,
  ``feedback`` and the transient-local ``status``. Goals run 0.3 s (feedback 0.5) and succeed.

Events are JSON lines on stdout. Exits when stdin closes or after 60 s.
"""

import json
import math
import select
import sys
import time
from dataclasses import dataclass, field

from cyclonedds.core import Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as t
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic


# -- standard messages ---------------------------------------------------------------------
@dataclass
class Time_(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: t.int32 = 0
    nanosec: t.uint32 = 0


@dataclass
class Header_(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time_ = field(default_factory=Time_)
    frame_id: str = ""


@dataclass
class BatteryState_(IdlStruct, typename="sensor_msgs::msg::dds_::BatteryState_"):
    header: Header_
    voltage: t.float32
    temperature: t.float32
    current: t.float32
    charge: t.float32
    capacity: t.float32
    design_capacity: t.float32
    percentage: t.float32
    power_supply_status: t.uint8
    power_supply_health: t.uint8
    power_supply_technology: t.uint8
    present: bool
    cell_voltage: t.sequence[t.float32]
    cell_temperature: t.sequence[t.float32]
    location: str
    serial_number: str


@dataclass
class Point_(IdlStruct, typename="geometry_msgs::msg::dds_::Point_"):
    x: t.float64 = 0.0
    y: t.float64 = 0.0
    z: t.float64 = 0.0


@dataclass
class Quaternion_(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: t.float64 = 0.0
    y: t.float64 = 0.0
    z: t.float64 = 0.0
    w: t.float64 = 1.0


@dataclass
class Pose_(IdlStruct, typename="geometry_msgs::msg::dds_::Pose_"):
    position: Point_
    orientation: Quaternion_


@dataclass
class PoseWithCovariance_(IdlStruct, typename="geometry_msgs::msg::dds_::PoseWithCovariance_"):
    pose: Pose_
    covariance: t.array[t.float64, 36]


@dataclass
class Vector3_(IdlStruct, typename="geometry_msgs::msg::dds_::Vector3_"):
    x: t.float64 = 0.0
    y: t.float64 = 0.0
    z: t.float64 = 0.0


@dataclass
class Twist_(IdlStruct, typename="geometry_msgs::msg::dds_::Twist_"):
    linear: Vector3_
    angular: Vector3_


@dataclass
class TwistWithCovariance_(IdlStruct, typename="geometry_msgs::msg::dds_::TwistWithCovariance_"):
    twist: Twist_
    covariance: t.array[t.float64, 36]


@dataclass
class Odometry_(IdlStruct, typename="nav_msgs::msg::dds_::Odometry_"):
    header: Header_
    child_frame_id: str
    pose: PoseWithCovariance_
    twist: TwistWithCovariance_


@dataclass
class Pose2D_(IdlStruct, typename="geometry_msgs::msg::dds_::Pose2D_"):
    x: t.float64 = 0.0
    y: t.float64 = 0.0
    theta: t.float64 = 0.0


# -- robotfleet_nodes interfaces (as rosidl generates them from msg/ and action/) ----------
@dataclass
class WorkOrderEvent_(IdlStruct, typename="robotfleet_nodes::msg::dds_::WorkOrderEvent_"):
    state: t.uint8
    stamp: Time_
    by: str
    note: str


@dataclass
class WorkOrder_(IdlStruct, typename="robotfleet_nodes::msg::dds_::WorkOrder_"):
    id: str
    area_id: str
    zone_id: str
    robot_id: str
    task: str
    priority: t.uint8
    has_target: bool
    target_x: t.float64
    target_y: t.float64
    state: t.uint8
    created: Time_
    updated: Time_
    attempts: t.uint32
    error: str
    history: t.sequence[WorkOrderEvent_]


@dataclass
class WorkOrderUpdate_(IdlStruct, typename="robotfleet_nodes::msg::dds_::WorkOrderUpdate_"):
    order_id: str
    attempt: t.uint32
    state: t.uint8
    area_id: str
    zone_id: str
    robot_id: str
    progress: t.float32
    stamp: Time_
    by: str
    note: str


@dataclass
class UUID_(IdlStruct, typename="unique_identifier_msgs::msg::dds_::UUID_"):
    uuid: t.array[t.uint8, 16]


@dataclass
class Goal_(IdlStruct, typename="robotfleet_nodes::action::dds_::ExecuteTask_Goal_"):
    order_id: str
    task: str
    has_target: bool
    target_x: t.float64
    target_y: t.float64
    priority: t.uint8
    attempt: t.uint32
    lease_s: t.float32
    on_lease_loss: t.uint8


@dataclass
class Result_(IdlStruct, typename="robotfleet_nodes::action::dds_::ExecuteTask_Result_"):
    success: bool
    message: str
    final_pose: Pose2D_
    refused: t.uint8
    attempt: t.uint32


@dataclass
class Feedback_(IdlStruct, typename="robotfleet_nodes::action::dds_::ExecuteTask_Feedback_"):
    progress: t.float32
    pose: Pose2D_
    state: t.uint8


@dataclass
class SendGoalRequest_(IdlStruct, typename="robotfleet_nodes::action::dds_::ExecuteTask_SendGoal_Request_"):
    guid: t.uint64
    seq: t.int64
    goal_id: UUID_
    goal: Goal_


@dataclass
class SendGoalResponse_(IdlStruct, typename="robotfleet_nodes::action::dds_::ExecuteTask_SendGoal_Response_"):
    guid: t.uint64
    seq: t.int64
    accepted: bool
    stamp: Time_


@dataclass
class GetResultRequest_(IdlStruct, typename="robotfleet_nodes::action::dds_::ExecuteTask_GetResult_Request_"):
    guid: t.uint64
    seq: t.int64
    goal_id: UUID_


@dataclass
class GetResultResponse_(
    IdlStruct, typename="robotfleet_nodes::action::dds_::ExecuteTask_GetResult_Response_"
):
    guid: t.uint64
    seq: t.int64
    status: t.int8
    result: Result_


@dataclass
class FeedbackMessage_(IdlStruct, typename="robotfleet_nodes::action::dds_::ExecuteTask_FeedbackMessage_"):
    goal_id: UUID_
    feedback: Feedback_


@dataclass
class GoalInfo_(IdlStruct, typename="action_msgs::msg::dds_::GoalInfo_"):
    goal_id: UUID_
    stamp: Time_


@dataclass
class GoalStatus_(IdlStruct, typename="action_msgs::msg::dds_::GoalStatus_"):
    goal_info: GoalInfo_
    status: t.int8


@dataclass
class GoalStatusArray_(IdlStruct, typename="action_msgs::msg::dds_::GoalStatusArray_"):
    status_list: t.sequence[GoalStatus_]


@dataclass
class CancelGoalRequest_(IdlStruct, typename="action_msgs::srv::dds_::CancelGoal_Request_"):
    guid: t.uint64
    seq: t.int64
    goal_info: GoalInfo_


@dataclass
class CancelGoalResponse_(IdlStruct, typename="action_msgs::srv::dds_::CancelGoal_Response_"):
    guid: t.uint64
    seq: t.int64
    return_code: t.int8
    goals_canceling: t.sequence[GoalInfo_]


EXECUTING, SUCCEEDED, CANCELED = 2, 4, 5  # action_msgs/GoalStatus
WO_EXECUTING, WO_COMPLETED, WO_CANCELLED = 3, 4, 6  # robotfleet_nodes/WorkOrder states
GOAL_S = 0.3


def emit(**event: object) -> None:
    print(json.dumps(event), flush=True)


def now_time() -> Time_:
    ns = time.time_ns()
    return Time_(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class Goal:
    def __init__(self, goal_id: UUID_, goal: Goal_, started: float) -> None:
        self.goal_id = goal_id
        self.goal = goal
        self.started = started
        self.stamp = now_time()
        self.status = EXECUTING
        self.fed_back = False
        self.waiting: list[GetResultRequest_] = []


def main() -> None:
    domain, battery = int(sys.argv[1]), float(sys.argv[2])
    dp = DomainParticipant(domain)
    xcdr1 = Policy.DataRepresentation(use_cdrv0_representation=True)
    reliable = Qos(Policy.Reliability.Reliable(100_000_000), Policy.History.KeepLast(10), xcdr1)
    latched = Qos(
        Policy.Reliability.Reliable(100_000_000),
        Policy.Durability.TransientLocal,
        Policy.History.KeepLast(1),
        xcdr1,
    )

    def writer(name: str, kind: type, qos: Qos = reliable) -> DataWriter:
        return DataWriter(dp, Topic(dp, name, kind), qos)

    def reader(name: str, kind: type) -> DataReader:
        return DataReader(dp, Topic(dp, name, kind), reliable)

    battery_w = writer("rt/battery_state", BatteryState_)
    odom_w = writer("rt/odom", Odometry_)
    orders_r = reader("rt/work_order", WorkOrder_)
    updates_w = writer("rt/work_order_status", WorkOrderUpdate_)
    act = "execute_task/_action/"
    send_goal_r = reader(f"rq/{act}send_goalRequest", SendGoalRequest_)
    send_goal_w = writer(f"rr/{act}send_goalReply", SendGoalResponse_)
    result_r = reader(f"rq/{act}get_resultRequest", GetResultRequest_)
    result_w = writer(f"rr/{act}get_resultReply", GetResultResponse_)
    cancel_r = reader(f"rq/{act}cancel_goalRequest", CancelGoalRequest_)
    cancel_w = writer(f"rr/{act}cancel_goalReply", CancelGoalResponse_)
    feedback_w = writer(f"rt/{act}feedback", FeedbackMessage_)
    status_w = writer(f"rt/{act}status", GoalStatusArray_, latched)
    emit(event="ready")

    goals: dict[bytes, Goal] = {}
    topic_orders: dict[str, float] = {}  # order id -> when it arrived (until completed)
    yaw = math.pi / 2
    pose = Pose_(Point_(3.0, 4.0, 0.0), Quaternion_(0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)))
    final = Pose2D_(3.0, 4.0, yaw)

    def publish_status() -> None:
        status_w.write(
            GoalStatusArray_(
                status_list=[GoalStatus_(GoalInfo_(g.goal_id, g.stamp), g.status) for g in goals.values()]
            )
        )

    def answer_result(g: Goal, request: GetResultRequest_) -> None:
        result = Result_(
            success=g.status == SUCCEEDED,
            message="done" if g.status == SUCCEEDED else "",
            final_pose=final,
            refused=0,
            attempt=g.goal.attempt,
        )
        result_w.write(GetResultResponse_(guid=request.guid, seq=request.seq, status=g.status, result=result))

    end = time.monotonic() + 60
    next_pub = 0.0
    while time.monotonic() < end:
        if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.readline():
            break  # stdin closed: the test is done
        now = time.monotonic()
        if now >= next_pub:
            next_pub = now + 0.1
            battery_w.write(
                BatteryState_(
                    header=Header_(now_time(), "base_link"),
                    voltage=24.0,
                    temperature=25.0,
                    current=-1.0,
                    charge=math.nan,
                    capacity=math.nan,
                    design_capacity=40.0,
                    percentage=battery,
                    power_supply_status=1 if battery < 0.2 else 2,  # CHARGING / DISCHARGING
                    power_supply_health=1,  # GOOD
                    power_supply_technology=3,
                    present=True,
                    cell_voltage=[],
                    cell_temperature=[],
                    location="",
                    serial_number="",
                )
            )
            odom_w.write(
                Odometry_(
                    header=Header_(now_time(), "odom"),
                    child_frame_id="base_link",
                    pose=PoseWithCovariance_(pose, [0.0] * 36),
                    twist=TwistWithCovariance_(Twist_(Vector3_(0.5, 0.0, 0.0), Vector3_()), [0.0] * 36),
                )
            )
        # -- topic mode
        for order in orders_r.take(32):
            emit(
                event="work_order",
                id=order.id,
                task=order.task,
                state=order.state,
                robot_id=order.robot_id,
                has_target=order.has_target,
                target_x=order.target_x,
                target_y=order.target_y,
            )
            if order.state == WO_CANCELLED:
                topic_orders.pop(order.id, None)
                state, progress = WO_CANCELLED, 0.0
            else:
                topic_orders[order.id] = now
                state, progress = WO_EXECUTING, 0.5
            updates_w.write(
                WorkOrderUpdate_(
                    order.id, 0, state, "", "", order.robot_id, progress, now_time(), "robot", ""
                )
            )
        for order_id, started in list(topic_orders.items()):
            if now - started >= GOAL_S:
                del topic_orders[order_id]
                updates_w.write(
                    WorkOrderUpdate_(order_id, 0, WO_COMPLETED, "", "", "", 1.0, now_time(), "robot", "done")
                )
                emit(event="work_order_done", id=order_id)
        # -- action mode
        for request in send_goal_r.take(32):
            key = bytes(request.goal_id.uuid)
            goals[key] = Goal(request.goal_id, request.goal, now)
            send_goal_w.write(
                SendGoalResponse_(guid=request.guid, seq=request.seq, accepted=True, stamp=now_time())
            )
            emit(event="goal", order_id=request.goal.order_id, task=request.goal.task)
            publish_status()
        for request in cancel_r.take(32):
            g = goals.get(bytes(request.goal_info.goal_id.uuid))
            canceling = []
            if g is not None and g.status == EXECUTING:
                g.status = CANCELED
                canceling = [GoalInfo_(g.goal_id, g.stamp)]
                emit(event="cancel", order_id=g.goal.order_id)
                publish_status()
                for waiting in g.waiting:
                    answer_result(g, waiting)
                g.waiting.clear()
            cancel_w.write(
                CancelGoalResponse_(
                    guid=request.guid,
                    seq=request.seq,
                    return_code=0 if canceling else 2,
                    goals_canceling=canceling,
                )
            )
        for request in result_r.take(32):
            g = goals.get(bytes(request.goal_id.uuid))
            if g is None:
                result_w.write(
                    GetResultResponse_(
                        guid=request.guid, seq=request.seq, status=0, result=Result_(False, "", Pose2D_())
                    )
                )
            elif g.status == EXECUTING:
                g.waiting.append(request)
            else:
                answer_result(g, request)
        for g in goals.values():
            if g.status != EXECUTING:
                continue
            if not g.fed_back and now - g.started >= GOAL_S / 2:
                g.fed_back = True
                feedback_w.write(FeedbackMessage_(g.goal_id, Feedback_(0.5, final, 2)))
            if now - g.started >= GOAL_S:
                g.status = SUCCEEDED
                emit(event="goal_done", order_id=g.goal.order_id)
                publish_status()
                for waiting in g.waiting:
                    answer_result(g, waiting)
                g.waiting.clear()
        time.sleep(0.005)


if __name__ == "__main__":
    main()
