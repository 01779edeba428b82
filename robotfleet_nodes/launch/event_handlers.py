"""Event handlers: what to do when a process starts or exits, or the launch shuts down.

A handler names the event type it wants (``event_type``) and optionally a ``target``
entity; the launch service indexes handlers by both, so an event only reaches the handlers
registered for it (never a scan of every handler). The reaction is a list of entities, or
a callable ``(event, context) -> entities | None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.events import Event, ProcessExited, ProcessStarted, ShutdownRequested

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["EventHandler", "OnProcessExit", "OnProcessStart", "OnShutdown", "Reaction"]

Reaction = (
    Sequence[LaunchEntity]
    | LaunchEntity
    | Callable[[Any, "LaunchContext"], "Sequence[LaunchEntity] | LaunchEntity | None"]
)


class EventHandler:
    """Reacts to events of ``event_type`` (from ``target`` only, when given)."""

    event_type: ClassVar[type[Event]] = Event

    def __init__(self, reaction: Reaction, *, target: LaunchEntity | None = None) -> None:
        self.reaction = reaction
        self.target = target

    def entities(self, event: Event, context: LaunchContext) -> list[LaunchEntity]:
        """The entities to visit for ``event``."""
        result: Any = self.reaction
        if callable(result) and not isinstance(result, LaunchEntity):
            result = result(event, context)
        if result is None:
            return []
        if isinstance(result, LaunchEntity):
            return [result]
        return list(result)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description."""
        out: dict[str, Any] = {"on": self.event_type.__name__}
        if self.target is not None:
            out["target"] = self.target.describe()
        if callable(self.reaction) and not isinstance(self.reaction, LaunchEntity):
            out["do"] = getattr(self.reaction, "__qualname__", repr(self.reaction))
        else:
            items = [self.reaction] if isinstance(self.reaction, LaunchEntity) else self.reaction
            out["do"] = [e.describe() for e in items]
        return out


class OnProcessStart(EventHandler):
    """When ``target`` (or any process) has started."""

    event_type = ProcessStarted

    def __init__(self, *, target: LaunchEntity | None = None, on_start: Reaction) -> None:
        super().__init__(on_start, target=target)


class OnProcessExit(EventHandler):
    """When ``target`` (or any process) has exited."""

    event_type = ProcessExited

    def __init__(self, *, target: LaunchEntity | None = None, on_exit: Reaction) -> None:
        super().__init__(on_exit, target=target)


class OnShutdown(EventHandler):
    """When the launch starts shutting down."""

    event_type = ShutdownRequested

    def __init__(self, *, on_shutdown: Reaction) -> None:
        super().__init__(on_shutdown)
