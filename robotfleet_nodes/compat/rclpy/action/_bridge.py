"""From the asyncio thread to an executor: queue a user callback, await what it returns.

An action server or client owns :class:`WorkQueue` entities; the asyncio side puts work in
them (:meth:`WorkQueue.call` awaits the callback's result) and an executor spinning the
node runs it, honouring the queue's callback group. A callback that returns a coroutine
(``async def``) is driven on the executor too: each time it awaits a future it is resumed
once that future is done, as rclpy runs coroutine callbacks as tasks.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from .. import _core
from .._entity import Entity, Work
from ..callback_groups import CallbackGroup
from ..task import Future

__all__ = ["WorkQueue", "wait_done"]

#: Called once with (value, None) or (None, exception) when a callback has finished.
Finish = Callable[[Any, BaseException | None], None]


class WorkQueue(Entity):
    """Work for an executor, taken first in, first out, in one callback group."""

    def __init__(self, group: CallbackGroup) -> None:
        super().__init__(group)
        self._queue: deque[Work] = deque()

    def put(self, work: Work) -> None:
        """Queue ``work`` (any thread) and wake the executors."""
        with self._lock:
            self._queue.append(work)
        _core.notify()

    def _take(self, now: float) -> Work | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def run(self, callback: Callable[..., Any], args: tuple[Any, ...], finish: Finish) -> None:
        """Queue ``callback(*args)``; ``finish`` gets its value (a coroutine's return value)."""
        self.put(lambda: self._start(callback, args, finish))

    async def call(self, callback: Callable[..., Any], *args: Any, reraise: bool = True) -> Any:
        """On the asyncio thread: run ``callback(*args)`` on an executor and return its value.

        An exception is set on the awaiting side too; with ``reraise`` it also propagates
        out of the executor's spin, as an exception in an rclpy callback does.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()

        def finish(value: Any, exc: BaseException | None) -> None:
            def settle() -> None:
                if answer.done():
                    return
                if exc is not None:
                    answer.set_exception(exc)
                else:
                    answer.set_result(value)

            loop.call_soon_threadsafe(settle)
            if exc is not None and reraise:
                raise exc

        self.run(callback, args, finish)
        return await answer

    def _start(self, callback: Callable[..., Any], args: tuple[Any, ...], finish: Finish) -> None:
        try:
            value = callback(*args)
        except Exception as exc:
            finish(None, exc)
            return
        if inspect.iscoroutine(value):
            self._step(value, finish)
        else:
            finish(value, None)

    def _step(self, coro: Coroutine[Any, Any, Any], finish: Finish) -> None:
        Future._take_awaited()
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            finish(stop.value, None)
            return
        except Exception as exc:
            finish(None, exc)
            return
        awaited = Future._take_awaited()

        def resume() -> None:
            self._step(coro, finish)

        if awaited is not None:
            awaited.add_done_callback(lambda _f: self.put(resume))
        elif isinstance(yielded, asyncio.Future):
            coro.close()
            finish(
                None,
                TypeError(
                    "an rclpy coroutine callback awaited an asyncio future: rclpy runs coroutine "
                    "callbacks on its executor, not on asyncio; await rclpy futures instead"
                ),
            )
        else:
            self.put(resume)  # a bare yield: resume on the executor's next turn


def wait_done(future: Any, timeout_sec: float | None = None) -> bool:
    """Block the calling thread until ``future`` (an rclpy Future) is done; False on timeout."""
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    return done.wait(timeout_sec)
