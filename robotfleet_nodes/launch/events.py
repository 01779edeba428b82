"""Events the launch service emits: a process started, wrote a line, exited; shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from robotfleet_nodes.launch.entity import LaunchEntity

__all__ = ["Event", "ProcessExited", "ProcessIO", "ProcessStarted", "ShutdownRequested"]


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
class ProcessIO(Event):
    """Process ``pid`` of ``action`` wrote one line ``text`` (no newline) to stdout or stderr.

    Only emitted while an ``OnProcessIO`` handler is registered, so output costs nothing
    extra otherwise.
    """

    action: LaunchEntity
    name: str
    pid: int
    text: str
    from_stderr: bool


@dataclass(frozen=True, slots=True)
class ShutdownRequested(Event):
    """The launch is shutting down (signal, ``Shutdown`` action, or nothing left running)."""

    reason: str
