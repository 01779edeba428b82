"""Node log records to the ``/rosout`` topic (rcl_interfaces/msg/Log), batched.

One handler per context sits on the ``rfos`` logger, the parent of every node's logger.
``emit`` only appends to a bounded deque and schedules one flush per loop turn, so a
burst of log lines costs one task, never one per line; when the deque is full the oldest
records are dropped and counted (logging must never block or grow without bound).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
from typing import Any

from robotfleet_nodes.idl import default_registry, standard
from robotfleet_nodes.idl.codec import type_hash_of
from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport import EndpointInfo, PublisherHandle, Transport

__all__ = ["ROSOUT", "RosoutHandler", "rosout_endpoint"]

ROSOUT = "/rosout"
NODE_LOGGER_ROOT = "rfos"
_MAX_PENDING = 10_000
#: ROS 2 keeps /rosout transient-local depth 1000 in Jazzy; volatile is enough over NATS.
_ROSOUT_QOS = QoSProfile(depth=1000)


@functools.cache
def rosout_endpoint() -> EndpointInfo:
    """The ``/rosout`` publisher every node shows in the graph (one per context in fact)."""
    log_cls = default_registry().get_class("rcl_interfaces/msg/Log")
    return EndpointInfo(ROSOUT, "rcl_interfaces/msg/Log", type_hash_of(log_cls), _ROSOUT_QOS)


class RosoutHandler(logging.Handler):
    """Publishes records of node loggers (``rfos.*``) on ``/rosout``."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(level=logging.DEBUG)
        self._transport = transport
        self._log_cls = standard.Log
        self._time_cls = standard.Time
        self._publisher: PublisherHandle | None = None
        self._pending: collections.deque[logging.LogRecord] = collections.deque(maxlen=_MAX_PENDING)
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._publisher = await self._transport.create_publisher(rosout_endpoint(), self._log_cls)
        logging.getLogger(NODE_LOGGER_ROOT).addHandler(self)

    async def stop(self) -> None:
        logging.getLogger(NODE_LOGGER_ROOT).removeHandler(self)
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        await self._flush()
        if self._publisher is not None:
            await self._publisher.close()
            self._publisher = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(record)
        if not self._scheduled:
            self._scheduled = True
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self._loop:
                self._task = self._loop.create_task(self._flush())
            else:  # a record from another thread
                self._loop.call_soon_threadsafe(self._schedule_from_loop)

    def _schedule_from_loop(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        self._scheduled = False
        publisher = self._publisher
        while self._pending:
            record = self._pending.popleft()
            if publisher is None:
                continue
            with contextlib.suppress(Exception):  # /rosout is best effort: never raise into logging
                await publisher.publish(self._to_msg(record))

    def _to_msg(self, record: logging.LogRecord) -> Any:
        sec = int(record.created)
        name = record.name[len(NODE_LOGGER_ROOT) + 1 :] if record.name != NODE_LOGGER_ROOT else ""
        return self._log_cls(
            stamp=self._time_cls(sec=sec, nanosec=int((record.created - sec) * 1e9)),
            level=min(max(record.levelno, 10), 50),
            name=name,
            msg=record.getMessage(),
            file=record.pathname,
            function=record.funcName,
            line=record.lineno,
        )
