"""Loop values shared by ``for`` over entities and ``for`` over composable nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from robotfleet_nodes.launch.errors import LaunchError

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["LoopRange", "split_chunks"]


def split_chunks(start: int, stop: int, chunks: int) -> list[tuple[int, int]]:
    """``start..stop`` (inclusive) cut into ``chunks`` contiguous parts differing by at most one.

    Empty parts (more chunks than values) are left out.
    """
    count = stop - start + 1
    out = []
    first = start
    for index in range(chunks):
        size = count // chunks + (1 if index < count % chunks else 0)
        if size > 0:
            out.append((first, first + size - 1))
        first += size
    return out


class LoopRange:
    """Explicit ``values``, or the inclusive integer range ``start..stop`` by ``step``."""

    def __init__(
        self,
        var: str,
        *,
        values: Sequence[object] | None = None,
        start: str | int = 1,
        stop: str | int | None = None,
        step: str | int = 1,
    ) -> None:
        if (values is None) == (stop is None):
            raise LaunchError(f"for {var!r}: give either values or a range end ('to'), not both or neither")
        self.var = var
        self.values = None if values is None else [str(v) for v in values]
        self.start, self.step = str(start), str(step)
        self.stop = None if stop is None else str(stop)

    def integer(self, context: LaunchContext, label: str, text: str) -> int:
        """``text`` substituted and parsed as an integer (the error names ``label``)."""
        value = context.substitute(text)
        try:
            return int(value)
        except ValueError:
            raise LaunchError(f"for {self.var!r}: {label!r} is {value!r}, not an integer") from None

    def bounds(self, context: LaunchContext) -> tuple[int, int, int]:
        """``(start, stop, step)`` of a range loop."""
        if self.stop is None:
            raise LaunchError(f"for {self.var!r}: a range loop needs 'to'")
        start = self.integer(context, "from", self.start)
        stop = self.integer(context, "to", self.stop)
        step = self.integer(context, "step", self.step)
        if step == 0:
            raise LaunchError(f"for {self.var!r}: 'step' must not be 0")
        return start, stop, step

    def resolve(self, context: LaunchContext) -> list[str]:
        """The loop's values in ``context``."""
        if self.values is not None:
            return [context.substitute(v) for v in self.values]
        start, stop, step = self.bounds(context)
        return [str(i) for i in range(start, stop + (1 if step > 0 else -1), step)]

    def describe(self) -> dict[str, object]:
        """A JSON-able description."""
        if self.values is not None:
            return {"for": self.var, "values": list(self.values)}
        return {"for": self.var, "from": self.start, "to": self.stop, "step": self.step}
