"""``launch.events``: what ``EmitEvent`` sends and event-handler callables receive."""

from __future__ import annotations

from .process import ProcessExited, ProcessIO, ProcessStarted

__all__ = ["Event", "ProcessExited", "ProcessIO", "ProcessStarted", "Shutdown"]


class Event:
    """Base of the events handed to launch files."""

    name = "launch.events.Event"


class Shutdown(Event):
    """The launch is (to be) shut down: ``EmitEvent(event=Shutdown(reason=...))`` ends it."""

    name = "launch.events.Shutdown"

    def __init__(self, *, reason: str = "reason not given", due_to_sigint: bool = False) -> None:
        self.reason = reason
        self.due_to_sigint = due_to_sigint
