"""Events the launch service emits: a process started, a process exited, shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from robotfleet_nodes.launch.entity import LaunchEntity

__all__ = ["Event", "ProcessExited", "ProcessStarted", "ShutdownRequested"]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all launch events."""


@dataclass(frozen=True, slots=True)
class ProcessStarted(Event):
    """``action`` (a ``Node``/``ExecuteProcess``/container) started as process ``pid``."""

    action: LaunchEntity
    name: str
    pid: int


@dataclass(frozen=True, slots=True)
class ProcessExited(Event):
    """Process ``pid`` of ``action`` exited; ``returncode`` is negative for a signal."""

    action: LaunchEntity
    name: str
    pid: int
    returncode: int


@dataclass(frozen=True, slots=True)
class ShutdownRequested(Event):
    """The launch is shutting down (signal, ``Shutdown`` action, or nothing left running)."""

    reason: str
