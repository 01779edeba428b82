"""``rclpy.executors``: run the nodes' callbacks on the caller's thread or on a thread pool.

rclpy's semantics: an entity is taken only when its callback group can execute (one callback
at a time in a mutually exclusive group, a node's default); a single-threaded executor runs
one callback at a time; a timer that fell behind fires once, not once per missed period.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from robotfleet_nodes.errors import RobotFleetError

from . import _core
from ._entity import Entity, Work
from .node import Node
from .task import Future

__all__ = [
    "ConditionReachedException",
    "Executor",
    "ExternalShutdownException",
    "MultiThreadedExecutor",
    "ShutdownException",
    "SingleThreadedExecutor",
    "TimeoutException",
]


class ExternalShutdownException(RobotFleetError):
    """``rclpy.shutdown()`` was called while spinning."""


class TimeoutException(RobotFleetError):
    """:meth:`Executor.wait_for_ready_callbacks` found nothing ready within its timeout."""


class ShutdownException(RobotFleetError):
    """The executor (or rclpy) was shut down while waiting for callbacks."""


class ConditionReachedException(RobotFleetError):
    """The condition an executor waited for was reached (rclpy's name; kept for imports)."""


class Executor:
    """The base: holds nodes and takes ready work from them."""

    def __init__(self) -> None:
        self._nodes: list[Node] = []
        self._lock = threading.Lock()
        self._shutdown = False
        self._resumable: deque[tuple[Work, Entity, Node]] = deque()

    def add_node(self, node: Node) -> bool:
        """Spin ``node`` too; False if it was added already."""
        with self._lock:
            if node in self._nodes:
                return False
            self._nodes.append(node)
        node._executor = self
        _core.notify()
        return True

    def remove_node(self, node: Node) -> None:
        with self._lock:
            if node in self._nodes:
                self._nodes.remove(node)

    def get_nodes(self) -> list[Node]:
        with self._lock:
            return list(self._nodes)

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        """Stop spinning; True when done."""
        self._shutdown = True
        _core.notify()
        return True

    def _entities(self) -> list[tuple[Entity, Node]]:
        return [(entity, node) for node in self.get_nodes() for entity in node._snapshot()]

    def _take(self) -> tuple[Work, Entity, Node] | float | None:
        """Ready work, its entity (its group claimed) and node, else the next timer deadline.

        A coroutine callback whose awaited future is done comes first: its group is still
        claimed for it (rclpy releases a group when the coroutine ends)."""
        if self._resumable:  # unlocked peek: the common case (nothing to resume) takes no lock
            with self._lock:
                if self._resumable:
                    return self._resumable.popleft()
        now = time.monotonic()
        deadline: float | None = None
        for entity, node in self._entities():
            group = entity.callback_group
            if not group.can_execute(entity):
                continue
            due = entity._deadline()
            if due is not None and due > now:
                deadline = due if deadline is None else min(deadline, due)
                continue
            if not group.beginning_execution(entity):
                continue
            work = entity._take(now)
            if work is not None:
                return work, entity, node
            group.ending_execution(entity)
        return deadline

    def _wait_for_work(self, timeout_sec: float | None) -> tuple[Work, Entity, Node] | None:
        end = None if timeout_sec is None else time.monotonic() + timeout_sec
        with _core.WAKE:
            while True:
                if self._shutdown or not _core.is_running():
                    return None
                found = self._take()
                if isinstance(found, tuple):
                    return found
                now = time.monotonic()
                waits = [t - now for t in (found, end) if t is not None]
                wait = min(waits) if waits else None
                if end is not None and now >= end:
                    return None
                _core.WAKE.wait(None if wait is None else max(wait, 0.0))

    def _run(self, work: Work, entity: Entity, node: Node | None = None) -> None:
        """Run ``work``; release the entity's group when it is done. A coroutine (an
        ``async def`` callback) runs until it awaits an unfinished rclpy future and is
        resumed on an executor thread once that future is done, holding its group."""
        finished = True
        try:
            result: Any = work()
            if inspect.iscoroutine(result):
                finished = self._step(result, entity, node)
        finally:
            if finished:
                entity.callback_group.ending_execution(entity)
            _core.notify()

    def _step(self, coro: Coroutine[Any, Any, Any], entity: Entity, node: Node | None) -> bool:
        """One step of ``coro``; True when it ended (an exception propagates, as from a callback)."""
        Future._take_awaited()
        try:
            yielded = coro.send(None)
        except StopIteration:
            return True
        awaited = Future._take_awaited()
        if awaited is None and yielded is not None:
            coro.close()
            raise TypeError(
                "an rclpy coroutine callback awaited something other than an rclpy future "
                f"({type(yielded).__name__}): rclpy runs coroutine callbacks on its executor, "
                "not on asyncio; await rclpy futures (e.g. client.call_async(...)) instead"
            )
        entry: tuple[Work, Entity, Node] = (lambda: coro, entity, node)  # type: ignore[assignment]

        def resume(_future: Any = None) -> None:
            with self._lock:
                self._resumable.append(entry)
            _core.notify()

        if awaited is not None:
            awaited.add_done_callback(resume)
        else:  # a bare yield: resume on a next turn
            resume()
        return False

    def wait_for_ready_callbacks(
        self, timeout_sec: float | None = None, nodes: list[Node] | None = None, condition: Any = None
    ) -> tuple[Callable[[], None], Entity, Node]:
        """The next ready callback as ``(handler, entity, node)`` (rclpy's API for custom
        executors): calling ``handler()`` runs the callback and releases its group. Raises
        :class:`TimeoutException` after ``timeout_sec`` (None: wait forever) and
        :class:`ShutdownException` once the executor or rclpy shut down. ``nodes`` and
        ``condition`` are accepted and not used (every node of the executor is waited on)."""
        found = self._wait_for_work(timeout_sec)
        if found is None:
            if self._shutdown or not _core.is_running():
                raise ShutdownException()
            raise TimeoutException()
        work, entity, node = found
        return functools.partial(self._run, work, entity, node), entity, node

    def spin_once(self, timeout_sec: float | None = None) -> None:
        """Run at most one callback, waiting up to ``timeout_sec`` (None: forever) for one."""
        raise NotImplementedError

    def spin(self) -> None:
        """Run callbacks until ``rclpy.shutdown()`` or :meth:`shutdown`."""
        while not self._shutdown and _core.is_running():
            self.spin_once()

    def spin_until_future_complete(self, future: Future, timeout_sec: float | None = None) -> None:
        """Run callbacks until ``future`` is done (or ``timeout_sec`` passed)."""
        end = None if timeout_sec is None else time.monotonic() + timeout_sec
        while not future.done() and not self._shutdown and _core.is_running():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return
            self.spin_once(timeout_sec=left if left is not None else 1.0)

    def _wake_when_done(self, future: Future) -> None:
        future.add_done_callback(lambda _f: _core.notify())


class SingleThreadedExecutor(Executor):
    """Runs one callback at a time, on the thread that spins."""

    def spin_once(self, timeout_sec: float | None = None) -> None:
        found = self._wait_for_work(timeout_sec)
        if found is not None:
            self._run(*found)


class MultiThreadedExecutor(Executor):
    """Runs callbacks on ``num_threads`` threads (default: the CPU count)."""

    def __init__(self, num_threads: int | None = None) -> None:
        super().__init__()
        self._threads = num_threads or os.cpu_count() or 2
        self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="rclpy-executor")
        self._free = threading.Semaphore(self._threads)

    def spin_once(self, timeout_sec: float | None = None) -> None:
        if not self._free.acquire(timeout=timeout_sec if timeout_sec is not None else -1):
            return
        found = self._wait_for_work(timeout_sec)
        if found is None:
            self._free.release()
            return
        work, entity, node = found

        def task() -> None:
            try:
                self._run(work, entity, node)
            finally:
                self._free.release()

        self._pool.submit(task)

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        super().shutdown(timeout_sec)
        self._pool.shutdown(wait=timeout_sec is None or timeout_sec > 0)
        return True


_global: list[Any] = []


def get_global_executor() -> SingleThreadedExecutor:
    """The executor ``rclpy.spin`` and friends use."""
    if not _global:
        _global.append(SingleThreadedExecutor())
    executor: SingleThreadedExecutor = _global[0]
    return executor
