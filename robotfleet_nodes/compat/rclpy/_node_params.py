"""The parameter methods of ``rclpy.node.Node`` and its six parameter services.

The values live in the core node's :class:`~robotfleet_nodes.node.parameters.ParameterStore`
(so ``/parameter_events`` and the core's validation are shared); this mixin adds rclpy's
signatures and errors. The parameter services (``~/get_parameters`` ...) are this node's own
:class:`~.node.Service` entities in its default callback group, as in rclpy: a remote
``set_parameters`` runs the pre-set / on-set / post-set callbacks on the executor spinning the
node, never on the asyncio thread, and is answered only while the node is spun.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from robotfleet_nodes.node import Node as _CoreNode
from robotfleet_nodes.node.parameters import ParameterStore, interface_class

from .exceptions import (
    ParameterAlreadyDeclaredException,
    ParameterNotDeclaredException,
    ParameterUninitializedException,
)
from .parameter import Parameter, parameter_value_to_python

__all__ = ["ParametersMixin"]

_SERVICES = (
    ("describe_parameters", "DescribeParameters"),
    ("get_parameters", "GetParameters"),
    ("get_parameter_types", "GetParameterTypes"),
    ("list_parameters", "ListParameters"),
    ("set_parameters", "SetParameters"),
    ("set_parameters_atomically", "SetParametersAtomically"),
)
_DEPRECATED_NAME_ONLY = (
    "when declaring parameter named '{}', declaring a parameter only providing its name is "
    "deprecated. You have to either:\n"
    '\t- Pass a name and a default value different to "PARAMETER NOT SET" (and optionally a descriptor).\n'
    "\t- Pass a name and a parameter type.\n"
    "\t- Pass a name and a descriptor with `dynamic_typing=True"
)


def _descriptor_cls() -> Any:
    return interface_class("rcl_interfaces/msg/ParameterDescriptor")


class ParametersMixin:
    """rclpy's parameter API over the core node's parameter store."""

    _core: _CoreNode
    create_service: Callable[..., Any]

    @property
    def _store(self) -> ParameterStore:
        return self._core.parameters

    def _init_parameters(self, *, start_parameter_services: bool, automatically_declare: bool) -> None:
        """rclpy's order: overrides declared (if asked), ``use_sim_time``, then the services."""
        store = self._store
        store.parameter_class = Parameter
        store.verbatim_callback_reasons = True
        if automatically_declare:
            for name, value in store.overrides.items():
                if not store.has_parameter(name):
                    store.declare_parameter(name, value, ignore_override=True)
        if not store.has_parameter("use_sim_time"):
            store.declare_parameter("use_sim_time", False)
        if start_parameter_services:
            for name, type_name in _SERVICES:
                handler = getattr(self, f"_srv_{name}")
                self.create_service(interface_class(f"rcl_interfaces/srv/{type_name}"), f"~/{name}", handler)

    # -- declaration ---------------------------------------------------------------------
    def declare_parameter(
        self,
        name: str,
        value: Any = None,
        descriptor: Any | None = None,
        ignore_override: bool = False,
    ) -> Parameter:
        """Declare ``name`` with a default value, a ``Parameter.Type`` (typed, no value yet) or,
        with ``ParameterDescriptor(dynamic_typing=True)``, any type; an override
        (``--ros-args -p``, params file, ``parameter_overrides``) replaces the default."""
        if value is None and descriptor is None:
            return self.declare_parameters("", [(name,)], ignore_override)[0]
        return self.declare_parameters(
            "", [(name, value, descriptor or _descriptor_cls()())], ignore_override
        )[0]

    def declare_parameters(
        self,
        namespace: str,
        parameters: Sequence[tuple[Any, ...]],
        ignore_override: bool = False,
    ) -> list[Parameter]:
        """Declare ``(name[, value[, descriptor]])`` tuples as ``<namespace>.<name>``; none is
        declared if one is declared already."""
        planned: list[tuple[str, Any, Any]] = []
        for index, item in enumerate(parameters):
            if not 1 <= len(item) <= 3:
                raise TypeError(
                    f"Invalid parameter tuple length at index {index} in parameters list: {item}; "
                    "expecting length between 1 and 3"
                )
            name = item[0]
            if not isinstance(name, str):
                raise TypeError(f"First element {name} at index {index} in parameters list is not a str.")
            if namespace:
                name = f"{namespace}.{name}"
            value = item[1] if len(item) > 1 else None
            descriptor = item[2] if len(item) > 2 else _descriptor_cls()()
            if not isinstance(descriptor, _descriptor_cls()):
                raise TypeError(
                    f"Third element {descriptor} at index {index} in parameters list "
                    "is not a ParameterDescriptor."
                )
            if len(item) == 1:
                warnings.warn(_DEPRECATED_NAME_ONLY.format(name), stacklevel=3)
                descriptor.dynamic_typing = True
            if isinstance(value, Parameter.Type):
                if value is Parameter.Type.NOT_SET:
                    raise ValueError(
                        f"Cannot declare parameter {{{name}}} as statically typed of type NOT_SET"
                    )
                if descriptor.dynamic_typing:
                    raise ValueError(
                        f"When declaring parameter {{{name}}} passing a descriptor with`dynamic_typing=True` "
                        "is not allowed when the parameter type is provided"
                    )
            elif hasattr(value, "bool_array_value"):  # an rcl_interfaces/msg/ParameterValue
                value = parameter_value_to_python(value)
            elif value is None and not descriptor.dynamic_typing:
                raise ValueError(
                    "Cannot declare a statically typed parameter with default value of type PARAMETER_NOT_SET"
                )
            planned.append((name, value, descriptor))
        taken = [name for name, _, _ in planned if self._store.has_parameter(name)]
        if taken:
            raise ParameterAlreadyDeclaredException(f"Parameter(s) already declared: {taken}")
        return [
            self._as_rclpy(self._store.declare_parameter(n, v, d, ignore_override=ignore_override))
            for n, v, d in planned
        ]

    def undeclare_parameter(self, name: str) -> None:
        """Forget ``name`` (not for read-only parameters); no callback runs."""
        self._store.undeclare_parameter(name)

    # -- reading -------------------------------------------------------------------------
    def has_parameter(self, name: str) -> bool:
        return self._store.has_parameter(name)

    def get_parameter(self, name: str) -> Parameter:
        """The parameter ``name`` (raises if undeclared, or declared with a type and no value)."""
        return self._as_rclpy(self._store.get_parameter(name))

    def get_parameters(self, names: list[str]) -> list[Parameter]:
        if not all(isinstance(name, str) for name in names):
            raise TypeError("All names must be instances of type str")
        return [self.get_parameter(name) for name in names]

    def get_parameter_or(self, name: str, alternative_value: Parameter | None = None) -> Parameter:
        """The parameter, or ``alternative_value`` (default: a NOT_SET parameter) if it is
        undeclared or has no value."""
        if alternative_value is None:
            alternative_value = Parameter(name, Parameter.Type.NOT_SET)
        return self._as_rclpy(self._store.get_parameter_or(name, alternative_value))

    def get_parameters_by_prefix(self, prefix: str) -> dict[str, Parameter]:
        """``{rest of name: parameter}`` of the parameters under ``prefix.`` (all for ``''``)."""
        return {k: self._as_rclpy(p) for k, p in self._store.get_parameters_by_prefix(prefix).items()}

    def get_parameter_type(self, name: str) -> Parameter.Type:
        if not self.has_parameter(name) and not self._store.allow_undeclared_parameters:
            raise ParameterNotDeclaredException(f"Invalid access to undeclared parameter(s): {[name]}")
        return self._store.get_parameter_types([name])[0]

    def get_parameter_types(self, names: list[str]) -> list[Parameter.Type]:
        if not all(isinstance(name, str) for name in names):
            raise TypeError("All names must be instances of type str")
        return [self.get_parameter_type(name) for name in names]

    def describe_parameter(self, name: str) -> Any:
        """The ``rcl_interfaces/msg/ParameterDescriptor`` of ``name``."""
        return self._store.describe_parameter(name)

    def describe_parameters(self, names: list[str]) -> list[Any]:
        return [self.describe_parameter(name) for name in names]

    def list_parameters(self, prefixes: list[str], depth: int) -> Any:
        """``rcl_interfaces/msg/ListParametersResult`` of the names under ``prefixes`` (all if
        empty) down to ``depth`` separators (0: any depth)."""
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise TypeError("The prefixes argument must be a list of str")
        if not isinstance(depth, int):
            raise TypeError("The depth must be instance of type int")
        if depth < 0:
            raise ValueError("The depth must be greater than or equal to zero")
        return self._store.list_parameters(prefixes, depth)

    # -- writing -------------------------------------------------------------------------
    def set_parameters(self, parameter_list: Sequence[Any]) -> list[Any]:
        """Set each parameter on its own: one ``SetParametersResult`` each (a callback's
        rejection is a result; an undeclared name raises ``ParameterNotDeclaredException``)."""
        self._check_parameters(parameter_list)
        return self._store.set_parameters(parameter_list)

    def set_parameters_atomically(self, parameter_list: Sequence[Any]) -> Any:
        """Set all or none: one ``SetParametersResult``."""
        self._check_parameters(parameter_list)
        return self._store.set_parameters_atomically(parameter_list, raise_undeclared=True)

    def add_pre_set_parameters_callback(self, callback: Callable[[list[Any]], list[Any]]) -> None:
        """``callback(parameters) -> parameters`` before a ``set_parameters*`` call (local or
        through the services) validates anything; not on declaration."""
        self._store.add_pre_set_parameters_callback(callback)

    def add_on_set_parameters_callback(self, callback: Callable[[list[Any]], Any]) -> None:
        """``callback(parameters) -> SetParametersResult``: accept or reject each change
        (declarations included); a rejection's reason is returned unchanged."""
        if not callable(callback):
            raise TypeError(f"Callback must be callable, got {type(callback)}")
        self._store.add_on_set_parameters_callback(callback)

    def add_post_set_parameters_callback(self, callback: Callable[[list[Any]], None]) -> None:
        """``callback(parameters)`` after each successful change (declarations included)."""
        if not callable(callback):
            raise TypeError(f"Callback must be callable, got {type(callback)}")
        self._store.add_post_set_parameters_callback(callback)

    def remove_pre_set_parameters_callback(self, callback: Callable[[list[Any]], list[Any]]) -> None:
        self._store.remove_pre_set_parameters_callback(callback)

    def remove_on_set_parameters_callback(self, callback: Callable[[list[Any]], Any]) -> None:
        self._store.remove_on_set_parameters_callback(callback)

    def remove_post_set_parameters_callback(self, callback: Callable[[list[Any]], None]) -> None:
        self._store.remove_post_set_parameters_callback(callback)

    @staticmethod
    def _check_parameters(parameter_list: Sequence[Any]) -> None:
        from robotfleet_nodes.node.parameters import Parameter as CoreParameter

        if not all(isinstance(p, CoreParameter) for p in parameter_list):
            raise TypeError(f"parameter must be instance of type '{Parameter!r}'")

    @staticmethod
    def _as_rclpy(parameter: Any) -> Parameter:
        if isinstance(parameter, Parameter):
            return parameter
        return Parameter(parameter.name, parameter.type_, parameter.value)

    # -- the services (run on an executor, like any service callback) -----------------
    def _srv_describe_parameters(self, request: Any, response: Any) -> Any:
        try:
            response.descriptors = self.describe_parameters(list(request.names))
        except ParameterNotDeclaredException:
            response.descriptors = []
        return response

    def _srv_get_parameters(self, request: Any, response: Any) -> Any:
        try:
            response.values = [p.get_parameter_value() for p in self.get_parameters(list(request.names))]
        except (ParameterNotDeclaredException, ParameterUninitializedException):
            response.values = []
        return response

    def _srv_get_parameter_types(self, request: Any, response: Any) -> Any:
        try:
            response.types = bytes(int(t) for t in self.get_parameter_types(list(request.names)))
        except ParameterNotDeclaredException:
            response.types = b""
        return response

    def _srv_list_parameters(self, request: Any, response: Any) -> Any:
        try:
            response.result = self.list_parameters(list(request.prefixes), int(request.depth))
        except (TypeError, ValueError):
            response.result = interface_class("rcl_interfaces/msg/ListParametersResult")()
        return response

    def _set_one_request(self, messages: Any) -> Any:
        result_cls = interface_class("rcl_interfaces/msg/SetParametersResult")
        try:
            parameters = [Parameter.from_parameter_msg(m) for m in messages]
            return self.set_parameters_atomically(parameters)
        except ParameterNotDeclaredException as exc:
            return result_cls(successful=False, reason=str(exc))
        except (TypeError, ValueError) as exc:
            return result_cls(successful=False, reason=str(exc))

    def _srv_set_parameters(self, request: Any, response: Any) -> Any:
        response.results = [self._set_one_request([m]) for m in request.parameters]
        return response

    def _srv_set_parameters_atomically(self, request: Any, response: Any) -> Any:
        response.result = self._set_one_request(list(request.parameters))
        return response
