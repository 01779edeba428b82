"""The driver sections of an edge's file: ``sim:`` (the simulated robot), ``dds:`` (a ROS 2
robot behind the DDS bridge) and ``vda5050:`` (a VDA 5050 vehicle over MQTT), and
:class:`Pose2DConfig`. Re-exported by :mod:`robotfleet_nodes.config.models`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from robotfleet_nodes.config._types import (
    _Percent,
    _Probability,
    _Seconds,
    _Section,
)
from robotfleet_nodes.names import validate_namespace, validate_topic_name

__all__ = ["DdsDriverConfig", "Pose2DConfig", "SimDriverConfig", "Vda5050DriverConfig"]


class Pose2DConfig(_Section):
    """A position in the map frame: x, y [m] and heading theta [rad]."""

    x: float = Field(0.0, allow_inf_nan=False)
    y: float = Field(0.0, allow_inf_nan=False)
    theta: float = Field(0.0, allow_inf_nan=False)


class SimDriverConfig(_Section):
    """``sim:``: the simulated robot (``driver: sim``).

    Keys and defaults mirror :class:`robotfleet_nodes.edge.sim.SimConfig` one to one (plus
    ``start_pose`` and ``battery_start_percent``, which the simulator takes per robot), so
    :meth:`sim_kwargs` gives the simulator's ``SimConfig`` keywords (``dock`` as a mapping
    ``{x, y, theta}``: the edge turns it into its ``Pose2D``).
    """

    speed: float = Field(1.0, gt=0, allow_inf_nan=False)
    """Travel speed [m/s]."""
    battery_drain_per_s: float = Field(0.05, ge=0, allow_inf_nan=False)
    """Drain while moving or working [%/s]."""
    idle_drain_per_s: float = Field(0.005, ge=0, allow_inf_nan=False)
    """Drain while idle [%/s]."""
    charge_rate_per_s: float = Field(0.5, ge=0, allow_inf_nan=False)
    """Charge rate on the dock [%/s]."""
    min_battery_to_accept: _Percent = 15.0
    """Tasks are refused below this state of charge [%]."""
    recharge_below_percent: _Percent = 30.0
    """An idle robot at or below this goes charging; 0 disables auto-charging [%]."""
    charge_target_percent: _Percent = 100.0
    """Charging stops (robot IDLE) at this level [%]."""
    dock: Pose2DConfig = Field(default_factory=Pose2DConfig)
    """Where the robot charges."""
    work_time_s: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=lambda: {"pick": 5.0, "place": 5.0, "inspect": 10.0, "move": 0.0}
    )
    """Seconds of work at the target per task name [s]."""
    default_work_time_s: float = Field(2.0, ge=0, allow_inf_nan=False)
    """Work time for task names not in ``work_time_s`` [s]."""
    area: tuple[float, float, float, float] = (0.0, 0.0, 50.0, 50.0)
    """``[xmin, ymin, xmax, ymax]`` for targets chosen when an order has none [m]."""
    task_failure_probability: _Probability = 0.0
    """Chance that a task fails part-way (failure injection)."""
    error_probability_per_s: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Chance per second of operation of a FATAL fault (robot in ERROR)."""
    offline_probability_per_s: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Chance per second of operation of going silent (tests heartbeat handling)."""
    offline_duration_s: float = Field(10.0, ge=0, allow_inf_nan=False)
    """How long an offline spell lasts [s]."""
    seed: int = 0
    """Seeds the robot's random numbers (mixed with its id), so runs repeat exactly."""
    start_pose: Pose2DConfig | None = None
    """Where the robot starts; ``null``: at the dock."""
    battery_start_percent: _Percent = 100.0
    """State of charge at start [%]."""

    @field_validator("area", mode="before")
    @classmethod
    def _area_from_list(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value  # YAML has lists, not tuples

    @model_validator(mode="after")
    def _charge_window(self) -> SimDriverConfig:
        if self.charge_target_percent <= self.recharge_below_percent:
            raise ValueError(
                f"charge_target_percent ({self.charge_target_percent}) must be greater than "
                f"recharge_below_percent ({self.recharge_below_percent})"
            )
        xmin, ymin, xmax, ymax = self.area
        if xmin > xmax or ymin > ymax:
            raise ValueError(f"area must be [xmin, ymin, xmax, ymax] with min <= max, got {list(self.area)}")
        return self

    def sim_kwargs(self) -> dict[str, object]:
        """The keywords of the simulator's ``SimConfig``: every key but the per-robot ones."""
        return self.model_dump(exclude={"start_pose", "battery_start_percent"})


def _check_ros_name(value: str) -> str:
    """A ROS topic/action name as a user writes it (relative names resolve in ``namespace``)."""
    if value:
        validate_topic_name(value)
    return value


def _check_ros_namespace(value: str) -> str:
    if value:
        validate_namespace(value)
    return value


_RosName = Annotated[str, AfterValidator(_check_ros_name)]


class DdsDriverConfig(_Section):
    """``dds:``: the bridge to the robot's own ROS 2 / DDS bus (``driver: dds``).

    The edge joins the robot's DDS domain as a small ROS 2 node and maps the robot's own
    topics to its status, and work orders to a robot-side action or topic
    (:mod:`robotfleet_nodes.edge.dds_bridge`). Relative names (``battery_state``) resolve
    in ``namespace``; absolute ones (``/battery_state``) do not. An empty topic name turns
    that part off.
    """

    domain_id: int = Field(0, ge=0, le=232)
    """ROS_DOMAIN_ID of the robot's bus (``EDGE_DDS_DOMAIN_ID`` overrides)."""
    namespace: Annotated[str, AfterValidator(_check_ros_namespace)] = ""
    """ROS namespace of the robot's own nodes, e.g. ``/amr``; empty: the root."""
    battery_topic: _RosName = "battery_state"
    """``sensor_msgs/msg/BatteryState`` topic: ``percentage`` (0..1) -> battery, ``CHARGING`` -> charging."""
    pose_topic: _RosName = "odom"
    """Where the robot's pose comes from (type: ``pose_type``); e.g. ``amcl_pose`` for the map frame."""
    pose_type: Literal[
        "nav_msgs/msg/Odometry",
        "geometry_msgs/msg/PoseStamped",
        "geometry_msgs/msg/PoseWithCovarianceStamped",
        "geometry_msgs/msg/Pose2D",
    ] = "nav_msgs/msg/Odometry"
    """Type of ``pose_topic``; ``Odometry`` also gives the robot's speed."""
    offline_timeout_s: _Seconds = 3.0
    """The robot is OFFLINE when nothing arrived on its topics for this long [s]."""
    battery_unknown_percent: _Percent = 100.0
    """Battery reported until the robot sends a known level (``percentage`` NaN = unknown) [%]."""
    orders: Literal["action", "topic"] = "action"
    """How work orders reach the robot: ``action`` (goal of ``action_name``) or ``topic``
    (a ``WorkOrder`` on ``order_topic``, outcome on ``order_status_topic``)."""
    action_name: _RosName = "execute_task"
    """The robot's ``robotfleet_nodes/action/ExecuteTask`` server (``orders: action``)."""
    server_wait_s: _Seconds = 5.0
    """How long a goal waits for the robot's action server before the order fails [s]."""
    order_topic: _RosName = "work_order"
    """``robotfleet_nodes/msg/WorkOrder`` topic orders (and cancels) are written to (``orders: topic``)."""
    order_status_topic: _RosName = "work_order_status"
    """``robotfleet_nodes/msg/WorkOrderUpdate`` topic the robot reports progress and outcome on;
    empty: orders count as completed once written (fire and forget)."""
    order_ack_timeout_s: _Seconds = 10.0
    """An order the robot has not reported on ``order_status_topic`` within this fails [s]."""

    @model_validator(mode="after")
    def _order_channel(self) -> DdsDriverConfig:
        needed = "action_name" if self.orders == "action" else "order_topic"
        if not getattr(self, needed):
            raise ValueError(f"{needed} must not be empty with orders: {self.orders}")
        return self


def _check_vda_level(what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        from robotfleet_nodes.vda5050.topics import check_level

        try:
            return check_level(value, what)
        except ValueError as exc:
            raise ValueError(str(exc)) from None

    return check


class Vda5050DriverConfig(_Section):
    """``vda5050:``: the VDA 5050 vehicle this edge is the master of (``driver: vda5050``).

    The vehicle speaks VDA 5050 2.1.0 (JSON over MQTT) to nats-server's MQTT listener; the
    edge reads and writes the same topics as NATS subjects
    (:mod:`robotfleet_nodes.edge.vda5050`, docs/fleet.md "VDA 5050 vehicles").
    """

    manufacturer: Annotated[str, AfterValidator(_check_vda_level("manufacturer"))] = "RobotFleet"
    """The vehicle's ``manufacturer`` (third topic level)."""
    serial_number: Annotated[str, AfterValidator(_check_vda_level("serialNumber"))] = "SN-1"
    """The vehicle's ``serialNumber`` (fourth topic level); may hold ``.`` (subject ``//``)."""
    interface_name: Annotated[str, AfterValidator(_check_vda_level("interfaceName"))] = "uagv"
    """``interfaceName`` (first topic level)."""
    major_version: Annotated[str, AfterValidator(_check_vda_level("major version"))] = "v2"
    """Protocol major version in the topic (second level)."""
    map_id: str = "map"
    """``mapId`` of the nodes of the orders sent and of the positions expected."""
    mqtt_url: str | None = None
    """``mqtt://host:port`` (``mqtts://`` with TLS) of the broker's MQTT listener, where the
    edge reads the vehicle's retained ``connection`` message at start (``EDGE_VDA5050_MQTT_URL``);
    ``null``: the NATS broker's host on port 1883."""
    mqtt_credentials: str | None = None
    """A ``.creds`` file whose (bearer, MQTT-only) identity the edge presents to the MQTT
    listener to read that retained message (``EDGE_VDA5050_MQTT_CREDS``); ``rfos fleet
    gen-config --vda5050 N`` writes one per vehicle. ``null``: none (an open broker)."""
    offline_reassign_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    """A vehicle cannot pause itself when its lease lapses (VDA 5050 has no lease): its order
    is kept until it reports again, or until it has been OFFLINE this long [s]; ``null``
    (the default): never given up."""
    order_ack_timeout_s: _Seconds = 10.0
    """An order the vehicle's ``state`` does not show within this fails [s]."""
    state_timeout_s: _Seconds = 60.0
    """The vehicle is OFFLINE when no ``state`` came for this long, whatever ``connection``
    said (the spec asks for one at least every 30 s) [s]."""
