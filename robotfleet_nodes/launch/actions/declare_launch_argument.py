"""``DeclareLaunchArgument``: a named argument of a launch file, ``name:=value`` to override."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.errors import LaunchError

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["DeclareLaunchArgument"]


class DeclareLaunchArgument(LaunchEntity):
    """Declare ``name``; without a value given and without ``default`` the launch fails."""

    def __init__(
        self,
        name: str,
        default: str | None = None,
        description: str = "",
        choices: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        self.default = None if default is None else _text(default)
        self.description = description
        self.choices = [str(c) for c in choices] if choices is not None else None

    def visit(self, context: LaunchContext) -> None:
        context.declared.add(self.name)
        if self.name not in context.configurations:
            if self.default is None:
                raise LaunchError(f"launch argument {self.name!r} is required: pass {self.name}:=VALUE")
            context.set(self.name, context.substitute(self.default))
        value = context.configurations[self.name]
        if self.choices is not None and value not in self.choices:
            raise LaunchError(
                f"launch argument {self.name!r} is {value!r}, expected one of "
                f"{', '.join(c or repr(c) for c in self.choices)}"
            )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"arg": self.name}
        if self.default is not None:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return self._describe_condition(out)


def _text(value: object) -> str:
    """Launch values are strings; YAML booleans become ``true``/``false`` as ROS writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
