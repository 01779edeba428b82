"""``TimerAction``: visit entities ``period`` seconds after the action itself was visited."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.errors import LaunchError

if TYPE_CHECKING:
    from robotfleet_nodes.launch.conditions import Condition
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["TimerAction"]


class TimerAction(LaunchEntity):
    """After ``period`` seconds (a number or text with substitutions), visit ``entities``.

    They are visited in a child scope of the one the timer was visited in. A pending timer
    keeps the launch running (nothing else left running does not end it) and is cancelled
    when the launch shuts down; ``rfos launch --print`` visits the entities at once.
    """

    def __init__(
        self,
        period: float | str,
        entities: Iterable[LaunchEntity],
        *,
        condition: Condition | None = None,
    ) -> None:
        self.period = period
        self.entities = list(entities)
        self.condition = condition

    def visit(self, context: LaunchContext) -> None:
        period = self.period
        if isinstance(period, str):
            text = context.substitute(period)
            try:
                period = float(text)
            except ValueError:
                raise LaunchError(f"timer period must be a number of seconds, not {text!r}") from None
        if period < 0:
            raise LaunchError(f"timer period must not be negative, got {period}")
        context.sink.schedule(float(period), self.entities, context.child())

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"timer": self.period, "children": [e.describe() for e in self.entities]}
        return self._describe_condition(out)

    def children(self) -> list[LaunchEntity]:
        return list(self.entities)
