"""``SetLaunchConfiguration`` (YAML ``let``): set a value ``$(var name)`` reads in this scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["SetLaunchConfiguration"]


class SetLaunchConfiguration(LaunchEntity):
    """Set launch configuration ``name`` to ``value`` (substituted) for the rest of the scope."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = str(value)

    def visit(self, context: LaunchContext) -> None:
        context.set(self.name, context.substitute(self.value))

    def describe(self) -> dict[str, Any]:
        return self._describe_condition({"let": self.name, "value": self.value})
