"""``Shutdown``: end the launch (every process gets SIGINT, then SIGTERM, then SIGKILL)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["Shutdown"]


class Shutdown(LaunchEntity):
    """Request the launch to shut down, giving ``reason``."""

    def __init__(self, reason: str = "shutdown requested") -> None:
        self.reason = str(reason)

    def visit(self, context: LaunchContext) -> None:
        context.sink.shutdown(context.substitute(self.reason))

    def describe(self) -> dict[str, Any]:
        return self._describe_condition({"shutdown": self.reason})
