"""``rclpy.parameter_client``: :class:`AsyncParameterClient`, another node's parameters over
its six parameter services (each call returns an ``rclpy`` :class:`~.task.Future`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from robotfleet_nodes.node.parameters import interface_class
from robotfleet_nodes.qos import QOS_SERVICES, QoSProfile

from .callback_groups import CallbackGroup
from .node import Client, Node
from .parameter import Parameter, parameter_dict_from_yaml_file
from .task import Future

__all__ = ["AsyncParameterClient"]

#: ``callback(future)`` run when a call's future is done.
DoneCallback = Callable[[Future], None]


class AsyncParameterClient:
    """Query and change the parameters of the node ``remote_node_name`` (relative names are
    resolved in ``node``'s namespace), like ``rclpy.parameter_client.AsyncParameterClient``."""

    def __init__(
        self,
        node: Node,
        remote_node_name: str,
        qos_profile: QoSProfile = QOS_SERVICES,
        callback_group: CallbackGroup | None = None,
    ) -> None:
        self.remote_node_name = remote_node_name
        self.node = node
        self._clients: dict[str, Client] = {}
        for service, type_name in (
            ("get_parameters", "GetParameters"),
            ("list_parameters", "ListParameters"),
            ("set_parameters", "SetParameters"),
            ("get_parameter_types", "GetParameterTypes"),
            ("describe_parameters", "DescribeParameters"),
            ("set_parameters_atomically", "SetParametersAtomically"),
        ):
            self._clients[service] = node.create_client(
                interface_class(f"rcl_interfaces/srv/{type_name}"),
                f"{remote_node_name}/{service}",
                qos_profile=qos_profile,
                callback_group=callback_group,
            )

    def services_are_ready(self) -> bool:
        """Whether all six services have a server now."""
        return all(client.service_is_ready() for client in self._clients.values())

    def wait_for_services(self, timeout_sec: float | None = None) -> bool:
        """Wait until all six services have a server; False after ``timeout_sec`` (None: forever)."""
        end = None if timeout_sec is None else time.monotonic() + timeout_sec
        for client in self._clients.values():
            left = None if end is None else max(end - time.monotonic(), 0.0)
            if not client.wait_for_service(timeout_sec=left):
                return False
        return True

    def _call(self, service: str, request: Any, callback: DoneCallback | None) -> Future:
        future = self._clients[service].call_async(request)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def _request(self, service: str) -> Any:
        return self._clients[service].srv_type.Request()

    @staticmethod
    def _messages(parameters: Sequence[Any]) -> list[Any]:
        return [p.to_parameter_msg() if isinstance(p, Parameter) else p for p in parameters]

    def list_parameters(
        self,
        prefixes: list[str] | None = None,
        depth: int | None = None,
        callback: DoneCallback | None = None,
    ) -> Future:
        """Names under ``prefixes`` (all if none) down to ``depth``: a ``ListParameters.Response``."""
        request = self._request("list_parameters")
        if prefixes:
            request.prefixes = list(prefixes)
        if depth:
            request.depth = depth
        return self._call("list_parameters", request, callback)

    def get_parameters(self, names: list[str], callback: DoneCallback | None = None) -> Future:
        """Values of ``names``: a ``GetParameters.Response``."""
        request = self._request("get_parameters")
        request.names = list(names)
        return self._call("get_parameters", request, callback)

    def set_parameters(self, parameters: Sequence[Any], callback: DoneCallback | None = None) -> Future:
        """Set each of ``parameters`` (``Parameter`` or ``rcl_interfaces/msg/Parameter``) on its
        own: a ``SetParameters.Response`` with one result each."""
        request = self._request("set_parameters")
        request.parameters = self._messages(parameters)
        return self._call("set_parameters", request, callback)

    def describe_parameters(self, names: list[str], callback: DoneCallback | None = None) -> Future:
        """Descriptors of ``names``: a ``DescribeParameters.Response``."""
        request = self._request("describe_parameters")
        request.names = list(names)
        return self._call("describe_parameters", request, callback)

    def get_parameter_types(self, names: list[str], callback: DoneCallback | None = None) -> Future:
        """Types of ``names`` (``Parameter.Type`` values): a ``GetParameterTypes.Response``."""
        request = self._request("get_parameter_types")
        request.names = list(names)
        return self._call("get_parameter_types", request, callback)

    def set_parameters_atomically(
        self, parameters: Sequence[Any], callback: DoneCallback | None = None
    ) -> Future:
        """Set all of ``parameters`` or none: a ``SetParametersAtomically.Response``."""
        request = self._request("set_parameters_atomically")
        request.parameters = self._messages(parameters)
        return self._call("set_parameters_atomically", request, callback)

    def delete_parameters(self, names: list[str], callback: DoneCallback | None = None) -> Future:
        """Unset ``names`` (only dynamically typed parameters can be): a ``SetParameters.Response``."""
        return self.set_parameters([Parameter(name) for name in names], callback)

    def load_parameter_file(
        self, parameter_file: str, use_wildcard: bool = False, callback: DoneCallback | None = None
    ) -> Future:
        """Set the remote node's section of a params file, one by one: a ``SetParameters.Response``."""
        found = parameter_dict_from_yaml_file(
            parameter_file, use_wildcard, target_nodes=[self.remote_node_name]
        )
        return self.set_parameters(list(found.values()), callback)

    def load_parameter_file_atomically(
        self, parameter_file: str, use_wildcard: bool = False, callback: DoneCallback | None = None
    ) -> Future:
        """Set the remote node's section of a params file, all or none."""
        found = parameter_dict_from_yaml_file(
            parameter_file, use_wildcard, target_nodes=[self.remote_node_name]
        )
        return self.set_parameters_atomically(list(found.values()), callback)
