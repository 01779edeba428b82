"""``rclpy.wait_for_message.wait_for_message``: the next message on a topic, synchronously."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.qos import QoSProfile, as_qos

from . import _core
from ._interfaces import refuse_rosidl
from .utilities import timeout_sec_to_nsec

if TYPE_CHECKING:
    from .node import Node

__all__ = ["wait_for_message"]


def wait_for_message(
    msg_type: type[Any],
    node: Node,
    topic: str,
    *,
    qos_profile: QoSProfile | int = 1,
    time_to_wait: int | float = -1,
) -> tuple[bool, Any]:
    """Subscribe to ``topic`` on ``node`` and wait up to ``time_to_wait`` seconds (negative:
    forever) for one message: ``(True, msg)``, else ``(False, None)`` (timeout, shutdown or
    Ctrl-C). No executor is involved: the node need not be spun."""
    refuse_rosidl(msg_type)
    received: list[Any] = []
    arrived = threading.Event()

    def receive(msg: Any) -> None:  # on the asyncio thread
        if not received:
            received.append(msg)
        arrived.set()

    core_node: Any = node._core
    subscription = _core.run(core_node.create_subscription(msg_type, topic, receive, as_qos(qos_profile)))
    _core.on_shutdown(arrived.set)
    try:
        timeout_ns = timeout_sec_to_nsec(time_to_wait)
        arrived.wait(None if timeout_ns < 0 else timeout_ns / 1e9)
    finally:
        _core.remove_on_shutdown(arrived.set)
        if _core.is_initialised():
            _core.run(core_node.destroy_subscription(subscription))
    if received and _core.is_running():
        return True, received[0]
    return False, None
