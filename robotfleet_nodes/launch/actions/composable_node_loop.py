"""``ComposableNodeLoop``: many components in one container, one per loop value.

Inside a container's ``composable_node`` list, YAML writes
``{for: {var: i, from: $(var part_from), to: $(var part_to), composable_node: [...]}}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch._loop import LoopRange

if TYPE_CHECKING:
    from robotfleet_nodes.launch.actions.composable_node import ComposableNode
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["ComposableNodeLoop"]


class ComposableNodeLoop:
    """Repeat ``nodes`` for each value of ``var`` (same value options as ``ForEach``)."""

    def __init__(
        self,
        var: str,
        nodes: Sequence[ComposableNode | ComposableNodeLoop],
        *,
        values: Sequence[object] | None = None,
        start: str | int = 1,
        stop: str | int | None = None,
        step: str | int = 1,
    ) -> None:
        self.loop = LoopRange(var, values=values, start=start, stop=stop, step=step)
        self.nodes = list(nodes)

    def resolve_all(self, context: LaunchContext) -> list[dict[str, Any]]:
        """The load requests of every iteration."""
        out: list[dict[str, Any]] = []
        for value in self.loop.resolve(context):
            inner = context.child()
            inner.set(self.loop.var, value)
            for node in self.nodes:
                out.extend(node.resolve_all(inner))
        return out

    def describe(self) -> dict[str, Any]:
        """A JSON-able description as written."""
        return {**self.loop.describe(), "composable_node": [n.describe() for n in self.nodes]}
