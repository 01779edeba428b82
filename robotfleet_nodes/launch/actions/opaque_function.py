"""``OpaqueFunction``: Python code run at visit time that returns more entities.

This is how a Python launch file builds descriptions that depend on argument values, such
as "N robots split over K containers"::

    def robots(context):
        n = int(context.arg("robots"))
        return [Node(module="robotfleet_nodes.edge.main", name=f"robot_{i}") for i in range(1, n + 1)]

    def generate_launch_description():
        return LaunchDescription([DeclareLaunchArgument("robots", default="10"), OpaqueFunction(robots)])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity

if TYPE_CHECKING:
    from robotfleet_nodes.launch.conditions import Condition
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["OpaqueFunction"]

Function = Callable[["LaunchContext"], "Sequence[LaunchEntity] | None"]


class OpaqueFunction(LaunchEntity):
    """Call ``function(context)`` and visit the entities it returns."""

    def __init__(self, function: Function, *, condition: Condition | None = None) -> None:
        self.function = function
        self.condition = condition

    def visit(self, context: LaunchContext) -> None:
        context.visit(self.function(context) or ())

    def describe(self) -> dict[str, Any]:
        name = getattr(self.function, "__qualname__", repr(self.function))
        return self._describe_condition({"opaque_function": name})
