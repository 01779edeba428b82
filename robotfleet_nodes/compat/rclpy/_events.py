"""QoS events (``event_callbacks=``) of our rclpy publishers and subscriptions.

Each callback is an :class:`EventHandler` entity of the publisher's or subscription's node,
in its callback group: what happened is recorded as a status (counts), and an executor runs
the callback with rclpy's payload, its ``*_change`` fields counted since the previous call.
What our NATS transport can tell, and how:

* ``matched``, ``incompatible_qos``, ``incompatible_type`` and a subscription's
  ``liveliness``: from the graph (every node's announced endpoints with their QoS), polled
  on the asyncio thread while such a callback exists; a graph query gathers answers for
  about 0.5 s, so these events come that late. A peer matches when its type and QoS are
  compatible (rclpy's ``qos_check_compatible`` rules). Liveliness: a publisher is alive
  while it is in the graph; one that leaves (destroyed, or its process gone) counts as
  ``alive_count_change == -1``, never as not-alive (the graph cannot tell a crash from a
  clean exit, nor a MANUAL_BY_TOPIC publisher that stopped asserting).
* ``deadline``: a timer per publisher (since its last ``publish``) or subscription (since
  its last message), armed by the first message, checked by the executors; one miss per
  deadline period, counted when an executor looks.
* a publisher's ``liveliness`` (lost): MANUAL_BY_TOPIC publishers whose lease passes
  without ``publish`` or ``assert_liveliness``; an AUTOMATIC one is alive while its process is.
* ``message_lost``: messages a KEEP_ALL subscription lost because its transport queue was
  full (its callback fell behind: the NATS transport bounds each subscription's queue, see
  ``transport/nats/_delivery.py``); ``total_count`` is the transport's running total. As in
  DDS (and real rclpy), a KEEP_LAST queue replacing its oldest message is no loss (it counts
  in the subscription's ``stats.dropped`` only).
* ``lifespan`` (a QoS policy, not an event) is applied by the transport to the stored
  messages a late-joining transient-local subscription reads (by JetStream's store time);
  a message already in a subscription's queue is delivered whatever its age.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from robotfleet_nodes.qos import Durability, Liveliness, QoSProfile, Reliability
from robotfleet_nodes.transport import ConnectionState

from . import _core
from ._entity import Entity, Work
from .callback_groups import CallbackGroup
from .event_handler import (
    IncompatibleTypeInfo,
    PublisherEventCallbacks,
    QoSLivelinessChangedInfo,
    QoSLivelinessLostInfo,
    QoSMessageLostInfo,
    QoSOfferedDeadlineMissedInfo,
    QoSOfferedIncompatibleQoSInfo,
    QoSPublisherMatchedInfo,
    QoSRequestedDeadlineMissedInfo,
    QoSRequestedIncompatibleQoSInfo,
    QoSSubscriptionMatchedInfo,
    SubscriptionEventCallbacks,
)
from .qos import QoSPolicyKind

__all__ = ["EntityEvents", "EventHandler", "publisher_events", "subscription_events"]

log = logging.getLogger(__name__)

#: Pause between two graph polls (each takes about 0.5 s on NATS).
_POLL_PAUSE = 0.1

_TOTAL = (("total_count", "total_count_change"),)
_MATCHED = (("total_count", "total_count_change"), ("current_count", "current_count_change"))
_ALIVE = (("alive_count", "alive_count_change"), ("not_alive_count", "not_alive_count_change"))


class EventHandler(Entity):
    """One event callback: a status updated as things happen, taken by an executor."""

    def __init__(
        self,
        group: CallbackGroup,
        callback: Callable[[Any], Any],
        info_type: type[Any],
        changes: tuple[tuple[str, str], ...],
    ) -> None:
        super().__init__(group)
        self.callback = callback
        self._info_type = info_type
        self._changes = changes
        self._status: dict[str, Any] = {}
        self._taken: dict[str, int] = {}
        self._pending = False

    def _update(self, **status: Any) -> None:
        """Record the new status (absolute counts); any thread."""
        with self._lock:
            self._status.update(status)
            self._pending = True
        _core.notify()

    def _take(self, now: float) -> Work | None:
        with self._lock:
            if not self._pending:
                return None
            self._pending = False
            values = dict(self._status)
            for count, change in self._changes:
                values[change] = values.get(count, 0) - self._taken.get(count, 0)
                self._taken[count] = values.get(count, 0)
        info = self._info_type(**values)
        return lambda: self.callback(info)


class _TimedHandler(EventHandler):
    """Counts periods without activity (deadline; with ``repeat=False``, a lost lease)."""

    def __init__(
        self,
        group: CallbackGroup,
        callback: Callable[[Any], Any],
        info_type: type[Any],
        period: float,
        *,
        repeat: bool,
    ) -> None:
        super().__init__(group, callback, info_type, _TOTAL)
        self._period = period
        self._repeat = repeat
        self._due: float | None = None  # armed by the first activity
        self._missed = 0

    def activity(self) -> None:
        """A message was published / received (or liveliness asserted): a new period starts."""
        with self._lock:
            idle = self._due is None
            self._due = time.monotonic() + self._period
        if idle:
            _core.notify()  # executors recompute when to wake

    def _deadline(self) -> float | None:
        with self._lock:
            return None if self._pending else self._due

    def _take(self, now: float) -> Work | None:
        with self._lock:
            if not self._pending and self._due is not None and now >= self._due:
                self._missed += 1
                self._status["total_count"] = self._missed
                self._pending = True
                self._due = now + self._period if self._repeat else None
        return super()._take(now)


class _RmwPolicyKind(enum.IntEnum):
    """What real rclpy hands an incompatible QoS callback as ``last_policy_kind``: rmw's enum
    (the numbers of :class:`QoSPolicyKind`), printed as ``rmw_qos_policy_kind_t.RMW_QOS_POLICY_X``."""

    RMW_QOS_POLICY_INVALID = QoSPolicyKind.INVALID
    RMW_QOS_POLICY_DURABILITY = QoSPolicyKind.DURABILITY
    RMW_QOS_POLICY_DEADLINE = QoSPolicyKind.DEADLINE
    RMW_QOS_POLICY_LIVELINESS = QoSPolicyKind.LIVELINESS
    RMW_QOS_POLICY_RELIABILITY = QoSPolicyKind.RELIABILITY

    def __str__(self) -> str:
        return f"rmw_qos_policy_kind_t.{self.name}"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(int(self), spec)


def _incompatible_kinds(offered: QoSProfile, requested: QoSProfile) -> list[_RmwPolicyKind]:
    """The policies (rclpy's kinds) at fault, in the order rmw checks them (a lease too long
    is LIVELINESS, as DDS and real rclpy report it)."""
    kinds: list[_RmwPolicyKind] = []
    if requested.reliability is Reliability.RELIABLE and offered.reliability is Reliability.BEST_EFFORT:
        kinds.append(_RmwPolicyKind.RMW_QOS_POLICY_RELIABILITY)
    if requested.durability is Durability.TRANSIENT_LOCAL and offered.durability is Durability.VOLATILE:
        kinds.append(_RmwPolicyKind.RMW_QOS_POLICY_DURABILITY)
    if requested.deadline is not None and (offered.deadline is None or offered.deadline > requested.deadline):
        kinds.append(_RmwPolicyKind.RMW_QOS_POLICY_DEADLINE)
    if requested.liveliness is Liveliness.MANUAL_BY_TOPIC and offered.liveliness is Liveliness.AUTOMATIC:
        kinds.append(_RmwPolicyKind.RMW_QOS_POLICY_LIVELINESS)
    lease, offered_lease = requested.liveliness_lease_duration, offered.liveliness_lease_duration
    if lease is not None and (offered_lease is None or offered_lease > lease):
        kinds.append(_RmwPolicyKind.RMW_QOS_POLICY_LIVELINESS)  # DDS: one policy, kind and lease
    return kinds


class _GraphWatch:
    """The peers of one publisher or subscription in the graph, for its graph-based events."""

    def __init__(self, core: Any, *, publisher: bool, handlers: dict[str, EventHandler]) -> None:
        self.core = core
        self.transport = core.node.context.transport
        self._publisher = publisher
        self._handlers = handlers
        self._matched = 0
        self._matched_total = 0
        self._incompatible = 0
        self._incompatible_total = 0
        self._wrong_type = 0
        self._wrong_type_total = 0

    def alive(self) -> bool:
        """Whether the entity is still announced by its node (not destroyed with its node)."""
        if self.transport.connection_state is ConnectionState.CLOSED:
            return False
        info = self.core.node.info
        own = info.publishers if self._publisher else info.subscriptions
        return any(endpoint is self.core.endpoint for endpoint in own)

    def evaluate(self, participants: list[Any]) -> None:
        """Compare the graph with what was seen last; report what changed (asyncio thread)."""
        endpoint = self.core.endpoint
        kind = "subscriptions" if self._publisher else "publishers"
        matched = incompatible = wrong_type = 0
        last_kind = _RmwPolicyKind.RMW_QOS_POLICY_INVALID
        for participant in participants:
            for node in participant.nodes:
                for peer in getattr(node, kind):
                    if peer.name != endpoint.name:
                        continue
                    if peer.type_name != endpoint.type_name:
                        wrong_type += 1
                        continue
                    offered, requested = (
                        (endpoint.qos, peer.qos) if self._publisher else (peer.qos, endpoint.qos)
                    )
                    kinds = _incompatible_kinds(offered, requested)
                    if kinds:
                        incompatible += 1
                        last_kind = kinds[-1]
                    else:
                        matched += 1
        if matched != self._matched:
            self._matched_total += max(0, matched - self._matched)
            self._report("matched", total_count=self._matched_total, current_count=matched)
            self._report("liveliness", alive_count=matched, not_alive_count=0)
            self._matched = matched
        if incompatible > self._incompatible:
            self._incompatible_total += incompatible - self._incompatible
            self._report("incompatible_qos", total_count=self._incompatible_total, last_policy_kind=last_kind)
        self._incompatible = incompatible
        if wrong_type > self._wrong_type:
            self._wrong_type_total += wrong_type - self._wrong_type
            self._report("incompatible_type", total_count=self._wrong_type_total)
        self._wrong_type = wrong_type

    def _report(self, event: str, **status: Any) -> None:
        handler = self._handlers.get(event)
        if handler is not None:
            handler._update(**status)


class _GraphPoller:
    """Polls the graph on the asyncio thread while any :class:`_GraphWatch` exists."""

    def __init__(self) -> None:
        self._watches: list[_GraphWatch] = []
        self._lock = threading.Lock()
        self._running = False

    def add(self, watch: _GraphWatch) -> None:
        with self._lock:
            self._watches.append(watch)
            start, self._running = not self._running, True
        if start:
            _core.submit(self._poll())

    def remove(self, watch: _GraphWatch) -> None:
        with self._lock:
            if watch in self._watches:
                self._watches.remove(watch)

    async def _poll(self) -> None:
        try:
            while True:
                with self._lock:
                    self._watches = [watch for watch in self._watches if watch.alive()]
                    watches = list(self._watches)
                    if not watches:
                        self._running = False
                        return
                transports: dict[int, tuple[Any, list[_GraphWatch]]] = {}
                for watch in watches:
                    transports.setdefault(id(watch.transport), (watch.transport, []))[1].append(watch)
                for transport, group in transports.values():
                    try:
                        participants = await transport.graph()
                    except Exception as exc:  # a broker gone: try again on the next round
                        log.debug("graph query for QoS events failed: %r", exc)
                        continue
                    with self._lock:
                        current = [watch for watch in group if watch in self._watches]
                    for watch in current:
                        watch.evaluate(participants)
                await asyncio.sleep(_POLL_PAUSE)
        finally:
            with self._lock:
                self._running = False


_POLLER = _GraphPoller()


class EntityEvents:
    """The event handlers of one publisher or subscription, and the hooks that feed them."""

    def __init__(self, node: Any, handlers: dict[str, EventHandler], watch: _GraphWatch | None) -> None:
        self._node = node
        self.handlers = handlers
        self._watch = watch
        self._deadline = handlers.get("deadline")
        lease = handlers.get("liveliness")
        self._lease = lease if isinstance(lease, _TimedHandler) else None
        # ``message_lost`` is fed by the core subscription's ``on_message_lost`` (KEEP_ALL
        # losses only: a KEEP_LAST queue replacing its oldest message is DDS history at work,
        # which DDS does not report as lost, nor does real rclpy).
        for handler in handlers.values():
            node._add(handler)
        if watch is not None:
            _POLLER.add(watch)

    def published(self) -> None:
        """The publisher sent a message (also asserts its liveliness)."""
        if isinstance(self._deadline, _TimedHandler):
            self._deadline.activity()
        self.asserted()

    def asserted(self) -> None:
        """The publisher asserted its liveliness."""
        if self._lease is not None:
            self._lease.activity()

    def received(self) -> None:
        """The subscription received a message."""
        if isinstance(self._deadline, _TimedHandler):
            self._deadline.activity()

    def destroy(self) -> None:
        """Stop reporting: the publisher or subscription is destroyed."""
        if self._watch is not None:
            _POLLER.remove(self._watch)
        for handler in self.handlers.values():
            self._node._snapshot_remove(handler)


def _handlers(
    specs: dict[str, tuple[Callable[[Any], Any] | None, type[Any], tuple[tuple[str, str], ...]]],
    group: CallbackGroup,
) -> dict[str, EventHandler]:
    return {
        event: EventHandler(group, callback, info_type, changes)
        for event, (callback, info_type, changes) in specs.items()
        if callback is not None
    }


def publisher_events(
    node: Any, core: Any, callbacks: PublisherEventCallbacks | None, group: CallbackGroup
) -> EntityEvents | None:
    """The handlers of ``callbacks`` for a core publisher (None without any callback)."""
    if callbacks is None:
        return None
    qos = core.endpoint.qos
    handlers = _handlers(
        {
            "incompatible_qos": (callbacks.incompatible_qos, QoSOfferedIncompatibleQoSInfo, _TOTAL),
            "incompatible_type": (callbacks.incompatible_type, IncompatibleTypeInfo, _TOTAL),
            "matched": (callbacks.matched, QoSPublisherMatchedInfo, _MATCHED),
        },
        group,
    )
    if callbacks.deadline is not None and qos.deadline is not None:
        handlers["deadline"] = _TimedHandler(
            group, callbacks.deadline, QoSOfferedDeadlineMissedInfo, qos.deadline, repeat=True
        )
    lease = qos.liveliness_lease_duration
    manual = qos.liveliness is Liveliness.MANUAL_BY_TOPIC
    if callbacks.liveliness is not None and lease is not None and manual:
        handlers["liveliness"] = _TimedHandler(
            group, callbacks.liveliness, QoSLivelinessLostInfo, lease, repeat=False
        )
    return _events(node, core, handlers, publisher=True)


def subscription_events(
    node: Any, core: Any, callbacks: SubscriptionEventCallbacks | None, group: CallbackGroup
) -> EntityEvents | None:
    """The handlers of ``callbacks`` for a core subscription (None without any callback)."""
    if callbacks is None:
        return None
    qos = core.endpoint.qos
    handlers = _handlers(
        {
            "incompatible_qos": (callbacks.incompatible_qos, QoSRequestedIncompatibleQoSInfo, _TOTAL),
            "incompatible_type": (callbacks.incompatible_type, IncompatibleTypeInfo, _TOTAL),
            "matched": (callbacks.matched, QoSSubscriptionMatchedInfo, _MATCHED),
            "liveliness": (callbacks.liveliness, QoSLivelinessChangedInfo, _ALIVE),
        },
        group,
    )
    if callbacks.deadline is not None and qos.deadline is not None:
        handlers["deadline"] = _TimedHandler(
            group, callbacks.deadline, QoSRequestedDeadlineMissedInfo, qos.deadline, repeat=True
        )
    if callbacks.message_lost is not None:
        lost = handlers["message_lost"] = EventHandler(
            group, callbacks.message_lost, QoSMessageLostInfo, _TOTAL
        )
        core.on_message_lost = lambda total: lost._update(total_count=total)
    return _events(node, core, handlers, publisher=False)


def _events(
    node: Any, core: Any, handlers: dict[str, EventHandler], *, publisher: bool
) -> EntityEvents | None:
    if not handlers:
        return None
    graph_events = {"matched", "incompatible_qos", "incompatible_type"}
    if not publisher:
        graph_events.add("liveliness")
    watched = {event: handler for event, handler in handlers.items() if event in graph_events}
    watch = _GraphWatch(core, publisher=publisher, handlers=watched) if watched else None
    return EntityEvents(node, handlers, watch)
