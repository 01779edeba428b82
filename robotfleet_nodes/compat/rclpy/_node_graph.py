"""The graph part of ``rclpy.node.Node``: who is on the bus, synchronously, and entity removal.

Each query asks every participant for its nodes (our transport's graph; about 0.5 s on NATS,
since it gathers answers for a fixed window) and is exact for everything created before it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from robotfleet_nodes import names

from . import _core
from .context import Context
from .topic_endpoint_info import TopicEndpointInfo, TopicEndpointTypeEnum
from .utilities import get_default_context

if TYPE_CHECKING:
    from robotfleet_nodes.node import Node as _CoreNode

    from .node import Client, Publisher, Service, Subscription

__all__ = ["subscription_count"]


def _graph(core_node: Any) -> list[Any]:
    participants: list[Any] = _core.run_query(core_node.context.transport.graph(), [])
    return participants


def _nodes(core_node: Any) -> list[Any]:
    return [node for participant in _graph(core_node) for node in participant.nodes]


def _count(core_node: Any, topic: str, kind: str) -> int:
    return sum(1 for node in _nodes(core_node) for ep in getattr(node, kind) if ep.name == topic)


def subscription_count(core_publisher: Any) -> int:
    """How many subscriptions the graph shows on a core publisher's topic (any process)."""
    return _count(core_publisher.node, core_publisher.topic_name, "subscriptions")


def _gid(*parts: str) -> list[int]:
    return list(hashlib.blake2b("/".join(parts).encode(), digest_size=16).digest())


class _GraphMixin:
    """Graph queries, counts and ``destroy_*`` for :class:`rclpy.node.Node`."""

    _core: _CoreNode

    def _snapshot_remove(self, entity: Any) -> bool:
        raise NotImplementedError  # node.py's Node provides it

    @property
    def context(self) -> Context:
        """The (default) context this node lives in."""
        return get_default_context()

    def _expand(self, name: str, *, service: bool = False) -> str:
        return names.expand_name(
            name, node_name=self._core.get_name(), namespace=self._core.get_namespace(), is_service=service
        )

    # -- names -------------------------------------------------------------------------
    def get_node_names(self) -> list[str]:
        """Names (without namespace) of every node on the bus."""
        return [name for name, _ns in self.get_node_names_and_namespaces()]

    def get_node_names_and_namespaces(self) -> list[tuple[str, str]]:
        """``(name, namespace)`` of every node on the bus."""
        pairs: list[tuple[str, str]] = _core.run_query(self._core.get_node_names_and_namespaces(), [])
        return pairs

    def get_fully_qualified_node_names(self) -> list[str]:
        """``/namespace/name`` of every node on the bus."""
        return [node.fqn for node in _nodes(self._core)]

    def get_topic_names_and_types(self, no_demangle: bool = False) -> list[tuple[str, list[str]]]:
        """Every topic with a publisher or subscription, with its types (``pkg/msg/Type``)."""
        topics: list[tuple[str, list[str]]] = _core.run_query(self._core.get_topic_names_and_types(), [])
        return topics

    def get_service_names_and_types(self) -> list[tuple[str, list[str]]]:
        """Every service with a server, with its types (``pkg/srv/Type``)."""
        services: list[tuple[str, list[str]]] = _core.run_query(self._core.get_service_names_and_types(), [])
        return services

    def wait_for_node(self, fully_qualified_node_name: str, timeout: float) -> bool:
        """Whether the node appears within ``timeout`` seconds (a negative timeout: forever)."""
        import time

        wanted = (
            fully_qualified_node_name
            if fully_qualified_node_name.startswith("/")
            else "/" + fully_qualified_node_name
        )
        end = time.monotonic() + timeout
        while True:
            if wanted in self.get_fully_qualified_node_names():
                return True
            if timeout >= 0 and time.monotonic() >= end:
                return False

    # -- counts ------------------------------------------------------------------------
    def count_publishers(self, topic_name: str) -> int:
        """Publishers of ``topic_name`` (expanded with this node's namespace, not remapped)."""
        return _count(self._core, self._expand(topic_name), "publishers")

    def count_subscribers(self, topic_name: str) -> int:
        """Subscriptions of ``topic_name`` (expanded with this node's namespace, not remapped)."""
        return _count(self._core, self._expand(topic_name), "subscriptions")

    def count_services(self, service_name: str) -> int:
        """Servers of ``service_name``."""
        return _count(self._core, self._expand(service_name, service=True), "services")

    def count_clients(self, service_name: str) -> int:
        """Clients of ``service_name``."""
        return _count(self._core, self._expand(service_name, service=True), "clients")

    def _info_by_topic(self, topic_name: str, no_mangle: bool, kind: str) -> list[TopicEndpointInfo]:
        topic = topic_name if no_mangle else self._core.resolve_name(topic_name)
        endpoint_type = (
            TopicEndpointTypeEnum.PUBLISHER if kind == "publishers" else TopicEndpointTypeEnum.SUBSCRIPTION
        )
        found: list[TopicEndpointInfo] = []
        for participant in _graph(self._core):
            for node in participant.nodes:
                for index, ep in enumerate(getattr(node, kind)):
                    if ep.name != topic:
                        continue
                    found.append(
                        TopicEndpointInfo(
                            node_name=node.name,
                            node_namespace=node.namespace,
                            topic_type=ep.type_name,
                            topic_type_hash=ep.type_hash,
                            endpoint_type=endpoint_type,
                            endpoint_gid=_gid(participant.gid, node.fqn, kind, str(index)),
                            qos_profile=ep.qos,
                        )
                    )
        return found

    def get_publishers_info_by_topic(
        self, topic_name: str, no_mangle: bool = False
    ) -> list[TopicEndpointInfo]:
        """Every publisher of ``topic_name`` (expanded and remapped as this node would)."""
        return self._info_by_topic(topic_name, no_mangle, "publishers")

    def get_subscriptions_info_by_topic(
        self, topic_name: str, no_mangle: bool = False
    ) -> list[TopicEndpointInfo]:
        """Every subscription of ``topic_name`` (expanded and remapped as this node would)."""
        return self._info_by_topic(topic_name, no_mangle, "subscriptions")

    # -- destroying entities ----------------------------------------------------------
    def destroy_publisher(self, publisher: Publisher) -> bool:
        """Remove ``publisher`` from the graph; False if it was not this node's."""
        if publisher._core.node is not self._core:
            return False
        if publisher._events is not None:
            publisher._events.destroy()
        _core.run(self._core.destroy_publisher(publisher._core))
        return True

    def destroy_subscription(self, subscription: Subscription) -> bool:
        """Stop ``subscription``; False if it was not this node's."""
        if not self._snapshot_remove(subscription):
            return False
        if subscription._events is not None:
            subscription._events.destroy()
        _core.run(self._core.destroy_subscription(subscription._core))
        return True

    def destroy_service(self, service: Service) -> bool:
        """Stop serving; False if it was not this node's."""
        if not self._snapshot_remove(service):
            return False
        _core.run(self._core.destroy_service(service._core))
        return True

    def destroy_client(self, client: Client) -> bool:
        """Remove ``client``; False if it was not this node's."""
        if not self._snapshot_remove(client):
            return False
        _core.run(self._core.destroy_client(client._core))
        return True
