"""``ForEach`` (YAML ``for``): visit children once per value, with ``$(var VAR)`` set to it.

Values are either explicit (``values``) or an inclusive integer range ``start..stop`` (1-based
by default, matching ids such as ``robot-1``). Bounds may be substitutions, so a YAML file
can write ``{for: {var: i, from: 1, to: $(var robots), children: [...]}}``.

With ``chunks`` the range is cut into that many contiguous parts instead: each iteration
sets ``$(var VAR)`` to the part's number (1..chunks) and ``$(var VAR_from)`` /
``$(var VAR_to)`` to its bounds -- "1000 robots in 4 containers". Each iteration is its own
scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch._loop import LoopRange, split_chunks
from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.errors import LaunchError

if TYPE_CHECKING:
    from robotfleet_nodes.launch.conditions import Condition
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["ForEach"]


class ForEach(LaunchEntity):
    """Repeat ``entities`` for each value of ``var`` (or each of ``chunks`` parts of the range)."""

    def __init__(
        self,
        var: str,
        entities: Iterable[LaunchEntity],
        *,
        values: Sequence[object] | None = None,
        start: str | int = 1,
        stop: str | int | None = None,
        step: str | int = 1,
        chunks: str | int | None = None,
        condition: Condition | None = None,
    ) -> None:
        self.loop = LoopRange(var, values=values, start=start, stop=stop, step=step)
        if chunks is not None and values is not None:
            raise LaunchError(f"for {var!r}: 'chunks' splits a range, not a list of values")
        self.var = var
        self.entities = list(entities)
        self.chunks = None if chunks is None else str(chunks)
        self.condition = condition

    def visit(self, context: LaunchContext) -> None:
        if self.chunks is not None:
            start, stop, step = self.loop.bounds(context)
            if step != 1:
                raise LaunchError(f"for {self.var!r}: 'chunks' needs step 1")
            chunks = self.loop.integer(context, "chunks", self.chunks)
            if chunks < 1:
                raise LaunchError(f"for {self.var!r}: 'chunks' must be at least 1, not {chunks}")
            for index, (first, last) in enumerate(split_chunks(start, stop, chunks), 1):
                inner = context.child()
                inner.set(self.var, str(index))
                inner.set(f"{self.var}_from", str(first))
                inner.set(f"{self.var}_to", str(last))
                inner.visit(self.entities)
            return
        for value in self.loop.resolve(context):
            inner = context.child()
            inner.set(self.var, value)
            inner.visit(self.entities)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.loop.describe())
        if self.chunks is not None:
            out["chunks"] = self.chunks
        out["children"] = [e.describe() for e in self.entities]
        return self._describe_condition(out)

    def children(self) -> list[LaunchEntity]:
        return list(self.entities)
