"""``LogInfo``: print a message through the launch's output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["LogInfo"]


class LogInfo(LaunchEntity):
    """Log ``msg`` (substituted) as ``[INFO] [launch]: msg``."""

    def __init__(self, msg: str) -> None:
        self.msg = str(msg)

    def visit(self, context: LaunchContext) -> None:
        context.sink.log(context.substitute(self.msg))

    def describe(self) -> dict[str, Any]:
        return self._describe_condition({"log": self.msg})
