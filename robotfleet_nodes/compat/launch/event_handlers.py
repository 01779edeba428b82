"""``launch.event_handlers``: our handlers, with ROS 2's keywords and callable signatures.

``target_action`` is the action object (an adapter from ``launch.actions`` /
``launch_ros.actions``). A reaction is an action, a list of them, or a callable: for
``OnProcessStart``/``OnProcessExit``/``OnShutdown`` ``f(event, context)``, for
``OnProcessIO`` ``f(event)`` (as in ROS 2), with ``launch.events`` objects and the
``launch.LaunchContext`` view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from robotfleet_nodes.launch import Event as CoreEvent
from robotfleet_nodes.launch import LaunchContext as CoreContext
from robotfleet_nodes.launch import LaunchEntity, ShutdownRequested
from robotfleet_nodes.launch import OnProcessExit as _CoreOnProcessExit
from robotfleet_nodes.launch import OnProcessIO as _CoreOnProcessIO
from robotfleet_nodes.launch import OnProcessStart as _CoreOnProcessStart
from robotfleet_nodes.launch import OnShutdown as _CoreOnShutdown
from robotfleet_nodes.launch import ProcessExited as CoreExited
from robotfleet_nodes.launch import ProcessIO as CoreIO
from robotfleet_nodes.launch import ProcessStarted as CoreStarted

from ._context import view
from .events import Shutdown
from .events.process import ProcessExited, ProcessIO, ProcessStarted

__all__ = ["OnProcessExit", "OnProcessIO", "OnProcessStart", "OnShutdown"]

_Result = Any  # an entity, a list of entities or None


def _event(event: CoreEvent) -> Any:
    """The ``launch.events`` object for one of our events."""
    cmd = getattr(getattr(event, "action", None), "last_cmd", None)
    if isinstance(event, CoreExited):
        return ProcessExited(
            action=event.action, name=event.name, pid=event.pid, cmd=cmd, returncode=event.returncode
        )
    if isinstance(event, CoreStarted):
        return ProcessStarted(action=event.action, name=event.name, pid=event.pid, cmd=cmd)
    if isinstance(event, CoreIO):
        return ProcessIO(
            action=event.action,
            name=event.name,
            pid=event.pid,
            cmd=cmd,
            text=(event.text + "\n").encode(),
            fd=2 if event.from_stderr else 1,
        )
    if isinstance(event, ShutdownRequested):
        return Shutdown(reason=event.reason, due_to_sigint=event.reason.startswith("signal SIGINT"))
    return event


def _reaction(reaction: Any, *, with_context: bool, once: bool) -> Any:
    """Our reaction for a ROS 2 one: callables get ``launch`` events (and context)."""
    if reaction is None or (not callable(reaction) and not once):
        return reaction
    fired = [False]

    def react(event: CoreEvent, context: CoreContext) -> _Result:
        if once and fired[0]:
            return None
        fired[0] = True
        if not callable(reaction) or isinstance(reaction, LaunchEntity):
            return reaction
        if with_context:
            return reaction(_event(event), view(context))
        return reaction(_event(event))

    react.describe = lambda: getattr(reaction, "__qualname__", repr(reaction))  # type: ignore[attr-defined]
    return react


def _target(target_action: Any) -> LaunchEntity | None:
    if target_action is None or isinstance(target_action, LaunchEntity):
        return target_action
    raise TypeError(
        f"target_action must be a launch action, not {type(target_action).__name__} "
        "(a predicate function is not supported yet)"
    )


class OnProcessStart(_CoreOnProcessStart):
    """React when ``target_action``'s process (or any process) has started."""

    def __init__(
        self,
        *,
        target_action: Any = None,
        on_start: Any,
        handle_once: bool = False,
    ) -> None:
        super().__init__(
            target=_target(target_action), on_start=_reaction(on_start, with_context=True, once=handle_once)
        )


class OnProcessExit(_CoreOnProcessExit):
    """React when ``target_action``'s process (or any process) has exited."""

    def __init__(
        self,
        *,
        target_action: Any = None,
        on_exit: Any,
        handle_once: bool = False,
    ) -> None:
        super().__init__(
            target=_target(target_action), on_exit=_reaction(on_exit, with_context=True, once=handle_once)
        )


class OnProcessIO(_CoreOnProcessIO):
    """React to each line ``target_action``'s process writes: ``on_stdout(event)`` /
    ``on_stderr(event)`` (``event.text`` is bytes). ``on_stdin`` is not supported."""

    def __init__(
        self,
        *,
        target_action: Any = None,
        on_stdin: Callable[[Any], Any] | None = None,
        on_stdout: Callable[[Any], Any] | None = None,
        on_stderr: Callable[[Any], Any] | None = None,
    ) -> None:
        if on_stdin is not None:
            raise TypeError("OnProcessIO(on_stdin=...) is not supported: processes get no stdin here")
        super().__init__(
            target=_target(target_action),
            on_stdout=_reaction(on_stdout, with_context=False, once=False),
            on_stderr=_reaction(on_stderr, with_context=False, once=False),
        )


class OnShutdown(_CoreOnShutdown):
    """React when the launch starts shutting down (``event.reason`` says why)."""

    def __init__(self, *, on_shutdown: Any) -> None:
        super().__init__(on_shutdown=_reaction(on_shutdown, with_context=True, once=False))
