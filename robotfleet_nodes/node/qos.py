"""Quality of service for nodes: re-exports :mod:`robotfleet_nodes.qos`.

The profiles live below both the node layer and the transports (which both use them);
this module keeps ``from robotfleet_nodes.node.qos import QoSProfile`` working.
"""

from __future__ import annotations

from robotfleet_nodes.qos import (
    QOS_DEFAULT,
    QOS_PARAMETER_EVENTS,
    QOS_SENSOR_DATA,
    QOS_SERVICES,
    QOS_TRANSIENT_LOCAL,
    Durability,
    History,
    Liveliness,
    QoSProfile,
    Reliability,
    as_qos,
    incompatibilities,
)

__all__ = [
    "QOS_DEFAULT",
    "QOS_PARAMETER_EVENTS",
    "QOS_SENSOR_DATA",
    "QOS_SERVICES",
    "QOS_TRANSIENT_LOCAL",
    "Durability",
    "History",
    "Liveliness",
    "QoSProfile",
    "Reliability",
    "as_qos",
    "incompatibilities",
]
