"""``describe_launch``: visit a description without running it (``rfos launch --print``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.launch.context import LaunchContext

if TYPE_CHECKING:
    from robotfleet_nodes.launch.entity import LaunchEntity
    from robotfleet_nodes.launch.event_handlers import EventHandler
    from robotfleet_nodes.launch.launch_description import LaunchDescription
    from robotfleet_nodes.launch.process_spec import ProcessSpec

__all__ = ["RecordingSink", "describe_launch"]


class RecordingSink:
    """A launch sink that records instead of starting anything."""

    def __init__(self) -> None:
        self.processes: list[ProcessSpec] = []
        self.messages: list[str] = []
        self.handlers: list[EventHandler] = []
        self.shutdown_reason: str | None = None

    def execute(self, spec: ProcessSpec) -> None:
        self.processes.append(spec)

    def log(self, message: str) -> None:
        self.messages.append(message)

    def register_handler(self, handler: EventHandler, context: LaunchContext) -> None:
        self.handlers.append(handler)

    def shutdown(self, reason: str) -> None:
        self.shutdown_reason = reason

    def schedule(self, delay: float, entities: Sequence[LaunchEntity], context: LaunchContext) -> None:
        """Visit a timer's entities at once: ``--print`` shows what it would start."""
        context.visit(entities)


def describe_launch(
    description: LaunchDescription,
    arguments: Mapping[str, str] | None = None,
    *,
    source: str | Path | None = None,
) -> dict[str, Any]:
    """The resolved launch: arguments, processes (with their commands), logs, handlers."""
    sink = RecordingSink()
    context = LaunchContext(sink, arguments=arguments, source=source)
    description.visit(context)
    out: dict[str, Any] = {
        "arguments": {
            k: context.configurations[k] for k in sorted(context.declared) if k in context.configurations
        },
        "processes": [p.describe() for p in sink.processes],
    }
    if sink.messages:
        out["log"] = sink.messages
    if sink.handlers:
        out["event_handlers"] = [h.describe() for h in sink.handlers]
    return out
