"""Message classes of this package, generated on first use from ``msg/*.msg``.

``from robotfleet_nodes.msg import Heartbeat`` works like the rclpy import of a generated
message. Service and action namespaces (``robotfleet_nodes.srv`` / ``.action``) are served
by the interface import hook of :mod:`robotfleet_nodes.idl` once such files exist.
"""

from __future__ import annotations

from typing import Any

from robotfleet_nodes.idl import interface_module_attrs

#: Nothing but message classes, which are looked up on first access (``dir()`` lists them),
#: so ``from robotfleet_nodes.msg import *`` imports nothing: name the classes you use.
__all__: list[str] = []

_getattr, _dir = interface_module_attrs("robotfleet_nodes", "msg")


def __getattr__(name: str) -> Any:
    return _getattr(name)


def __dir__() -> list[str]:
    return _dir()
