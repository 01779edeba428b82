"""ROS 2 actions: :class:`ActionServer`, :class:`ActionClient` and their goal handles.

This module is also where this package's own ``action/*.action`` types live, as rclpy's
generated ``<pkg>.action`` modules do: ``from robotfleet_nodes.action import Dock`` looks
``robotfleet_nodes/action/Dock`` up in the default interface registry (any name not
defined here is forwarded to it). Type checkers read ``__init__.pyi`` instead (``make stubs``
generates it: the action classes plus the names of ``__all__`` below).
"""

from __future__ import annotations

from typing import Any

from robotfleet_nodes.action._status import CancelResponse, GoalResponse, GoalStatus
from robotfleet_nodes.action.client import ActionClient, ClientGoalHandle
from robotfleet_nodes.action.server import QOS_ACTION_STATUS, ActionServer, ServerGoalHandle
from robotfleet_nodes.idl import interface_module_attrs

__all__ = [
    "QOS_ACTION_STATUS",
    "ActionClient",
    "ActionServer",
    "CancelResponse",
    "ClientGoalHandle",
    "GoalResponse",
    "GoalStatus",
    "ServerGoalHandle",
]

_getattr, _dir = interface_module_attrs("robotfleet_nodes", "action", __name__)


def __getattr__(name: str) -> Any:
    """``robotfleet_nodes/action/<name>`` from the default registry (this package's actions)."""
    return _getattr(name)


def __dir__() -> list[str]:
    return sorted({*__all__, *_dir()})
