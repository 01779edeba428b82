"""``rclpy.qos``: QoS profiles (RobotFleetOS's, which take rclpy's arguments)."""

from __future__ import annotations

from robotfleet_nodes.qos import (
    QOS_DEFAULT,
    QOS_SENSOR_DATA,
    QOS_SERVICES,
    Durability,
    History,
    Liveliness,
    QoSProfile,
    Reliability,
)

__all__ = [
    "DurabilityPolicy",
    "HistoryPolicy",
    "LivelinessPolicy",
    "QoSProfile",
    "ReliabilityPolicy",
    "qos_profile_sensor_data",
    "qos_profile_services_default",
    "qos_profile_system_default",
]

ReliabilityPolicy = Reliability
DurabilityPolicy = Durability
HistoryPolicy = History
LivelinessPolicy = Liveliness
qos_profile_sensor_data = QOS_SENSOR_DATA
qos_profile_system_default = QOS_DEFAULT
qos_profile_services_default = QOS_SERVICES
