"""The process-wide state of our ``rclpy``: the asyncio loop on its own thread, the context.

Callbacks never run here: the loop thread only moves data (a message, a request, a
response) into the entity's queue and wakes the executors through :data:`WAKE`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.node import Context

__all__ = [
    "WAKE",
    "RclpyStateError",
    "install_sigint",
    "interrupt",
    "is_initialised",
    "is_running",
    "notify",
    "on_shutdown",
    "remove_on_shutdown",
    "run",
    "run_query",
    "start",
    "stop",
    "submit",
    "uninstall_sigint",
]

_log = logging.getLogger(__name__)

T = TypeVar("T")

#: Notified whenever an entity becomes ready, a callback ends or the library shuts down.
WAKE = threading.Condition()


class RclpyStateError(RobotFleetError, RuntimeError):
    """``rclpy`` used before ``rclpy.init()`` or after ``rclpy.shutdown()``: call them once each."""


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.context: Context | None = None
        self.interrupted = False  # Ctrl-C: not ok() any more; torn down by shutdown()
        self.on_shutdown: list[Callable[[], None]] = []
        self.previous_sigint: Any = None


_state = _State()


def notify() -> None:
    """Wake every executor waiting for work."""
    with WAKE:
        WAKE.notify_all()


def is_running() -> bool:
    """Whether rclpy is initialised and neither shut down nor interrupted (``rclpy.ok()``)."""
    return _state.context is not None and not _state.interrupted


def is_initialised() -> bool:
    """Whether ``init`` ran and ``shutdown`` not yet (true after Ctrl-C until ``shutdown``)."""
    return _state.context is not None


def on_shutdown(callback: Callable[[], None]) -> None:
    """Call ``callback()`` once when rclpy shuts down or is interrupted (Ctrl-C)."""
    _state.on_shutdown.append(callback)


def remove_on_shutdown(callback: Callable[[], None]) -> None:
    """Forget a callback given to :func:`on_shutdown` (nothing if it ran or was never added)."""
    with contextlib.suppress(ValueError):
        _state.on_shutdown.remove(callback)


def _run_shutdown_callbacks() -> None:
    callbacks, _state.on_shutdown = _state.on_shutdown, []
    for callback in callbacks:
        try:
            callback()
        except Exception:  # one broken callback must not stop the others
            _log.exception("rclpy on_shutdown callback %r failed", callback)


def interrupt() -> None:
    """Ctrl-C: ``ok()`` turns false, sleepers and executors wake (like rclpy's SIGINT handler)."""
    if _state.context is None or _state.interrupted:
        return
    _state.interrupted = True
    _run_shutdown_callbacks()
    notify()


def _on_sigint(signum: int, frame: Any) -> None:
    previous = _state.previous_sigint
    interrupt()
    if callable(previous):
        previous(signum, frame)
    else:
        raise KeyboardInterrupt


def install_sigint() -> None:
    """Install the SIGINT handler (main thread only; chains to the previous handler)."""
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGINT)
    if current is _on_sigint:
        return
    _state.previous_sigint = current
    signal.signal(signal.SIGINT, _on_sigint)


def uninstall_sigint() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is _on_sigint:
        previous = _state.previous_sigint
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    _state.previous_sigint = None


def context() -> Context:
    if _state.context is None:
        raise RclpyStateError("rclpy is not initialised: call rclpy.init() first")
    return _state.context


def loop() -> asyncio.AbstractEventLoop:
    if _state.loop is None:
        raise RclpyStateError("rclpy is not initialised: call rclpy.init() first")
    return _state.loop


def submit(coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """Schedule ``coro`` on the loop thread; a concurrent future of its result."""
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, _loop_for(coro)), loop=loop())


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the loop thread and wait for its result (never call from the loop thread)."""
    return asyncio.run_coroutine_threadsafe(coro, _loop_for(coro)).result()


def run_query(coro: Coroutine[Any, Any, T], default: T) -> T:
    """:func:`run` for a read-only query (the graph): ``default`` when ``rclpy.shutdown()``
    (another thread's) cancels it midway, as a program tearing down expects no error from a
    query it started while rclpy was up."""
    try:
        return run(coro)
    except concurrent.futures.CancelledError:
        if is_running():
            raise
        return default


def _loop_for(coro: Coroutine[Any, Any, Any]) -> asyncio.AbstractEventLoop:
    """The loop, else close ``coro`` (no "never awaited" warning) and raise RclpyStateError."""
    try:
        return loop()
    except RclpyStateError:
        coro.close()
        raise


def start(args: list[str] | None) -> None:
    with _state.lock:
        if _state.context is not None:
            raise RclpyStateError("rclpy.init() was already called: call rclpy.shutdown() first")
        new_loop = asyncio.new_event_loop()
        thread = threading.Thread(target=new_loop.run_forever, name="rclpy-asyncio", daemon=True)
        thread.start()
        ctx = Context(args=args or [])
        try:
            asyncio.run_coroutine_threadsafe(ctx.start(), new_loop).result()
        except BaseException:
            new_loop.call_soon_threadsafe(new_loop.stop)
            thread.join()
            new_loop.close()
            raise
        _state.loop, _state.thread, _state.context = new_loop, thread, ctx


async def _cancel_leftovers() -> None:
    """Cancel the tasks entities left behind (an action server's status task...), as
    ``asyncio.run`` does, so none is destroyed pending with the loop."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def stop() -> None:
    with _state.lock:
        ctx, loop_, thread = _state.context, _state.loop, _state.thread
        if ctx is None or loop_ is None or thread is None:
            raise RclpyStateError("rclpy.shutdown() without rclpy.init(): call rclpy.init() first")
        _state.context = None
        interrupted, _state.interrupted = _state.interrupted, False
        if not interrupted:
            _run_shutdown_callbacks()
        uninstall_sigint()
        try:
            asyncio.run_coroutine_threadsafe(ctx.close(), loop_).result(timeout=10)
            asyncio.run_coroutine_threadsafe(_cancel_leftovers(), loop_).result(timeout=10)
        finally:
            loop_.call_soon_threadsafe(loop_.stop)
            thread.join(timeout=10)
            if not thread.is_alive():
                loop_.close()
            _state.loop = _state.thread = None
    notify()
