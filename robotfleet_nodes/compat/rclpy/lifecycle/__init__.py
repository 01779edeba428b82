"""``rclpy.lifecycle``: managed nodes, lifecycle publishers and managed entities.

rcl_lifecycle's state machine and services (``~/change_state``, ``~/get_state``, ...,
``~/transition_event``); transition callbacks run on the caller's thread or on an executor
(for ``~/change_state``), never on our asyncio thread.
"""

from __future__ import annotations

from .managed_entity import ManagedEntity, SimpleManagedEntity
from .node import LifecycleNode, LifecycleNodeMixin, LifecycleState, TransitionCallbackReturn
from .publisher import LifecyclePublisher

__all__ = [
    "LifecycleNode",
    "LifecycleNodeMixin",
    "LifecyclePublisher",
    "LifecycleState",
    "ManagedEntity",
    "Node",
    "NodeMixin",
    "Publisher",
    "SimpleManagedEntity",
    "State",
    "TransitionCallbackReturn",
]

Node = LifecycleNode
NodeMixin = LifecycleNodeMixin
State = LifecycleState
Publisher = LifecyclePublisher
