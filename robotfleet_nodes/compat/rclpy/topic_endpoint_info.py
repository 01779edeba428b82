"""``rclpy.topic_endpoint_info``: what ``get_publishers_info_by_topic`` and friends return."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = ["TopicEndpointInfo", "TopicEndpointTypeEnum"]


class TopicEndpointTypeEnum(IntEnum):
    """rmw's endpoint kinds."""

    INVALID = 0
    PUBLISHER = 1
    SUBSCRIPTION = 2


@dataclass(eq=True)
class TopicEndpointInfo:
    """One publisher or subscription of a topic, with rclpy's attribute names.

    ``topic_type_hash`` is the ``RIHS01_<hex>`` string (rclpy: a ``TypeHash`` object);
    ``endpoint_gid`` is 16 bytes derived from the participant, node and endpoint (no rmw gid).
    """

    node_name: str = ""
    node_namespace: str = ""
    topic_type: str = ""
    topic_type_hash: str = ""
    endpoint_type: TopicEndpointTypeEnum = TopicEndpointTypeEnum.INVALID
    endpoint_gid: list[int] = field(default_factory=list)
    qos_profile: Any = None

    def __str__(self) -> str:
        gid = ".".join(format(x, "02x") for x in self.endpoint_gid)
        lines = [
            f"Node name: {self.node_name}",
            f"Node namespace: {self.node_namespace}",
            f"Topic type: {self.topic_type}",
            f"Topic type hash: {self.topic_type_hash}",
            f"Endpoint type: {self.endpoint_type.name}",
            f"GID: {gid}",
        ]
        if self.qos_profile is not None:
            qos = self.qos_profile
            lines += [
                "QoS profile:",
                f"  Reliability: {qos.reliability.name}",
                f"  History (Depth): {qos.history.name} ({qos.depth})",
                f"  Durability: {qos.durability.name}",
            ]
        return "\n".join(lines)
