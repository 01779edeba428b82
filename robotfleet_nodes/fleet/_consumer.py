"""The fleet's consumer of ``WorkOrderUpdate`` events (a durable JetStream pull consumer).

The consumer ``fleet_<fleet id>`` resumes after a restart. Events are pulled in batches of
up to :data:`EVENT_BATCH` and grouped by order: one order's events are applied in stream
order, different orders concurrently, and each order is written to the store once per batch
(its final state, by the ``apply_all`` callable the service passes) before its events are
acked. A crash between that write and the acks only re-delivers events that
:func:`~robotfleet_nodes.fleet.protocol.advances` then ignores. Up to
:data:`EVENT_WINDOW` fetched events are being applied at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import prometheus_client as prometheus
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from robotfleet_nodes.fleet.protocol import OrderEvents
from robotfleet_nodes.msg import WorkOrderUpdate

__all__ = ["DURABLE_PREFIX", "EVENT_BATCH", "EVENT_FETCH_WAIT_S", "EVENT_WINDOW", "OrderEventConsumer"]

log = logging.getLogger(__name__)

#: Name of the fleet's durable consumer on the order-events stream.
DURABLE_PREFIX = "fleet"
#: Order events pulled per fetch at most (grouped by order, applied concurrently).
EVENT_BATCH = 250
#: Seconds one fetch collects events at most. Short: a pull request with ``expires`` is held
#: by the server until the batch is full, so a long wait would apply events only that often.
EVENT_FETCH_WAIT_S = 0.05
#: Order events fetched and not yet acked at most (below the consumer's max_ack_pending,
#: 1000 by default): several fetched batches are applied at the same time.
EVENT_WINDOW = 800

#: Apply one order's updates (each with the tier that published it) in order, store it
#: once; the new order or None.
ApplyAll = Callable[[str, list[Any], list["str | None"]], Awaitable[Any]]


class OrderEventConsumer:
    """Pulls the order events of ``events`` and hands each order's to ``apply_all``.

    ``received`` counts the messages pulled. :meth:`subscribe` binds the durable consumer,
    :meth:`run` applies its events while ``running()`` is true.
    """

    def __init__(
        self, events: OrderEvents, *, fleet_id: str, apply_all: ApplyAll, received: prometheus.Counter
    ) -> None:
        self._events = events
        self._fleet_id = fleet_id
        self._apply_all = apply_all
        self._received = received

    async def subscribe(self, *, take_over: bool = False) -> Any:
        """Bind (or create) the durable pull consumer; the subscription to pass to :meth:`run`.

        ``take_over``: events another fleet instance fetched and never acked (it died or was
        deposed) are delivered again now rather than after the consumer's ack wait (30 s):
        the consumer is recreated from its ack floor. Events applied already are ignored
        when they come again (:func:`~robotfleet_nodes.fleet.protocol.advances`).
        """
        js = self._events.js
        durable = f"{DURABLE_PREFIX}_{self._fleet_id}"
        if take_over:
            await self._redeliver_unacked(durable)
        return await js.pull_subscribe(self._events.wildcard, durable=durable, stream=self._events.stream)

    async def _redeliver_unacked(self, durable: str) -> None:
        js = self._events.js
        stream = self._events.stream
        try:
            info = await js.consumer_info(stream, durable)
        except NotFoundError:
            return
        if not info.num_ack_pending:
            return
        start = int(info.ack_floor.stream_seq if info.ack_floor is not None else 0) + 1
        config = info.config
        config.deliver_policy = js_api.DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = start
        config.opt_start_time = None
        log.info(
            "order events: %d events fetched by the previous leader were not acked: again from #%d",
            info.num_ack_pending,
            start,
        )
        await js.delete_consumer(stream, durable)
        await js.add_consumer(stream, config=config)

    async def run(self, consumer: Any, running: Callable[[], bool]) -> None:
        """Pull batches of events; keep up to :data:`EVENT_WINDOW` of them being applied."""
        outstanding = 0  # fetched, not yet acked (or nak'ed)
        room = asyncio.Event()
        room.set()
        batches: set[asyncio.Task[None]] = set()

        def done(count: int, _: Any) -> None:
            nonlocal outstanding
            outstanding -= count
            room.set()

        try:
            while running():
                while EVENT_WINDOW - outstanding < min(EVENT_BATCH, EVENT_WINDOW // 4):
                    room.clear()
                    await room.wait()
                try:
                    wanted = min(EVENT_BATCH, EVENT_WINDOW - outstanding)
                    msgs = await consumer.fetch(batch=wanted, timeout=EVENT_FETCH_WAIT_S)
                except (TimeoutError, NatsTimeoutError):
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("order events: fetch failed (%r); retrying", exc)
                    await asyncio.sleep(1.0)
                    continue
                outstanding += len(msgs)
                # created in fetch order: an order's lock is taken by batches in that order
                task = asyncio.create_task(self._apply_batch(msgs), name="fleet events batch")
                batches.add(task)
                task.add_done_callback(batches.discard)
                task.add_done_callback(functools.partial(done, len(msgs)))
        finally:
            for task in batches:
                task.cancel()
            await asyncio.gather(*batches, return_exceptions=True)
            with contextlib.suppress(Exception):
                await consumer.unsubscribe()

    async def _apply_batch(self, msgs: list[Any]) -> None:
        """Group ``msgs`` by order; apply each order's events (in order) concurrently."""
        from robotfleet_nodes.idl.codec import deserialize

        by_order: dict[str, list[tuple[Any, Any, str | None]]] = {}
        for msg in msgs:
            self._received.inc()
            parsed = self._events.parse(msg.subject)
            try:
                update = deserialize(WorkOrderUpdate, msg.data)
            except Exception as exc:
                log.warning("order events: undecodable message dropped: %r", exc)
                await msg.ack()
                continue
            if parsed is None or parsed[1] != update.order_id:  # its subject names another order
                log.warning("order events: %s carries an event of %r: dropped", msg.subject, update.order_id)
                await msg.ack()
                continue
            by_order.setdefault(update.order_id, []).append((update, msg, parsed[0]))
        await asyncio.gather(*(self._apply_order_events(oid, items) for oid, items in by_order.items()))

    async def _apply_order_events(self, order_id: str, items: list[tuple[Any, Any, str | None]]) -> None:
        try:
            await self._apply_all(order_id, [item[0] for item in items], [item[2] for item in items])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("order events: could not apply %r; will be redelivered", order_id)
            for _, msg, _ in items:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=1.0)
            return
        for _, msg, _ in items:  # after the write: a crash before this re-applies (ignored)
            try:
                await msg.ack()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("order events: ack of %r failed (%r); it will be redelivered", order_id, exc)
