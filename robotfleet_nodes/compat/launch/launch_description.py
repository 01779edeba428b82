"""``launch.LaunchDescription``: our :class:`robotfleet_nodes.launch.LaunchDescription`."""

from __future__ import annotations

from collections.abc import Iterable

from robotfleet_nodes.launch import LaunchDescription as _CoreLaunchDescription
from robotfleet_nodes.launch import LaunchEntity

__all__ = ["LaunchDescription"]


class LaunchDescription(_CoreLaunchDescription):
    """What ``generate_launch_description()`` returns: entities visited in order."""

    def __init__(
        self, initial_entities: Iterable[LaunchEntity] | None = None, *, deprecated_reason: str | None = None
    ) -> None:
        super().__init__(initial_entities or ())
        self.deprecated_reason = deprecated_reason

    def add_entity(self, entity: LaunchEntity) -> None:
        """Append one entity (``add_action`` does the same)."""
        self.add_action(entity)
