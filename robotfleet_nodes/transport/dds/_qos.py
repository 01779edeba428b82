"""ROS 2 QoS profiles as DDS QoS, the way rmw_cyclonedds sets them.

Reliability, durability, history/depth, deadline, lifespan and liveliness map one to one.
``USER_DATA`` carries ``typehash=RIHS01_...;`` as ROS 2 Iron+ does. Readers of reliable
subscriptions keep up to :data:`RELIABLE_READER_DEPTH` samples (the framework's reliable
subscriptions never drop while the application keeps up, as on the other transports);
the depth the application asked for bounds the writer's history, which is what late
joiners of transient-local topics receive.
"""

from __future__ import annotations

from cyclonedds.core import Policy, Qos
from cyclonedds.util import duration

from robotfleet_nodes.qos import Durability, History, Liveliness, QoSProfile, Reliability

__all__ = ["RELIABLE_READER_DEPTH", "reader_qos", "user_data", "writer_qos"]

#: Samples a reliable subscription's reader buffers before the oldest is replaced.
RELIABLE_READER_DEPTH = 65536
_MAX_BLOCKING = duration(milliseconds=100)  # rmw_cyclonedds' max_blocking_time


def user_data(type_hash: str) -> bytes:
    """The ``USER_DATA`` ROS 2 (Iron and later) puts on every reader and writer."""
    return f"typehash={type_hash};".encode()


def _seconds(value: float) -> int:
    return int(duration(seconds=value))


def _common(qos: QoSProfile, depth: int, type_hash: str) -> list[object]:
    policies: list[object] = [
        Policy.Reliability.Reliable(_MAX_BLOCKING)
        if qos.reliability is Reliability.RELIABLE
        else Policy.Reliability.BestEffort,
        Policy.Durability.TransientLocal
        if qos.durability is Durability.TRANSIENT_LOCAL
        else Policy.Durability.Volatile,
        Policy.History.KeepAll if qos.history is History.KEEP_ALL else Policy.History.KeepLast(depth),
        Policy.DataRepresentation(use_cdrv0_representation=True),
        Policy.Userdata(data=user_data(type_hash)),
    ]
    if qos.deadline is not None:
        policies.append(Policy.Deadline(_seconds(qos.deadline)))
    if qos.lifespan is not None:
        policies.append(Policy.Lifespan(_seconds(qos.lifespan)))
    lease = _seconds(qos.liveliness_lease_duration) if qos.liveliness_lease_duration is not None else None
    if qos.liveliness is Liveliness.MANUAL_BY_TOPIC:
        policies.append(
            Policy.Liveliness.ManualByTopic(lease if lease is not None else duration(infinite=True))
        )
    elif lease is not None:
        policies.append(Policy.Liveliness.Automatic(lease))
    return policies


def writer_qos(qos: QoSProfile, type_hash: str) -> Qos:
    """DDS writer QoS for a publisher (or a service's reply / a client's request writer)."""
    policies = _common(qos, qos.depth, type_hash)
    if qos.durability is Durability.TRANSIENT_LOCAL:
        # Late joiners get what the durability service keeps: as many as the history
        # (rmw_cyclonedds sets it the same way; Cyclone's default keeps only one).
        history = (
            Policy.History.KeepAll if qos.history is History.KEEP_ALL else Policy.History.KeepLast(qos.depth)
        )
        policies.append(Policy.DurabilityService(0, history, -1, -1, -1))
    return Qos(*policies)


def reader_qos(qos: QoSProfile, type_hash: str, *, ignore_local: bool = False) -> Qos:
    """DDS reader QoS for a subscription; ``ignore_local`` skips this participant's writers."""
    depth = qos.depth if qos.reliability is Reliability.BEST_EFFORT else max(qos.depth, RELIABLE_READER_DEPTH)
    policies = _common(qos, depth, type_hash)
    if ignore_local:
        policies.append(Policy.IgnoreLocal.Participant)
    return Qos(*policies)
