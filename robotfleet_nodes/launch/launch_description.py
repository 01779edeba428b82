"""``LaunchDescription``: the ordered list of entities a launch file produces."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity

if TYPE_CHECKING:
    from robotfleet_nodes.launch.actions.declare_launch_argument import DeclareLaunchArgument
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["LaunchDescription"]


class LaunchDescription(LaunchEntity):
    """What ``generate_launch_description()`` returns and a YAML file is loaded into."""

    def __init__(self, entities: Iterable[LaunchEntity] = ()) -> None:
        self.entities: list[LaunchEntity] = list(entities)
        for entity in self.entities:
            if not isinstance(entity, LaunchEntity):
                raise TypeError(f"Expected a launch entity, got {type(entity).__name__}: {entity!r}")

    def add_action(self, entity: LaunchEntity) -> None:
        """Append one entity."""
        self.entities.append(entity)

    def visit(self, context: LaunchContext) -> None:
        context.visit(self.entities)

    def describe(self) -> dict[str, Any]:
        return {"launch": [e.describe() for e in self.entities]}

    def children(self) -> list[LaunchEntity]:
        return list(self.entities)

    def declared_arguments(self) -> list[DeclareLaunchArgument]:
        """Arguments declared here and in nested groups (not inside includes), in order."""
        from robotfleet_nodes.launch.actions.declare_launch_argument import DeclareLaunchArgument

        return [e for e in _walk(self.entities) if isinstance(e, DeclareLaunchArgument)]

    def __iter__(self) -> Iterator[LaunchEntity]:
        return iter(self.entities)


def _walk(entities: Iterable[LaunchEntity]) -> Iterator[LaunchEntity]:
    for entity in entities:
        yield entity
        yield from _walk(entity.children())
