"""A zone's order events on their way to the JetStream stream (:class:`EventPublisher`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from robotfleet_nodes.fleet.protocol import OrderEvents, state_name
from robotfleet_nodes.msg import WorkOrderUpdate

__all__ = ["MAX_PUBLISH_BACKOFF_S", "PUBLISH_BATCH", "EventPublisher"]

log = logging.getLogger(__name__)

#: Order events published concurrently at most (one order's stay in sequence).
PUBLISH_BATCH = 256
#: Longest pause between two tries to publish an order event [s] (it is retried until stored).
MAX_PUBLISH_BACKOFF_S = 2.0


class EventPublisher:
    """Publishes a zone's ``WorkOrderUpdate`` events in order, each retried until stored.

    :meth:`put` queues (never blocks); :meth:`start` runs the publishing task; :meth:`stop`
    flushes for up to ``timeout`` seconds; :meth:`abort` drops what is queued (a crash).
    """

    def __init__(self, zone_id: str) -> None:
        self._zone_id = zone_id
        self._queue: asyncio.Queue[WorkOrderUpdate] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def put(self, update: WorkOrderUpdate) -> None:
        """Queue ``update`` behind the events queued before it."""
        self._queue.put_nowait(update)

    def start(self, events: OrderEvents) -> None:
        """Publish queued events to ``events`` from now on."""
        self._task = asyncio.create_task(self._run(events), name=f"{self._zone_id} events")

    async def stop(self, *, timeout: float) -> None:
        """Publish what is queued (up to ``timeout`` seconds), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout=timeout)
        self.abort()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    def abort(self) -> None:
        """Stop at once: what is queued is lost (as when the process dies)."""
        if self._task is not None:
            self._task.cancel()

    async def _run(self, events: OrderEvents) -> None:
        """Publish queued order events: one order's in sequence, different orders concurrently.

        Everything queued is taken at once (up to :data:`PUBLISH_BATCH`), so the events'
        round trips to JetStream overlap instead of adding up; an order's own events still
        reach the stream in the order they happened.
        """
        while True:
            batch = [await self._queue.get()]
            while len(batch) < PUBLISH_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            by_order: dict[str, list[WorkOrderUpdate]] = {}
            for update in batch:
                by_order.setdefault(update.order_id, []).append(update)
            try:
                await asyncio.gather(
                    *(self._publish_in_order(events, updates) for updates in by_order.values())
                )
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _publish_in_order(self, events: OrderEvents, updates: list[WorkOrderUpdate]) -> None:
        """Store ``updates`` in order, each retried until the stream has it (a repeat is dropped
        by its ``Nats-Msg-Id``): an event is never given up while the zone runs."""
        for update in updates:
            delay = 0.1
            while True:
                try:
                    await events.publish(update)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.info(
                        "%s: event %s/%d/%s not stored yet (%s); retrying",
                        self._zone_id,
                        update.order_id,
                        update.attempt,
                        state_name(update.state),
                        exc,
                    )
                    await asyncio.sleep(delay)
                    delay = min(MAX_PUBLISH_BACKOFF_S, delay * 2)
