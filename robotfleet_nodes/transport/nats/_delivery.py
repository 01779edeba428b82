"""Delivery to one subscription's callback: inline while it keeps up, else a bounded queue.

nats-server cuts a connection (every subscription of the process) as a *slow consumer* once
more than its ``max_pending`` (64 MiB) waits for it, and nats-py reads the socket in one task
that also runs inline callbacks: a callback that stops that task stops the whole connection.
So a subscription that falls behind drops messages here, by its QoS, before the server does:

* **Fast path.** While the callback returns within :data:`SLOW_CALLBACK` (5 ms), it runs
  right in the reading task, as before: no queue, no task switch.
* **Queued.** A plain callback that ran longer, and every coroutine callback, switch the
  subscription to a bounded queue: the reading task only appends the decoded message and
  goes on reading; a drainer task (one per queued subscription) runs the callbacks, in
  order (coroutines awaited one at a time). A plain callback's subscription returns to the
  fast path once its queue is empty and its last callback was fast again.
* **Bounds.** KEEP_LAST depth N keeps the newest N messages while the subscription is
  behind (a new message pushes out the oldest, as DDS history does; no loss is reported, as
  in DDS). It is behind once two callbacks in a row ran longer than :data:`SLOW_CALLBACK`,
  or the one running now has: a fast callback is not behind just because one read brought
  a burst of messages before the drainer's turn, or because the process was descheduled
  once, so its queue may then hold up to the KEEP_ALL bound (it is trimmed to the newest N
  as soon as the subscription is behind). KEEP_ALL keeps up to
  ``max(depth, 10000)`` messages; beyond that a new message is dropped and reported as lost
  (:attr:`SubscriptionHandle.on_message_lost` with the total, rclpy's ``message_lost``).
  Both also keep at most :data:`MAX_QUEUED_BYTES` (64 MiB, counted as wire sizes; at least
  one message). Every drop counts in ``EntityStats.dropped``.
* **Reader first.** The drainer runs a turn of callbacks (up to :data:`TURN` of them, or one
  slow one) only once the reader has caught up: no byte arrived on the connection for
  :data:`QUIET_ITERATIONS` loop iterations (the client's :meth:`read_progress` did not
  move). So that a connection that never goes quiet cannot starve the subscription, a turn
  also starts once the reader has had as long as the previous turn took: a slow subscription
  gets at most about half of the loop while its connection is busy.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from robotfleet_nodes.qos import History, QoSProfile
from robotfleet_nodes.transport._base import EntityStats, MessageCallback, MessageLostCallback
from robotfleet_nodes.transport._ratelimit import RateLimitedLog

__all__ = ["KEEP_ALL_LIMIT", "MAX_QUEUED_BYTES", "QUIET_ITERATIONS", "SLOW_CALLBACK", "TURN", "Delivery"]

log = logging.getLogger(__name__)

#: A plain callback that runs longer than this (seconds) moves its subscription to the queue.
SLOW_CALLBACK = 0.005
#: Longest run of callbacks (seconds) the drainer makes before giving the reader its turn.
TURN = 0.005
#: Loop iterations without a new byte after which the reader counts as caught up.
QUIET_ITERATIONS = 3
#: Messages a KEEP_ALL subscription may have queued (at least its depth).
KEEP_ALL_LIMIT = 10_000
#: Bytes (wire sizes) any subscription may have queued; at least one message is kept.
MAX_QUEUED_BYTES = 64 * 1024 * 1024

_perf = time.perf_counter


class Delivery:
    """Runs one subscription's callback inline or from its bounded queue (module docstring).

    ``progress`` returns something that changes whenever the connection reads bytes (None:
    unknown, one loop iteration is the reader's turn). ``lost`` returns the subscription's
    current ``on_message_lost`` callback; ``failed`` is told about callback exceptions.
    """

    def __init__(
        self,
        name: str,
        qos: QoSProfile,
        callback: MessageCallback,
        stats: EntityStats,
        *,
        progress: Callable[[], object] | None,
        lost: Callable[[], MessageLostCallback | None],
        failed: Callable[[BaseException], None],
    ) -> None:
        self._name = name
        self._callback = callback
        self._stats = stats
        self._progress = progress
        self._lost_cb = lost
        self._failed = failed
        self._is_async = inspect.iscoroutinefunction(callback)
        self._keep_last = qos.history is History.KEEP_LAST
        self._burst = max(qos.depth, KEEP_ALL_LIMIT)
        self._limit = max(qos.depth, 1) if self._keep_last else self._burst
        self._slow_runs = 0  # callbacks in a row that ran longer than SLOW_CALLBACK
        self._since: float | None = None  # when the running callback (drainer) started
        self._queue: deque[tuple[Any, int]] = deque()
        self._bytes = 0
        self._lost = 0
        #: True while messages go through the queue (always for coroutine callbacks).
        self.queued = self._is_async
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._owed = 0.0
        self._log = RateLimitedLog(log)
        self._lost_log = RateLimitedLog(log)
        self._closed = False

    @property
    def pending(self) -> int:
        """Messages waiting in the queue."""
        return len(self._queue)

    def deliver(self, message: Any, size: int) -> None:
        """A decoded message of ``size`` wire bytes, from the reading task."""
        if self.queued:
            self._enqueue(message, size)
            return
        start = _perf()
        try:
            result = self._callback(message)
            if result is not None and inspect.isawaitable(result):
                # A plain function returned an awaitable (e.g. a lambda around a coroutine).
                task = asyncio.ensure_future(result)
                task.add_done_callback(self._check_task)
        except Exception as exc:
            self._failed(exc)
        if _perf() - start > SLOW_CALLBACK:
            self.queued = True  # the next messages wait in the queue; the reader goes on
            self._slow_runs += 1
        elif self._slow_runs:
            self._slow_runs = 0

    def _enqueue(self, message: Any, size: int) -> None:
        if self._closed:
            return
        queue = self._queue
        if self._keep_last:
            limit = self._limit if self._behind() else self._burst
            while queue and (len(queue) >= limit or self._bytes + size > MAX_QUEUED_BYTES):
                self._bytes -= queue.popleft()[1]
                self._dropped("the oldest")
        elif queue and (len(queue) >= self._limit or self._bytes + size > MAX_QUEUED_BYTES):
            self._dropped("a new")
            self._report_lost()
            return
        queue.append((message, size))
        self._bytes += size
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._drain(), name=f"rfos-delivery {self._name}")
        self._wakeup.set()

    def _behind(self) -> bool:
        since = self._since
        return self._slow_runs >= 2 or (since is not None and _perf() - since > SLOW_CALLBACK)

    def _trim(self) -> None:
        """KEEP_LAST, once behind: only the newest ``depth`` messages stay."""
        queue = self._queue
        while len(queue) > self._limit:
            self._bytes -= queue.popleft()[1]
            self._dropped("the oldest")

    def _dropped(self, which: str) -> None:
        stats = self._stats
        stats.dropped += 1
        self._log.log(
            logging.WARNING,
            "%s: the subscription falls behind; dropped %s message (%d dropped so far)",
            self._name,
            which,
            stats.dropped,
        )

    def _report_lost(self) -> None:
        self._lost += 1
        callback = self._lost_cb()
        if callback is None:
            return
        try:
            callback(self._lost)
        except Exception as exc:
            self._lost_log.log(logging.ERROR, "%s: on_message_lost raised", self._name, exc_info=exc)

    async def _drain(self) -> None:
        queue, wakeup = self._queue, self._wakeup
        while not self._closed:
            if not queue:
                wakeup.clear()
                await wakeup.wait()
                continue
            await self._reader_turn()
            started = _perf()
            took = 0.0
            while queue and not self._closed:
                message, size = queue.popleft()
                self._bytes -= size
                began = self._since = _perf()
                await self._run(message)
                took = _perf() - began
                self._since = None
                self._slow_runs = self._slow_runs + 1 if took > SLOW_CALLBACK else 0
                if self._slow_runs >= 2 and self._keep_last:
                    self._trim()
                if began + took - started >= TURN:
                    break
            self._owed = _perf() - started
            if not queue and not self._is_async and took <= SLOW_CALLBACK:
                self.queued = False  # caught up with a fast callback: back to the inline path

    async def _run(self, message: Any) -> None:
        try:
            result = self._callback(message)
            if result is not None and inspect.isawaitable(result):
                await result
        except Exception as exc:
            self._failed(exc)

    async def _reader_turn(self) -> None:
        """Return once the reader has caught up, or has had as long as our last turn took."""
        progress = self._progress
        if progress is None:
            await asyncio.sleep(0)
            return
        until = _perf() + self._owed
        last = progress()
        quiet = 0
        while True:
            await asyncio.sleep(0)
            now = progress()
            if now == last:
                quiet += 1
                if quiet >= QUIET_ITERATIONS:
                    return
            else:
                last, quiet = now, 0
            if _perf() >= until:
                return

    def _check_task(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failed(task.exception())  # type: ignore[arg-type]

    def close(self) -> None:
        """Drop what is queued and stop the drainer; idempotent."""
        self._closed = True
        self._queue.clear()
        self._bytes = 0
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()  # (closed from its own callback: the drainer stops after it)
