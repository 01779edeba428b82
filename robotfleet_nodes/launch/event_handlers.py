"""Event handlers: what to do when a process starts, writes a line or exits, or the launch
shuts down.

A handler names the event type it wants (``event_type``) and optionally a ``target``: the
process action itself, or a process name (the action's ``name``, e.g. ``talker``, or its
label, e.g. ``talker-2``). The launch service indexes handlers by both, so an event only
reaches the handlers registered for it (never a scan of every handler). The reaction is a
list of entities, or a callable ``(event, context) -> entities | None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.events import Event, ProcessExited, ProcessIO, ProcessStarted, ShutdownRequested

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = [
    "EventHandler",
    "OnProcessExit",
    "OnProcessIO",
    "OnProcessStart",
    "OnShutdown",
    "Reaction",
    "Target",
]

Reaction = (
    Sequence[LaunchEntity]
    | LaunchEntity
    | Callable[[Any, "LaunchContext"], "Sequence[LaunchEntity] | LaunchEntity | None"]
)

#: What a handler listens to: one process action, or a process name / label.
Target = LaunchEntity | str


class EventHandler:
    """Reacts to events of ``event_type`` (from ``target`` only, when given)."""

    event_type: ClassVar[type[Event]] = Event

    def __init__(self, reaction: Reaction | None, *, target: Target | None = None) -> None:
        self.reaction = reaction
        self.target = target

    def entities(self, event: Event, context: LaunchContext) -> list[LaunchEntity]:
        """The entities to visit for ``event``."""
        return _react(self.reaction, event, context)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description."""
        out: dict[str, Any] = {"on": self.event_type.__name__}
        if isinstance(self.target, str):
            out["target"] = self.target
        elif self.target is not None:
            out["target"] = self.target.describe()
        out["do"] = _describe_reaction(self.reaction)
        return out


def _react(reaction: Reaction | None, event: Event, context: LaunchContext) -> list[LaunchEntity]:
    result: Any = reaction
    if callable(result) and not isinstance(result, LaunchEntity):
        result = result(event, context)
    if result is None:
        return []
    if isinstance(result, LaunchEntity):
        return [result]
    return list(result)


def _describe_reaction(reaction: Reaction | None) -> Any:
    if reaction is None:
        return []
    if callable(reaction) and not isinstance(reaction, LaunchEntity):
        describe = getattr(reaction, "describe", None)  # a launch file's reaction describes itself
        return describe() if callable(describe) else getattr(reaction, "__qualname__", repr(reaction))
    items = [reaction] if isinstance(reaction, LaunchEntity) else reaction
    return [e.describe() for e in items]


class OnProcessStart(EventHandler):
    """When ``target`` (or any process) has started."""

    event_type = ProcessStarted

    def __init__(self, *, target: Target | None = None, on_start: Reaction) -> None:
        super().__init__(on_start, target=target)


class OnProcessExit(EventHandler):
    """When ``target`` (or any process) has exited."""

    event_type = ProcessExited

    def __init__(self, *, target: Target | None = None, on_exit: Reaction) -> None:
        super().__init__(on_exit, target=target)


class OnProcessIO(EventHandler):
    """For each line ``target`` (or any process) writes: ``on_stdout`` / ``on_stderr``.

    The event (:class:`ProcessIO`) carries the line as ``text``.
    """

    event_type = ProcessIO

    def __init__(
        self,
        *,
        target: Target | None = None,
        on_stdout: Reaction | None = None,
        on_stderr: Reaction | None = None,
    ) -> None:
        if on_stdout is None and on_stderr is None:
            raise TypeError("OnProcessIO needs on_stdout, on_stderr or both")
        super().__init__(None, target=target)
        self.on_stdout = on_stdout
        self.on_stderr = on_stderr

    def entities(self, event: Event, context: LaunchContext) -> list[LaunchEntity]:
        """The stdout or stderr reaction's entities, by the stream the line came from."""
        assert isinstance(event, ProcessIO)
        return _react(self.on_stderr if event.from_stderr else self.on_stdout, event, context)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        del out["do"]
        out["on_stdout"] = _describe_reaction(self.on_stdout)
        out["on_stderr"] = _describe_reaction(self.on_stderr)
        return out


class OnShutdown(EventHandler):
    """When the launch starts shutting down."""

    event_type = ShutdownRequested

    def __init__(self, *, on_shutdown: Reaction) -> None:
        super().__init__(on_shutdown)
