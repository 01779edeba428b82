"""The node framework: ``Node``, its entities, QoS, names, and running nodes.

Attributes are imported on first access, so ``import robotfleet_nodes.node.qos`` does not
pull in the whole node layer. ``node.qos`` and ``node.names`` re-export
:mod:`robotfleet_nodes.qos` and :mod:`robotfleet_nodes.names`, which sit below the node
layer and the transports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robotfleet_nodes._lazy import lazy_attributes

if TYPE_CHECKING:
    from robotfleet_nodes.node.context import Context
    from robotfleet_nodes.node.node import Node
    from robotfleet_nodes.node.publisher import Publisher
    from robotfleet_nodes.node.qos import (
        QOS_DEFAULT,
        QOS_SENSOR_DATA,
        QOS_TRANSIENT_LOCAL,
        Durability,
        History,
        Liveliness,
        QoSProfile,
        Reliability,
    )
    from robotfleet_nodes.node.runner import run_nodes, spin_nodes
    from robotfleet_nodes.node.service import Client, Service
    from robotfleet_nodes.node.subscription import Subscription
    from robotfleet_nodes.node.timer import Timer

_WHERE = {
    "Context": "context",
    "Node": "node",
    "Publisher": "publisher",
    "Subscription": "subscription",
    "Service": "service",
    "Client": "service",
    "Timer": "timer",
    "run_nodes": "runner",
    "spin_nodes": "runner",
    "QOS_DEFAULT": "qos",
    "QOS_SENSOR_DATA": "qos",
    "QOS_TRANSIENT_LOCAL": "qos",
    "Durability": "qos",
    "History": "qos",
    "Liveliness": "qos",
    "QoSProfile": "qos",
    "Reliability": "qos",
}

__all__ = [
    "QOS_DEFAULT",
    "QOS_SENSOR_DATA",
    "QOS_TRANSIENT_LOCAL",
    "Client",
    "Context",
    "Durability",
    "History",
    "Liveliness",
    "Node",
    "Publisher",
    "QoSProfile",
    "Reliability",
    "Service",
    "Subscription",
    "Timer",
    "run_nodes",
    "spin_nodes",
]


__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
