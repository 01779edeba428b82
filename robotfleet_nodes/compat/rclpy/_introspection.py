"""Service introspection of rclpy's services and clients (``configure_introspection``).

Once configured, a client publishes REQUEST_SENT / RESPONSE_RECEIVED and a service
REQUEST_RECEIVED / RESPONSE_SENT as ``<srv>_Event`` messages on ``<service name>/_service_event``
(a ``service_msgs/ServiceEventInfo`` with the clock's stamp, the client's GID and the request's
sequence number, plus the request or response with ``CONTENTS``). Events are published on the
asyncio thread; a failing publish is logged, never raised into the call.

Our transport does not carry the caller's identity with a request: a service's events have an
all-zero ``client_gid`` and number requests in the order it received them (1, 2, ...), which
equals the client's numbering when one client calls it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from robotfleet_nodes.node.parameters import interface_class
from robotfleet_nodes.qos import QoSProfile

from . import _core
from .service_introspection import ServiceIntrospectionState

__all__ = [
    "REQUEST_RECEIVED",
    "REQUEST_SENT",
    "RESPONSE_RECEIVED",
    "RESPONSE_SENT",
    "ClientIntrospectionMixin",
    "IntrospectionMixin",
]

_log = logging.getLogger(__name__)

# service_msgs/msg/ServiceEventInfo's event types.
REQUEST_SENT = 0
REQUEST_RECEIVED = 1
RESPONSE_SENT = 2
RESPONSE_RECEIVED = 3
_ZERO_GID = bytes(16)


@dataclass
class _Introspection:
    state: ServiceIntrospectionState
    clock: Any
    publisher: Any


class IntrospectionMixin:
    """``configure_introspection`` for a service or a client (needs ``_core`` and ``srv_type``)."""

    _core: Any
    srv_type: type[Any]
    _introspection: _Introspection | None = None
    _sequence_number = 0

    def configure_introspection(
        self,
        clock: Any,
        service_event_qos_profile: QoSProfile,
        introspection_state: ServiceIntrospectionState,
    ) -> None:
        """Publish this entity's service events with ``clock``'s stamps (``OFF``: stop)."""
        state = ServiceIntrospectionState(introspection_state)
        _core.run(self._configure(clock, service_event_qos_profile, state))

    async def _configure(self, clock: Any, qos: QoSProfile, state: ServiceIntrospectionState) -> None:
        current = self._introspection
        if state is ServiceIntrospectionState.OFF:
            self._introspection = None
            if current is not None:
                await current.publisher.destroy()
            return
        if current is not None:
            current.state, current.clock = state, clock
            return
        event_cls = interface_class(f"{self.srv_type.__ros_type__}_Event")
        topic = f"{self._core.service_name}/_service_event"
        publisher = await self._core.node.create_publisher(event_cls, topic, qos)
        self._introspection = _Introspection(state, clock, publisher)

    def _next_sequence_number(self) -> int:
        """The number of the next request (1, 2, ...); call on one thread at a time."""
        self._sequence_number += 1
        return self._sequence_number

    def _gid(self) -> bytes:
        """This entity's GID in the events (a client's own; a service's events carry zeros)."""
        return _ZERO_GID

    async def _event(
        self, event_type: int, sequence_number: int, request: Any = None, response: Any = None
    ) -> None:
        """Publish one service event if introspection is on (on the asyncio thread)."""
        config = self._introspection
        if config is None:
            return
        contents = config.state is ServiceIntrospectionState.CONTENTS
        info = interface_class("service_msgs/msg/ServiceEventInfo")(
            event_type=event_type,
            stamp=config.clock.now().to_msg(),
            client_gid=list(self._gid()),
            sequence_number=sequence_number,
        )
        event = config.publisher.msg_type(
            info=info,
            request=[request] if contents and request is not None else [],
            response=[response] if contents and response is not None else [],
        )
        try:
            await config.publisher.publish(event)
        except Exception:  # introspection must never break the call it describes
            _log.exception("could not publish a service event on %s", config.publisher.topic_name)


class ClientIntrospectionMixin(IntrospectionMixin):
    """A client's events carry its own (random, per client) GID."""

    _client_gid: bytes = b""

    def _gid(self) -> bytes:
        if not self._client_gid:
            self._client_gid = uuid.uuid4().bytes
        return self._client_gid
