"""``rclpy.task.Future``: a result that arrives later, set on an executor's thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any

__all__ = ["Future"]

#: Per thread: the future a coroutine's last step awaited (see ``Future.__await__``).
_awaiting = threading.local()


class Future:
    """The result of ``Client.call_async`` (like ``rclpy.task.Future``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._cancelled = False
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Future], None]] = []

    def done(self) -> bool:
        """Whether a result or an exception was set, or the future was cancelled."""
        return self._done

    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Cancel: no result will be set."""
        self._finish(None, None, cancelled=True)

    def result(self) -> Any:
        """The result (``None`` while not done); raises the exception that was set."""
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self) -> BaseException | None:
        return self._exception

    def set_result(self, result: Any) -> None:
        self._finish(result, None)

    def set_exception(self, exception: BaseException) -> None:
        self._finish(None, exception)

    def __await__(self) -> Generator[None, None, Any]:
        """``await future``: a bare yield while not done, as rclpy's, so an asyncio task (which
        polls) and our executors (which resume the coroutine once the future is done) both
        can await it."""
        while not self._done:
            _awaiting.future = self
            yield
        return self.result()

    @staticmethod
    def _take_awaited() -> Future | None:
        """The future a coroutine awaited in its last step on this thread (for executors)."""
        future: Future | None = getattr(_awaiting, "future", None)
        _awaiting.future = None
        return future

    def add_done_callback(self, callback: Callable[[Future], None]) -> None:
        """Call ``callback(self)`` when done (at once if done already)."""
        with self._lock:
            if not self._done:
                self._callbacks.append(callback)
                return
        callback(self)

    def _finish(self, result: Any, exception: BaseException | None, *, cancelled: bool = False) -> None:
        with self._lock:
            if self._done:
                return
            self._result, self._exception, self._cancelled = result, exception, cancelled
            self._done = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)
        from ._core import notify

        notify()
