"""Running subscription callbacks: what the in-process and DDS transports share.

Both hand decoded messages to user callbacks from a queue: plain functions inline, coroutine
functions from one task per subscription (so a slow one delays only itself). A callback
that raises, or whose returned awaitable fails, is logged (rate-limited) and the
subscription keeps running.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any

from robotfleet_nodes.transport._base import EndpointInfo
from robotfleet_nodes.transport._ratelimit import RateLimitedLog

__all__ = ["CallbackFailures", "run_queued_callbacks"]


class CallbackFailures:
    """Mixin for subscription handles: report what their callbacks raise."""

    endpoint: EndpointInfo
    _log: RateLimitedLog

    def _check_task(self, task: asyncio.Future[Any]) -> None:
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self._log.log(logging.ERROR, "%s: subscription callback raised", self.endpoint.name, exc_info=exc)


async def run_queued_callbacks(
    queue: collections.deque[Any],
    wakeup: asyncio.Event,
    callback: Callable[[Any], Any],
    failed: Callable[[BaseException], None],
    on_message: Callable[[], None] | None = None,
) -> None:
    """Await ``callback(msg)`` for each message put in ``queue`` (``wakeup`` set), forever."""
    while True:
        if not queue:
            wakeup.clear()
            await wakeup.wait()
            continue
        msg = queue.popleft()
        if on_message is not None:
            on_message()
        try:
            await callback(msg)
        except Exception as exc:
            failed(exc)
