"""``PushRosNamespace``: push a namespace for the nodes after it in the current scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.context import join_namespace
from robotfleet_nodes.launch.entity import LaunchEntity

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["PushRosNamespace"]


class PushRosNamespace(LaunchEntity):
    """Join ``namespace`` onto the current one; the enclosing group restores it when it ends."""

    def __init__(self, namespace: str) -> None:
        self.namespace = str(namespace)

    def visit(self, context: LaunchContext) -> None:
        context.namespace = join_namespace(context.namespace, context.substitute(self.namespace))

    def describe(self) -> dict[str, Any]:
        return self._describe_condition({"push_ros_namespace": self.namespace})
