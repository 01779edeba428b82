"""Calling user callbacks that may be plain functions or coroutine functions.

Private machinery of the whole package (node entities and actions both run user callbacks),
so it lives at the root, below every package that uses it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["RateLimitedLog", "call_maybe_async", "cancel_and_wait", "is_async", "spawn"]


async def call_maybe_async(callback: Callable[..., Any], *args: Any) -> Any:
    """Call ``callback(*args)`` and await the result if it is awaitable."""
    result = callback(*args)
    if inspect.isawaitable(result):
        return await result
    return result


def is_async(callback: Callable[..., Any]) -> bool:
    """True for coroutine functions (and callables whose ``__call__`` is one)."""
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None)  # noqa: B004 - a callable object's __call__
    )


class RateLimitedLog:
    """Logs at most one line per ``interval`` seconds, with how many were suppressed."""

    __slots__ = ("_count", "_interval", "_last", "_logger")

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval
        self._last = -float("inf")
        self._count = 0

    def __call__(self, level: int, msg: str, *args: object, exc_info: bool = False) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        suppressed = self._count - 1
        self._count = 0
        self._last = now
        if suppressed:
            msg += f" (+{suppressed} similar in the last {self._interval:.0f}s)"
        self._logger.log(level, msg, *args, exc_info=exc_info)


def spawn(coro: Awaitable[Any], tasks: set[asyncio.Task[Any]]) -> asyncio.Task[Any]:
    """Start ``coro`` as a task kept alive in ``tasks`` until it finishes."""
    task: asyncio.Task[Any] = asyncio.ensure_future(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


async def cancel_and_wait(task: asyncio.Task[Any] | None, *, retry_s: float = 1.0) -> None:
    """Cancel ``task`` and return once it has ended, cancelling it again every ``retry_s``
    while it runs on: Python 3.11's ``wait_for`` and ``timeout`` drop a cancel that lands
    together with the reply they await, and a loop task then goes on as if never cancelled
    (a single ``cancel()`` + ``gather()`` waits forever). ``retry_s`` leaves the task time
    for its own clean-up before it is cancelled again."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_s)
    if not task.cancelled():
        task.exception()  # retrieved: an error it ended with is the task owner's to log
