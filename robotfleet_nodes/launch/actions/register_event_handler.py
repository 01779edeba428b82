"""``RegisterEventHandler``: install an ``OnProcessStart``/``OnProcessExit``/``OnShutdown``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity

if TYPE_CHECKING:
    from robotfleet_nodes.launch.conditions import Condition
    from robotfleet_nodes.launch.context import LaunchContext
    from robotfleet_nodes.launch.event_handlers import EventHandler

__all__ = ["RegisterEventHandler"]


class RegisterEventHandler(LaunchEntity):
    """Register ``handler``; its entities are visited in the scope of this action."""

    def __init__(self, handler: EventHandler, *, condition: Condition | None = None) -> None:
        self.handler = handler
        self.condition = condition

    def visit(self, context: LaunchContext) -> None:
        context.sink.register_handler(self.handler, context.child())

    def describe(self) -> dict[str, Any]:
        return self._describe_condition({"event_handler": self.handler.describe()})
