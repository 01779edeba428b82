"""``GroupAction``: entities sharing a condition, a pushed namespace and (by default) a scope."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.context import join_namespace
from robotfleet_nodes.launch.entity import LaunchEntity

if TYPE_CHECKING:
    from robotfleet_nodes.launch.conditions import Condition
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["GroupAction"]


class GroupAction(LaunchEntity):
    """Visit ``entities`` with ``namespace`` pushed; ``scoped`` keeps their ``let``/``set_env`` inside."""

    def __init__(
        self,
        entities: Iterable[LaunchEntity],
        *,
        namespace: str | None = None,
        condition: Condition | None = None,
        scoped: bool = True,
    ) -> None:
        self.entities = list(entities)
        self.namespace = namespace
        self.condition = condition
        self.scoped = scoped

    def visit(self, context: LaunchContext) -> None:
        inner = context.child(scoped=self.scoped)
        saved = inner.namespace
        if self.namespace:
            inner.namespace = join_namespace(inner.namespace, context.substitute(self.namespace))
        inner.visit(self.entities)
        inner.namespace = saved

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": [e.describe() for e in self.entities]}
        if self.namespace:
            out["namespace"] = self.namespace
        if not self.scoped:
            out["scoped"] = False
        return self._describe_condition(out)

    def children(self) -> list[LaunchEntity]:
        return list(self.entities)
