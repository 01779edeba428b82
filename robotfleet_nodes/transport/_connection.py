"""Connection state: where a transport's link to its bus stands, and who is told when it changes.

Every transport (and every :class:`~robotfleet_nodes.node.context.Context`) keeps one
:class:`ConnectionEvents`: it holds the current :class:`ConnectionState` and calls the
listeners registered with ``add_connection_listener`` on each change. Listeners may be
plain functions or coroutine functions; an exception in one is logged and never reaches
the transport or the other listeners.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["ConnectionEvents", "ConnectionListener", "ConnectionListenerHandle", "ConnectionState"]

log = logging.getLogger(__name__)


class ConnectionState(enum.StrEnum):
    """The state of a transport's connection; listeners see every change but :attr:`NEW`."""

    #: Created, not connected yet.
    NEW = "new"
    #: The first connection is up.
    CONNECTED = "connected"
    #: The connection was lost; the transport is trying to get it back (publishes are
    #: buffered or dropped as their QoS says).
    DISCONNECTED = "disconnected"
    #: Up again after a loss (subscriptions and services are restored).
    RECONNECTED = "reconnected"
    #: Closed for good (by ``close()``, or the transport gave up).
    CLOSED = "closed"

    @property
    def is_up(self) -> bool:
        """True for :attr:`CONNECTED` and :attr:`RECONNECTED`: messages flow now."""
        return self in (ConnectionState.CONNECTED, ConnectionState.RECONNECTED)


#: Called with the new state; may be a coroutine function (then run as a task).
ConnectionListener = Callable[[ConnectionState], Awaitable[None] | None]


class ConnectionListenerHandle:
    """Returned by ``add_connection_listener``: :meth:`remove` stops the calls (idempotent)."""

    __slots__ = ("_events", "_listener")

    def __init__(self, events: ConnectionEvents, listener: ConnectionListener) -> None:
        self._events: ConnectionEvents | None = events
        self._listener = listener

    def remove(self) -> None:
        """Stop calling the listener; calling it again does nothing."""
        if self._events is not None:
            self._events._remove(self._listener)
            self._events = None


class ConnectionEvents:
    """The current state and the listeners told about changes (one per transport or context)."""

    def __init__(self) -> None:
        self._state = ConnectionState.NEW
        self._listeners: list[ConnectionListener] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def state(self) -> ConnectionState:
        """The state after the last change."""
        return self._state

    def add(self, listener: ConnectionListener) -> ConnectionListenerHandle:
        """Call ``listener`` on every later change of state."""
        self._listeners.append(listener)
        return ConnectionListenerHandle(self, listener)

    def _remove(self, listener: ConnectionListener) -> None:
        # by identity: two equal bound methods are still two registrations
        for index, known in enumerate(self._listeners):
            if known is listener:
                del self._listeners[index]
                return

    def set(self, state: ConnectionState) -> None:
        """Record ``state``; if it differs from the current one, tell every listener."""
        if state is self._state:
            return
        self._state = state
        for listener in list(self._listeners):
            try:
                result = listener(state)
            except Exception:
                log.exception("connection listener %r raised on %s", listener, state.value)
                continue
            if inspect.isawaitable(result):
                self._run(listener, state, result)

    def _run(self, listener: ConnectionListener, state: ConnectionState, awaitable: Awaitable[None]) -> None:
        async def call() -> None:
            try:
                await awaitable
            except Exception:
                log.exception("connection listener %r raised on %s", listener, state.value)

        try:
            task = asyncio.get_running_loop().create_task(call())
        except RuntimeError:  # no running loop: nothing can await it
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            log.warning("connection listener %r is async but no event loop runs: not called", listener)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
