"""``IncludeLaunchDescription``: visit another launch file (Python or YAML) with arguments."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.context import MAX_INCLUDE_DEPTH
from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.errors import LaunchError

if TYPE_CHECKING:
    from robotfleet_nodes.launch.conditions import Condition
    from robotfleet_nodes.launch.context import LaunchContext
    from robotfleet_nodes.launch.launch_description import LaunchDescription

__all__ = ["IncludeLaunchDescription"]


class IncludeLaunchDescription(LaunchEntity):
    """Include the launch file at ``path`` (relative to the including file).

    ``launch_arguments`` are substituted in the including scope and set in the included
    one. The include is scoped: what the included file sets does not leak back.
    ``path`` may also be an already built :class:`LaunchDescription`.
    """

    def __init__(
        self,
        path: str | Path | LaunchDescription,
        launch_arguments: Mapping[str, object] | None = None,
        *,
        condition: Condition | None = None,
    ) -> None:
        self.path = path if not isinstance(path, Path) else str(path)
        self.launch_arguments = {k: _text(v) for k, v in (launch_arguments or {}).items()}
        self.condition = condition

    def visit(self, context: LaunchContext) -> None:
        from robotfleet_nodes.launch.launch_file import load_launch_file

        if context.include_depth >= MAX_INCLUDE_DEPTH:
            raise LaunchError(f"includes nested deeper than {MAX_INCLUDE_DEPTH}: is a file including itself?")
        values = {k: context.substitute(v) for k, v in self.launch_arguments.items()}
        inner = context.child()
        inner.include_depth += 1
        if isinstance(self.path, str):
            path = context.resolve_path(self.path)
            description = load_launch_file(path)
            inner.source = path
        else:
            description = self.path
        inner.namespace = context.namespace
        inner.configurations.update(values)
        description.visit(inner)

    def describe(self) -> dict[str, Any]:
        path = self.path if isinstance(self.path, str) else "<LaunchDescription>"
        out: dict[str, Any] = {"include": path}
        if self.launch_arguments:
            out["arguments"] = dict(self.launch_arguments)
        return self._describe_condition(out)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
