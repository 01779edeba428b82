"""Quality of service: ROS 2's policies, and how a publisher and a subscription match.

How each policy maps onto NATS is the transport's business (``docs/subjects.md``):
best effort and reliable ride core NATS, transient local with depth N a JetStream stream
keeping the last N per subject, deadline and liveliness are heartbeats.

This module sits below both :mod:`robotfleet_nodes.node` and :mod:`robotfleet_nodes.transport`,
which both need the profiles; :mod:`robotfleet_nodes.node.qos` (and ``robotfleet_nodes.node``)
re-export it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

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


class Reliability(enum.Enum):
    RELIABLE = "reliable"
    BEST_EFFORT = "best_effort"


class Durability(enum.Enum):
    VOLATILE = "volatile"
    TRANSIENT_LOCAL = "transient_local"


class History(enum.Enum):
    KEEP_LAST = "keep_last"
    KEEP_ALL = "keep_all"


class Liveliness(enum.Enum):
    AUTOMATIC = "automatic"
    MANUAL_BY_TOPIC = "manual_by_topic"


@dataclass(frozen=True, slots=True)
class QoSProfile:
    """A ROS 2 QoS profile. Durations are seconds; ``None`` means infinite / not set."""

    history: History = History.KEEP_LAST
    depth: int = 10
    reliability: Reliability = Reliability.RELIABLE
    durability: Durability = Durability.VOLATILE
    deadline: float | None = None
    lifespan: float | None = None
    liveliness: Liveliness = Liveliness.AUTOMATIC
    liveliness_lease_duration: float | None = None

    def __post_init__(self) -> None:
        if self.history is History.KEEP_LAST and self.depth < 1:
            raise ValueError(f"QoS depth must be >= 1 with KEEP_LAST history, got {self.depth}")
        for name in ("deadline", "lifespan", "liveliness_lease_duration"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"QoS {name} must be a positive number of seconds or None, got {value}")

    def with_(self, **changes: object) -> QoSProfile:
        """A copy with some policies changed: ``QOS_DEFAULT.with_(depth=1)``."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> dict[str, object]:
        """Plain values, as announced in the graph and shown by ``rfos topic info -v``."""
        return {
            "history": self.history.value,
            "depth": self.depth,
            "reliability": self.reliability.value,
            "durability": self.durability.value,
            "deadline": self.deadline,
            "lifespan": self.lifespan,
            "liveliness": self.liveliness.value,
            "liveliness_lease_duration": self.liveliness_lease_duration,
        }

    @classmethod
    def from_description(cls, data: dict[str, object]) -> QoSProfile:
        """Inverse of :meth:`describe` (unknown keys are ignored)."""
        return cls(
            history=History(data.get("history", "keep_last")),
            depth=int(data.get("depth", 10)),  # type: ignore[call-overload]
            reliability=Reliability(data.get("reliability", "reliable")),
            durability=Durability(data.get("durability", "volatile")),
            deadline=data.get("deadline"),  # type: ignore[arg-type]
            lifespan=data.get("lifespan"),  # type: ignore[arg-type]
            liveliness=Liveliness(data.get("liveliness", "automatic")),
            liveliness_lease_duration=data.get("liveliness_lease_duration"),  # type: ignore[arg-type]
        )


QOS_DEFAULT = QoSProfile()
QOS_SENSOR_DATA = QoSProfile(depth=5, reliability=Reliability.BEST_EFFORT)
QOS_SERVICES = QoSProfile(depth=10)
QOS_PARAMETER_EVENTS = QoSProfile(depth=1000)
QOS_TRANSIENT_LOCAL = QoSProfile(depth=1, durability=Durability.TRANSIENT_LOCAL)


def as_qos(qos: QoSProfile | int) -> QoSProfile:
    """Accept rclpy's shorthand: an int is a KEEP_LAST depth with default policies."""
    if isinstance(qos, QoSProfile):
        return qos
    if isinstance(qos, bool) or not isinstance(qos, int):
        raise TypeError(f"Expected QoSProfile or int depth, got {type(qos).__name__}")
    return QoSProfile(depth=qos)


def incompatibilities(offered: QoSProfile, requested: QoSProfile) -> list[str]:
    """Why a publisher offering ``offered`` cannot serve a subscription requesting ``requested``.

    Follows DDS request/offer rules, as ROS 2 does: an empty list means compatible.
    """
    reasons: list[str] = []
    if requested.reliability is Reliability.RELIABLE and offered.reliability is Reliability.BEST_EFFORT:
        reasons.append("subscription requests RELIABLE but publisher offers BEST_EFFORT")
    if requested.durability is Durability.TRANSIENT_LOCAL and offered.durability is Durability.VOLATILE:
        reasons.append("subscription requests TRANSIENT_LOCAL but publisher offers VOLATILE")
    if requested.deadline is not None and (offered.deadline is None or offered.deadline > requested.deadline):
        reasons.append(
            f"subscription requests a deadline of {requested.deadline}s but publisher offers "
            f"{'none' if offered.deadline is None else f'{offered.deadline}s'}"
        )
    if requested.liveliness is Liveliness.MANUAL_BY_TOPIC and offered.liveliness is Liveliness.AUTOMATIC:
        reasons.append("subscription requests MANUAL_BY_TOPIC liveliness but publisher offers AUTOMATIC")
    if requested.liveliness_lease_duration is not None and (
        offered.liveliness_lease_duration is None
        or offered.liveliness_lease_duration > requested.liveliness_lease_duration
    ):
        reasons.append("publisher's liveliness lease is longer than the subscription's")
    return reasons
