"""``Node``: the thin facade a node developer subclasses.

A node owns named entities (publishers, subscriptions, services, clients, timers) on its
context's transport. Construction is synchronous and cheap; anything that talks to the
bus is a coroutine: ``await node.create_publisher(...)``. Subclasses put their set-up in
:meth:`Node.on_start`, which :meth:`Node.start` (or ``async with node``) awaits::

    class Talker(Node):
        def __init__(self, context: Context) -> None:
            super().__init__("talker", context=context)

        async def on_start(self) -> None:
            self.pub = await self.create_publisher(String, "chatter", 10)
            self.create_timer(0.5, self.tick)

        async def tick(self) -> None:
            await self.pub.publish(String(data="hello"))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from robotfleet_nodes import names
from robotfleet_nodes.idl.codec import type_hash_of
from robotfleet_nodes.node._rosout import rosout_endpoint
from robotfleet_nodes.node.arguments import parse_ros_args
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.parameters import (
    Parameter,
    ParameterStore,
    SetParametersCallback,
    collect_parameter_overrides,
)
from robotfleet_nodes.node.publisher import Publisher
from robotfleet_nodes.node.service import Client, Service, adapt_handler
from robotfleet_nodes.node.subscription import Subscription
from robotfleet_nodes.node.timer import Timer
from robotfleet_nodes.qos import QOS_SERVICES, QoSProfile, as_qos
from robotfleet_nodes.transport import (
    UNKNOWN_NODE_NAME,
    EncodingOption,
    EndpointInfo,
    MessageCallback,
    NodeInfo,
    ParticipantInfo,
)

__all__ = ["Node"]

MsgT = TypeVar("MsgT")
SrvT = TypeVar("SrvT")


def _type_name(cls: type[Any]) -> str:
    name = getattr(cls, "__ros_type__", None)
    if not isinstance(name, str):
        raise TypeError(f"Expected a message or service class (with __ros_type__), got {cls!r}")
    return name


def _type_hash(cls: type[Any]) -> str:
    try:
        return type_hash_of(cls)
    except Exception:  # a type without a computable hash is still usable; tools show ""
        return ""


class Node:
    """A ROS 2-style node on its context's transport."""

    def __init__(
        self,
        node_name: str,
        *,
        context: Context,
        namespace: str = "",
        cli_args: Sequence[str] | None = None,
        use_global_arguments: bool = True,
        parameter_overrides: Mapping[str, Any] | Iterable[Parameter] | None = None,
        allow_undeclared_parameters: bool = False,
        automatically_declare_parameters_from_overrides: bool = False,
        start_parameter_services: bool = True,
        start_parameter_event_publisher: bool = True,
    ) -> None:
        own_args = parse_ros_args(list(cli_args or []))
        rules = list(context.ros_args.remappings if use_global_arguments else []) + list(own_args.remappings)
        node_name, namespace = names.apply_node_remaps(node_name, namespace or "/", rules)
        names.validate_node_name(node_name)
        names.validate_namespace(namespace)
        self._name = node_name
        self._namespace = namespace
        self._remappings = rules
        self.context = context
        self._ros_args = own_args
        self._publishers: list[Publisher[Any]] = []
        self._subscriptions: list[Subscription[Any]] = []
        self._services: list[Service[Any]] = []
        self._clients: list[Client[Any]] = []
        self._timers: list[Timer] = []
        self._logger = logging.getLogger(
            "rfos." + self.get_fully_qualified_name().strip("/").replace("/", ".")
        )
        self._started = False
        self._destroyed = False
        self._info: NodeInfo | None = None
        fqn = self.get_fully_qualified_name()
        self._parameters = ParameterStore(
            fqn,
            overrides=collect_parameter_overrides(
                fqn,
                global_args=context.ros_args if use_global_arguments else None,
                node_args=own_args,
                parameter_overrides=parameter_overrides,
            ),
            allow_undeclared_parameters=allow_undeclared_parameters,
            automatically_declare_parameters_from_overrides=automatically_declare_parameters_from_overrides,
        )
        self._parameter_options = (start_parameter_services, start_parameter_event_publisher)

    # -- identity --------------------------------------------------------------------
    def get_name(self) -> str:
        return self._name

    def get_namespace(self) -> str:
        return self._namespace

    def get_fully_qualified_name(self) -> str:
        return names.fully_qualified_node_name(self._name, self._namespace)

    def get_logger(self) -> logging.Logger:
        """This node's logger (``rfos.<namespace>.<name>``); records also go to ``/rosout``."""
        return self._logger

    def resolve_name(self, name: str, *, service: bool = False) -> str:
        """Expand ``name`` (relative, ``~/private``, substitutions) and apply remappings."""
        expanded = names.expand_name(
            name, node_name=self._name, namespace=self._namespace, is_service=service
        )
        return names.remap_name(expanded, self._remappings, node_name=self._name, namespace=self._namespace)

    @property
    def info(self) -> NodeInfo:
        """What this node offers, as announced to the graph (rebuilt only after a change)."""
        if self._info is None:
            self._info = self._build_info()
        return self._info

    def _graph_changed(self) -> None:
        self._info = None
        self.context.graph_changed()

    def _build_info(self) -> NodeInfo:
        return NodeInfo(
            name=self._name,
            namespace=self._namespace,
            publishers=[p.endpoint for p in self._publishers] + self._rosout_endpoints(),
            subscriptions=[s.endpoint for s in self._subscriptions],
            services=[s.endpoint for s in self._services],
            clients=[c.endpoint for c in self._clients],
        )

    def _rosout_endpoints(self) -> list[EndpointInfo]:
        if not self.context.rosout_enabled:
            return []
        return [rosout_endpoint()]

    # -- life ------------------------------------------------------------------------
    async def start(self) -> None:
        """Join the graph and run :meth:`on_start`; idempotent."""
        if self._started:
            return
        await self.context.start()
        self._started = True
        self.context._add_node(self)
        services, events = self._parameter_options
        await self._parameters.start(self, services=services, events=events)
        await self.on_start()

    async def on_start(self) -> None:
        """Override: create entities here (called once by :meth:`start`)."""

    async def destroy_node(self) -> None:
        """Destroy every entity and leave the graph; idempotent."""
        if self._destroyed:
            return
        self._destroyed = True
        await self._parameters.close()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        entities: list[Any] = [*self._publishers, *self._subscriptions, *self._services, *self._clients]
        await asyncio.gather(*(e._close() for e in entities), return_exceptions=True)
        self._publishers.clear()
        self._subscriptions.clear()
        self._services.clear()
        self._clients.clear()
        self.context._remove_node(self)

    async def spin(self) -> None:
        """Wait until the context shuts down (callbacks run on the event loop meanwhile)."""
        await self.context.wait_for_shutdown()

    async def __aenter__(self) -> Node:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.destroy_node()

    # -- entities --------------------------------------------------------------------
    def _endpoint(self, cls: type[Any], name: str, qos: QoSProfile, *, service: bool = False) -> EndpointInfo:
        return EndpointInfo(
            name=self.resolve_name(name, service=service),
            type_name=_type_name(cls),
            type_hash=_type_hash(cls),
            qos=qos,
        )

    def _check_alive(self) -> None:
        if self._destroyed:
            raise RuntimeError(f"node {self.get_fully_qualified_name()} has been destroyed")
        if not self._started:
            raise RuntimeError(
                f"node {self.get_fully_qualified_name()} is not started: `await node.start()` first "
                "(or create entities in on_start)"
            )

    async def create_publisher(
        self,
        msg_type: type[MsgT],
        topic: str,
        qos_profile: QoSProfile | int = 10,
        *,
        encoding: EncodingOption | None = None,
    ) -> Publisher[MsgT]:
        """A publisher of ``msg_type`` on ``topic`` (an int QoS is a KEEP_LAST depth).

        ``encoding``: ``"auto"``, ``Encoding.JSON`` or ``Encoding.CDR`` on the wire for this
        publisher; ``None`` (default): the transport's (``messaging.encoding``, ``auto``).
        """
        self._check_alive()
        endpoint = self._endpoint(msg_type, topic, as_qos(qos_profile))
        handle = await self.context.transport.create_publisher(endpoint, msg_type, encoding=encoding)
        pub: Publisher[MsgT] = Publisher(self, msg_type, endpoint, handle)
        self._publishers.append(pub)
        self._graph_changed()
        return pub

    async def create_subscription(
        self,
        msg_type: type[MsgT],
        topic: str,
        callback: MessageCallback,
        qos_profile: QoSProfile | int = 10,
    ) -> Subscription[MsgT]:
        """Call ``callback(msg)`` (sync or async) for each ``msg_type`` message on ``topic``."""
        self._check_alive()
        endpoint = self._endpoint(msg_type, topic, as_qos(qos_profile))
        handle = await self.context.transport.create_subscription(endpoint, msg_type, callback)
        sub: Subscription[MsgT] = Subscription(self, msg_type, endpoint, callback, handle)
        self._subscriptions.append(sub)
        self._graph_changed()
        return sub

    async def create_service(
        self, srv_type: type[SrvT], srv_name: str, callback: Callable[..., Any]
    ) -> Service[SrvT]:
        """Answer ``srv_type`` requests: ``callback(request)`` or ``callback(request, response)``."""
        self._check_alive()
        endpoint = self._endpoint(srv_type, srv_name, QOS_SERVICES, service=True)
        handle = await self.context.transport.create_service(
            endpoint, srv_type, adapt_handler(srv_type, callback)
        )
        srv: Service[SrvT] = Service(self, srv_type, endpoint, handle)
        self._services.append(srv)
        self._graph_changed()
        return srv

    async def create_client(self, srv_type: type[SrvT], srv_name: str) -> Client[SrvT]:
        """A client for the ``srv_type`` service ``srv_name``."""
        self._check_alive()
        endpoint = self._endpoint(srv_type, srv_name, QOS_SERVICES, service=True)
        handle = await self.context.transport.create_client(endpoint, srv_type)
        client: Client[SrvT] = Client(self, srv_type, endpoint, handle)
        self._clients.append(client)
        self._graph_changed()
        return client

    def create_timer(self, timer_period_sec: float, callback: Callable[[], Any]) -> Timer:
        """Call ``callback()`` (sync or async) every ``timer_period_sec`` seconds."""
        if self._destroyed:
            raise RuntimeError(f"node {self.get_fully_qualified_name()} has been destroyed")
        timer = Timer(
            timer_period_sec, callback, name=f"{self.get_fully_qualified_name()}#{len(self._timers)}"
        )
        self._timers.append(timer)
        return timer

    async def destroy_publisher(self, publisher: Publisher[Any]) -> None:
        if publisher in self._publishers:
            self._publishers.remove(publisher)
            await publisher._close()
            self._graph_changed()

    async def destroy_subscription(self, subscription: Subscription[Any]) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
            await subscription._close()
            self._graph_changed()

    async def destroy_service(self, service: Service[Any]) -> None:
        if service in self._services:
            self._services.remove(service)
            await service._close()
            self._graph_changed()

    async def destroy_client(self, client: Client[Any]) -> None:
        if client in self._clients:
            self._clients.remove(client)
            await client._close()
            self._graph_changed()

    def destroy_timer(self, timer: Timer) -> None:
        timer.cancel()
        if timer in self._timers:
            self._timers.remove(timer)

    # -- parameters (the ParameterStore part does the work) ------------------------------
    @property
    def parameters(self) -> ParameterStore:
        """This node's parameters: declare, get, set, describe, callbacks, services."""
        return self._parameters

    def declare_parameter(
        self, name: str, value: Any = None, descriptor: Any = None, *, ignore_override: bool = False
    ) -> Parameter:
        return self._parameters.declare_parameter(name, value, descriptor, ignore_override=ignore_override)

    def declare_parameters(
        self, namespace: str, parameters: Sequence[tuple[Any, ...]], *, ignore_override: bool = False
    ) -> list[Parameter]:
        return self._parameters.declare_parameters(namespace, parameters, ignore_override=ignore_override)

    def has_parameter(self, name: str) -> bool:
        return self._parameters.has_parameter(name)

    def get_parameter(self, name: str) -> Parameter:
        return self._parameters.get_parameter(name)

    def get_parameter_or(self, name: str, alternative_value: Any = None) -> Parameter:
        return self._parameters.get_parameter_or(name, alternative_value)

    def get_parameters_by_prefix(self, prefix: str) -> dict[str, Parameter]:
        return self._parameters.get_parameters_by_prefix(prefix)

    def set_parameters(self, parameters: Iterable[Parameter]) -> list[Any]:
        return self._parameters.set_parameters(parameters)

    def undeclare_parameter(self, name: str) -> None:
        self._parameters.undeclare_parameter(name)

    def add_on_set_parameters_callback(self, callback: SetParametersCallback) -> SetParametersCallback:
        return self._parameters.add_on_set_parameters_callback(callback)

    def remove_on_set_parameters_callback(self, callback: SetParametersCallback) -> None:
        self._parameters.remove_on_set_parameters_callback(callback)

    # -- graph -----------------------------------------------------------------------
    async def _graph(self) -> list[ParticipantInfo]:
        return await self.context.transport.graph()

    async def get_node_names_and_namespaces(self) -> list[tuple[str, str]]:
        """Every node on the bus as ``(name, namespace)`` (not ROS 2's placeholder for
        endpoints no node claims, as in rcl)."""
        return sorted(
            (n.name, n.namespace) for p in await self._graph() for n in p.nodes if n.name != UNKNOWN_NODE_NAME
        )

    async def get_topic_names_and_types(self) -> list[tuple[str, list[str]]]:
        """Every topic with a publisher or subscription, with the types seen on it."""
        topics: dict[str, set[str]] = {}
        for participant in await self._graph():
            for node in participant.nodes:
                for ep in (*node.publishers, *node.subscriptions):
                    topics.setdefault(ep.name, set()).add(ep.type_name)
        return sorted((name, sorted(types)) for name, types in topics.items())

    async def get_service_names_and_types(self) -> list[tuple[str, list[str]]]:
        services: dict[str, set[str]] = {}
        for participant in await self._graph():
            for node in participant.nodes:
                for ep in node.services:
                    services.setdefault(ep.name, set()).add(ep.type_name)
        return sorted((name, sorted(types)) for name, types in services.items())

    async def get_publishers_info_by_topic(self, topic: str) -> list[tuple[str, EndpointInfo]]:
        """``(node fqn, endpoint)`` for every publisher of ``topic``."""
        name = self.resolve_name(topic)
        return [
            (node.fqn, ep)
            for p in await self._graph()
            for node in p.nodes
            for ep in node.publishers
            if ep.name == name
        ]

    async def get_subscriptions_info_by_topic(self, topic: str) -> list[tuple[str, EndpointInfo]]:
        name = self.resolve_name(topic)
        return [
            (node.fqn, ep)
            for p in await self._graph()
            for node in p.nodes
            for ep in node.subscriptions
            if ep.name == name
        ]

    def describe(self) -> dict[str, Any]:
        """Everything this node has, as plain data (``rfos node info``)."""
        return {
            "name": self.get_fully_qualified_name(),
            "publishers": [p.describe() for p in self._publishers],
            "subscriptions": [s.describe() for s in self._subscriptions],
            "services": [s.describe() for s in self._services],
            "clients": [c.describe() for c in self._clients],
            "timers": [t.describe() for t in self._timers],
        }
