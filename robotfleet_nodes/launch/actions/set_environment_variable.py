"""``SetEnvironmentVariable``: an environment variable for every process started after it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["SetEnvironmentVariable"]


class SetEnvironmentVariable(LaunchEntity):
    """Set ``name=value`` for processes later in this scope (and for ``$(env name)``)."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = str(value)

    def visit(self, context: LaunchContext) -> None:
        context.env[context.substitute(self.name)] = context.substitute(self.value)

    def describe(self) -> dict[str, Any]:
        return self._describe_condition({"set_env": self.name, "value": self.value})
