"""Node parameters, as in ROS 2: declared, typed, validated, overridable, remotely settable.

:class:`ParameterStore` is the parameters part of a node (``Node`` delegates to it):

- **Declaration.** ``declare_parameter(name, default, descriptor)`` fixes the type (unless
  the descriptor says ``dynamic_typing``); a ``Parameter.Type`` as default declares a typed
  parameter without value, which then must come from an override.
- **Overrides**, in increasing precedence: params files of the global ``--ros-args``, their
  ``-p`` values, the node's own params files and ``-p`` values, then the explicit
  ``parameter_overrides`` of the node (see :func:`collect_parameter_overrides`).
- **Validation**: ``add_pre_set_parameters_callback`` callbacks first (on ``set_parameters*``
  only, not on declaration; they may change the list), then type, ``read_only``,
  ``integer_range`` / ``floating_point_range``, then every ``add_on_set_parameters_callback``
  callback, which must all accept; ``add_post_set_parameters_callback`` callbacks after.
- **Remote access**: :meth:`ParameterStore.start` creates rcl_interfaces' six services under
  the node's name (``<node>/get_parameters`` ...) and publishes every change on
  ``/parameter_events``, so ``ros2 param`` style tools work unchanged.

Local calls are synchronous, as in rclpy (declare parameters in ``__init__``); the events
they cause are published in order in the background. The store may be used from threads other
than its event loop's (``rclpy`` compatibility calls it from executor threads): changes are
serialised by a lock and their events handed to the loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from robotfleet_nodes._callbacks import spawn
from robotfleet_nodes.errors import ParameterError
from robotfleet_nodes.idl import Message
from robotfleet_nodes.node._parameter_values import (
    InvalidParameterTypeError,
    InvalidParameterValueError,
    Parameter,
    ParameterAlreadyDeclaredError,
    ParameterImmutableError,
    ParameterNotDeclaredError,
    ParameterUninitializedError,
    _copy_descriptor,
    _descriptor_class,
    _range_error,
    _Type,
    collect_parameter_overrides,
    from_parameter_value,
    interface_class,
    to_parameter_value,
)
from robotfleet_nodes.qos import QOS_PARAMETER_EVENTS

if TYPE_CHECKING:
    from robotfleet_nodes.node.node import Node
    from robotfleet_nodes.node.publisher import Publisher
    from robotfleet_nodes.node.service import Service

__all__ = [
    "PARAMETER_SERVICES",
    "InvalidParameterTypeError",
    "InvalidParameterValueError",
    "Parameter",
    "ParameterAlreadyDeclaredError",
    "ParameterImmutableError",
    "ParameterNotDeclaredError",
    "ParameterStore",
    "ParameterUninitializedError",
    "PreSetParametersCallback",
    "SetParametersCallback",
    "collect_parameter_overrides",
    "from_parameter_value",
    "interface_class",
    "to_parameter_value",
]

log = logging.getLogger(__name__)

#: The services every node offers, relative to the node (``~/<name>``), and their types.
PARAMETER_SERVICES: tuple[tuple[str, str], ...] = (
    ("describe_parameters", "rcl_interfaces/srv/DescribeParameters"),
    ("get_parameters", "rcl_interfaces/srv/GetParameters"),
    ("get_parameter_types", "rcl_interfaces/srv/GetParameterTypes"),
    ("list_parameters", "rcl_interfaces/srv/ListParameters"),
    ("set_parameters", "rcl_interfaces/srv/SetParameters"),
    ("set_parameters_atomically", "rcl_interfaces/srv/SetParametersAtomically"),
)
#: ``ListParameters.Request.DEPTH_RECURSIVE``.
DEPTH_RECURSIVE = 0
_SEPARATOR = "."
_INT64 = (-(2**63), 2**63 - 1)


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


# -- the store -----------------------------------------------------------------------------
#: ``callback(parameters) -> SetParametersResult`` (or a bool); must not block.
SetParametersCallback = Callable[[list[Parameter]], Any]
#: ``callback(parameters) -> parameters``: may change what a ``set_parameters*`` call sets.
PreSetParametersCallback = Callable[[list[Parameter]], list[Parameter]]
#: ``SetParametersResult.reason`` when pre-set callbacks left nothing to set (rclpy's text).
_EMPTY_AFTER_PRE_SET = (
    "parameter list cannot be empty, this might be due to pre_set_parameters_callback "
    "modifying the original parameters list."
)


@dataclass(slots=True)
class _Entry:
    parameter: Parameter
    descriptor: Any  # rcl_interfaces/msg/ParameterDescriptor


class ParameterStore:
    """The parameters of one node (``node.parameters``); see the module docstring.

    Args:
        node_fqn: the node's fully qualified name (used in messages and events).
        overrides: values from the command line / params files / the node's options,
            already merged (see :func:`collect_parameter_overrides`).
        allow_undeclared_parameters: setting an undeclared parameter declares it (with
            dynamic typing) instead of failing; getting one returns a ``NOT_SET`` parameter.
        automatically_declare_parameters_from_overrides: declare every override now.
    """

    def __init__(
        self,
        node_fqn: str,
        *,
        overrides: Mapping[str, Any] | None = None,
        allow_undeclared_parameters: bool = False,
        automatically_declare_parameters_from_overrides: bool = False,
    ) -> None:
        self.node_fqn = node_fqn
        self.allow_undeclared_parameters = allow_undeclared_parameters
        self._overrides: dict[str, Any] = dict(overrides or {})
        self._entries: dict[str, _Entry] = {}
        self._pre_set: list[PreSetParametersCallback] = []
        self._on_set: list[SetParametersCallback] = []
        #: ``True``: a rejecting on-set callback's reason is returned unchanged (rclpy's and
        #: rclcpp's behaviour); ``False``: it is prefixed with the parameter names.
        self.verbatim_callback_reasons = False
        #: The class of the parameters the store makes (``rclpy`` compatibility sets its own).
        self.parameter_class: type[Parameter] = Parameter
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._post_set: list[Callable[[list[Parameter]], None]] = []
        self._events: Publisher[Any] | None = None
        self._services: list[Service[Any]] = []
        self._pending: list[Message] = []
        self._flushing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        if automatically_declare_parameters_from_overrides:
            for name, value in self._overrides.items():
                if name not in self._entries:
                    self.declare_parameter(name, value)

    @property
    def overrides(self) -> dict[str, Any]:
        """The override values this node was given (a copy)."""
        return dict(self._overrides)

    # -- declaration ---------------------------------------------------------------------
    def declare_parameter(
        self,
        name: str,
        value: Any = None,
        descriptor: Any | None = None,
        *,
        ignore_override: bool = False,
    ) -> Parameter:
        """Declare ``name`` with a default (or a ``Parameter.Type`` for "typed, no value").

        An override for ``name`` replaces the default unless ``ignore_override``. Without a
        default (``None``) the parameter is dynamically typed (rclpy's "name only" form).
        Returns the parameter as declared.

        Raises:
            ParameterAlreadyDeclaredError; InvalidParameterTypeError (an override of another
            type), InvalidParameterValueError (out of range, or rejected by a callback).
        """
        with self._lock:
            return self._declare(name, value, descriptor, ignore_override=ignore_override)

    def _declare(self, name: str, value: Any, descriptor: Any | None, *, ignore_override: bool) -> Parameter:
        if not isinstance(name, str) or not name:
            raise ParameterError(f"a parameter name must be a non-empty string, got {name!r}")
        if name in self._entries:
            raise ParameterAlreadyDeclaredError(f"parameter {name!r} is already declared on {self.node_fqn}")
        desc = _copy_descriptor(descriptor, name)
        empty_default = isinstance(value, list | tuple) and not value
        if isinstance(value, _Type):
            declared_type, value = value, None
        elif empty_default and desc.type:
            declared_type = _Type(desc.type)  # an empty list typed by the descriptor
        else:
            declared_type = self.parameter_class(name, value=value).type_
            if declared_type is _Type.NOT_SET:
                desc.dynamic_typing = True  # rclpy's "name only" form
        if not ignore_override and name in self._overrides:
            value = self._overrides[name]
        actual = self.parameter_class(name, value=value).type_
        if not desc.dynamic_typing:
            if declared_type is _Type.NOT_SET or (empty_default and not desc.type and actual.is_array):
                declared_type = actual  # an empty default list takes the override's array type
            if value is not None and not declared_type.check(value):
                raise InvalidParameterTypeError(self._type_message(name, declared_type, actual, value))
            if declared_type.is_array and value is not None:
                actual = declared_type
        desc.type = int(declared_type if not desc.dynamic_typing else actual)
        parameter = self.parameter_class(name, actual, value)
        if value is not None:
            reason = _range_error(name, desc, parameter.value) or self._run_on_set([parameter])
            if reason is not None:
                raise InvalidParameterValueError(reason)
        self._entries[name] = _Entry(parameter, desc)
        if value is not None:
            self._run_post_set([parameter])
        self._queue_event(new=[parameter])
        return parameter

    def declare_parameters(
        self,
        namespace: str,
        parameters: Sequence[tuple[str] | tuple[str, Any] | tuple[str, Any, Any]],
        *,
        ignore_override: bool = False,
    ) -> list[Parameter]:
        """Declare ``(name[, default[, descriptor]])`` tuples, each as ``<namespace>.<name>``."""
        declared = []
        for item in parameters:
            name = f"{namespace}{_SEPARATOR}{item[0]}" if namespace else item[0]
            value = item[1] if len(item) > 1 else None
            descriptor = item[2] if len(item) > 2 else None
            declared.append(self.declare_parameter(name, value, descriptor, ignore_override=ignore_override))
        return declared

    def undeclare_parameter(self, name: str) -> None:
        """Forget ``name``. Raises for an undeclared or read-only parameter."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                raise ParameterNotDeclaredError(self._undeclared_message(name))
            if entry.descriptor.read_only:
                raise ParameterImmutableError(f"parameter {name!r} is read-only: it cannot be undeclared")
            del self._entries[name]
            self._queue_event(deleted=[entry.parameter])

    # -- reading -------------------------------------------------------------------------
    def has_parameter(self, name: str) -> bool:
        return name in self._entries

    def get_parameter(self, name: str) -> Parameter:
        """The parameter ``name``.

        Raises:
            ParameterNotDeclaredError: unless declared (or undeclared parameters are allowed,
                which gives a ``NOT_SET`` parameter).
            ParameterUninitializedError: declared with a type but never given a value.
        """
        entry = self._entries.get(name)
        if entry is None:
            if self.allow_undeclared_parameters:
                return self.parameter_class(name, _Type.NOT_SET)
            raise ParameterNotDeclaredError(self._undeclared_message(name))
        if entry.parameter.type_ is _Type.NOT_SET and not entry.descriptor.dynamic_typing:
            raise ParameterUninitializedError(
                f"parameter {name!r} of {self.node_fqn} is declared as {_Type(entry.descriptor.type).name} "
                "but has no value: give one with -p, a params file or set_parameters"
            )
        return entry.parameter

    def get_parameters(self, names: Iterable[str]) -> list[Parameter]:
        return [self.get_parameter(n) for n in names]

    def get_parameter_or(self, name: str, alternative_value: Any = None) -> Parameter:
        """The parameter ``name`` if declared, else ``alternative_value`` (a Parameter or value)."""
        entry = self._entries.get(name)
        if entry is not None and entry.parameter.type_ is not _Type.NOT_SET:
            return entry.parameter
        if isinstance(alternative_value, Parameter):
            return alternative_value
        return self.parameter_class(name, value=alternative_value)

    def get_parameters_by_prefix(self, prefix: str) -> dict[str, Parameter]:
        """Parameters under ``prefix.``, keyed by the rest of their name (all for ``""``)."""
        if not prefix:
            return {name: e.parameter for name, e in self._entries.items()}
        start = prefix + _SEPARATOR
        return {
            name[len(start) :]: e.parameter for name, e in self._entries.items() if name.startswith(start)
        }

    def describe_parameter(self, name: str) -> Any:
        """The ``rcl_interfaces/msg/ParameterDescriptor`` of ``name``."""
        entry = self._entries.get(name)
        if entry is None:
            if self.allow_undeclared_parameters:
                return _descriptor_class()(name=name, dynamic_typing=True)
            raise ParameterNotDeclaredError(self._undeclared_message(name))
        return entry.descriptor.model_copy(deep=True)

    def describe_parameters(self, names: Iterable[str]) -> list[Any]:
        return [self.describe_parameter(n) for n in names]

    def get_parameter_types(self, names: Iterable[str]) -> list[_Type]:
        """Each name's type; ``NOT_SET`` for names that are not declared."""
        return [self._entries[n].parameter.type_ if n in self._entries else _Type.NOT_SET for n in names]

    def list_parameters(self, prefixes: Sequence[str] = (), depth: int = DEPTH_RECURSIVE) -> Any:
        """``rcl_interfaces/msg/ListParametersResult`` with rclcpp's prefix and depth rules."""
        names: list[str] = []
        found_prefixes: list[str] = []
        for name in self._entries:
            get_all = not prefixes and (depth == DEPTH_RECURSIVE or name.count(_SEPARATOR) < depth)
            matches = any(
                name == prefix
                or (
                    name.startswith(prefix + _SEPARATOR)
                    and (depth == DEPTH_RECURSIVE or name[len(prefix) + 1 :].count(_SEPARATOR) < depth)
                )
                for prefix in prefixes
            )
            if get_all or matches:
                names.append(name)
                if _SEPARATOR in name:
                    group = name.rsplit(_SEPARATOR, 1)[0]
                    if group not in found_prefixes:
                        found_prefixes.append(group)
        cls = interface_class("rcl_interfaces/msg/ListParametersResult")
        return cls(names=names, prefixes=found_prefixes)

    # -- writing -------------------------------------------------------------------------
    def add_pre_set_parameters_callback(self, callback: PreSetParametersCallback) -> PreSetParametersCallback:
        """Call ``callback(parameters)`` before a ``set_parameters*`` call validates anything; it
        returns the parameters to set instead (e.g. adds a derived one). With several
        callbacks, their lists are concatenated (most recently added first); an empty result
        fails the call. Not called on declaration. Returns ``callback`` (a handle for removal)."""
        self._pre_set.insert(0, callback)
        return callback

    def remove_pre_set_parameters_callback(self, callback: PreSetParametersCallback) -> None:
        self._pre_set.remove(callback)

    def add_on_set_parameters_callback(self, callback: SetParametersCallback) -> SetParametersCallback:
        """Validate every change: ``callback(parameters)`` returns a ``SetParametersResult``
        (or a bool); all callbacks must accept. Returns ``callback`` (a handle for removal)."""
        self._on_set.insert(0, callback)  # rclcpp calls the most recently added first
        return callback

    def remove_on_set_parameters_callback(self, callback: SetParametersCallback) -> None:
        self._on_set.remove(callback)

    def add_post_set_parameters_callback(
        self, callback: Callable[[list[Parameter]], None]
    ) -> Callable[[list[Parameter]], None]:
        """Call ``callback(parameters)`` after each accepted change (to react to it); the most
        recently added runs first, as in rclpy and rclcpp."""
        self._post_set.insert(0, callback)
        return callback

    def remove_post_set_parameters_callback(self, callback: Callable[[list[Parameter]], None]) -> None:
        self._post_set.remove(callback)

    def set_parameters(self, parameters: Iterable[Parameter]) -> list[Any]:
        """Set each parameter on its own; one ``SetParametersResult`` per parameter.

        Raises :class:`ParameterNotDeclaredError` for an undeclared name (unless undeclared
        parameters are allowed), as rclpy does; every other failure is a result with
        ``successful=False`` and the reason.
        """
        return [self.set_parameters_atomically([p], raise_undeclared=True) for p in parameters]

    def set_parameters_atomically(
        self, parameters: Iterable[Parameter], *, raise_undeclared: bool = False
    ) -> Any:
        """Set all of ``parameters`` or none; returns one ``SetParametersResult``.

        A ``NOT_SET`` value undeclares a dynamically typed parameter. Pre-set callbacks run
        first and may replace ``parameters``. An undeclared name (unless undeclared parameters
        are allowed) fails the result, or raises :class:`ParameterNotDeclaredError` with
        ``raise_undeclared`` (rclpy's behaviour).
        """
        with self._lock:
            return self._set_atomically(list(parameters), raise_undeclared)

    def _set_atomically(self, parameters: list[Parameter], raise_undeclared: bool) -> Any:
        result_cls = interface_class("rcl_interfaces/msg/SetParametersResult")
        if self._pre_set:
            parameters = self._run_pre_set(parameters)
            if not parameters:
                return result_cls(successful=False, reason=_EMPTY_AFTER_PRE_SET)
        if raise_undeclared and not self.allow_undeclared_parameters:
            for p in parameters:
                if p.name not in self._entries:
                    raise ParameterNotDeclaredError(self._undeclared_message(p.name))
        try:
            new, changed, deleted, applied = self._plan(parameters)
        except ParameterError as exc:
            return result_cls(successful=False, reason=str(exc))
        for name, entry in new:
            self._entries[name] = entry
        for entry in changed:
            current = self._entries[entry.parameter.name]
            current.parameter = entry.parameter
            if current.descriptor.dynamic_typing:
                current.descriptor.type = int(entry.parameter.type_)
        for parameter in deleted:
            del self._entries[parameter.name]
        if applied:
            self._run_post_set(applied)
        self._queue_event(
            new=[e.parameter for _, e in new], changed=[e.parameter for e in changed], deleted=deleted
        )
        return result_cls(successful=True, reason="")

    def _plan(
        self, parameters: list[Parameter]
    ) -> tuple[list[tuple[str, _Entry]], list[_Entry], list[Parameter], list[Parameter]]:
        """Validate a change; raises ParameterError with the reason, changes nothing."""
        new: list[tuple[str, _Entry]] = []
        changed: list[_Entry] = []
        deleted: list[Parameter] = []
        applied: list[Parameter] = []
        seen: set[str] = set()
        for p in parameters:
            if p.name in seen:
                raise InvalidParameterValueError(f"parameter {p.name!r} appears twice in one request")
            seen.add(p.name)
            entry = self._entries.get(p.name)
            if entry is None:
                if not self.allow_undeclared_parameters:
                    raise ParameterNotDeclaredError(self._undeclared_message(p.name))
                if p.type_ is _Type.NOT_SET:
                    continue
                desc = _descriptor_class()(name=p.name, type=int(p.type_), dynamic_typing=True)
                new.append((p.name, _Entry(p, desc)))
                applied.append(p)
                continue
            desc = entry.descriptor
            if desc.read_only:
                raise ParameterImmutableError(f"parameter {p.name!r} is read-only")
            if p.type_ is _Type.NOT_SET:
                if not desc.dynamic_typing:
                    raise InvalidParameterTypeError(
                        f"parameter {p.name!r} is statically typed ({_Type(desc.type).name}): "
                        "it cannot be unset; declare it with dynamic_typing=True to allow that"
                    )
                deleted.append(entry.parameter)
                applied.append(p)  # callbacks see the unset parameter, as in rclpy and rclcpp
                continue
            value_type: _Type = p.type_
            if not desc.dynamic_typing:
                declared = _Type(desc.type)
                if not declared.check(p.value):
                    raise InvalidParameterTypeError(self._type_message(p.name, declared, p.type_, p.value))
                value_type = declared
            parameter = self.parameter_class(p.name, value_type, p.value) if value_type is not p.type_ else p
            reason = _range_error(p.name, desc, parameter.value)
            if reason is not None:
                raise InvalidParameterValueError(reason)
            changed.append(_Entry(parameter, desc))
            applied.append(parameter)
        if applied:
            reason = self._run_on_set(applied)
            if reason is not None:
                raise InvalidParameterValueError(reason)
        return new, changed, deleted, applied

    def _run_pre_set(self, parameters: list[Parameter]) -> list[Parameter]:
        modified: list[Parameter] = []
        for callback in self._pre_set:
            modified.extend(callback(list(parameters)))
        return modified

    def _run_on_set(self, parameters: list[Parameter]) -> str | None:
        """``None`` if every on-set callback accepts ``parameters``, else the reason."""
        for callback in self._on_set:
            try:
                result = callback(list(parameters))
            except Exception as exc:
                log.exception("set-parameters callback %r raised", callback)
                return f"rejected by a set-parameters callback: it raised {exc!r}"
            if isinstance(result, bool):
                ok, reason = result, ""
            else:
                ok, reason = bool(getattr(result, "successful", False)), str(getattr(result, "reason", ""))
            if not ok and self.verbatim_callback_reasons:
                return reason
            if not ok:
                names = ", ".join(repr(p.name) for p in parameters)
                why = reason or "no reason given"
                return f"parameter {names} rejected by a set-parameters callback: {why}"
        return None

    def _run_post_set(self, parameters: list[Parameter]) -> None:
        for callback in self._post_set:
            try:
                callback(list(parameters))
            except Exception:
                log.exception("post-set-parameters callback %r raised", callback)

    # -- messages ------------------------------------------------------------------------
    def _undeclared_message(self, name: str) -> str:
        return (
            f"parameter {name!r} is not declared on {self.node_fqn}: declare it first "
            "(declare_parameter) or create the node with allow_undeclared_parameters=True"
        )

    @staticmethod
    def _type_message(name: str, expected: _Type, got: _Type, value: Any) -> str:
        return (
            f"parameter {name!r} has the wrong type: expected {expected.name}, got {got.name} ({value!r}); "
            "declare it with dynamic_typing=True to allow type changes"
        )

    # -- remote access -------------------------------------------------------------------
    async def start(self, node: Node, *, services: bool = True, events: bool = True) -> None:
        """Create the parameter services and the ``/parameter_events`` publisher on ``node``.

        Call once the node is started (its transport connected); idempotent.
        """
        if self._services or self._events is not None:
            return
        self._loop = asyncio.get_running_loop()
        if events:
            event_cls = interface_class("rcl_interfaces/msg/ParameterEvent")
            self._events = await node.create_publisher(event_cls, "/parameter_events", QOS_PARAMETER_EVENTS)
        if services:
            handlers: dict[str, Callable[[Any, Any], Any]] = {
                "describe_parameters": self._srv_describe,
                "get_parameters": self._srv_get,
                "get_parameter_types": self._srv_types,
                "list_parameters": self._srv_list,
                "set_parameters": self._srv_set,
                "set_parameters_atomically": self._srv_set_atomically,
            }
            self._services = list(
                await asyncio.gather(
                    *(
                        node.create_service(interface_class(type_name), f"~/{name}", handlers[name])
                        for name, type_name in PARAMETER_SERVICES
                    )
                )
            )

    async def close(self) -> None:
        """Publish what is still queued and forget the services (the node destroys them)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._events = None
        self._services = []

    def _srv_get(self, request: Any, response: Any) -> Any:
        response.values = [
            e.parameter.get_parameter_value() if e is not None else to_parameter_value(_Type.NOT_SET, None)
            for e in (self._entries.get(n) for n in request.names)
        ]
        return response

    def _srv_types(self, request: Any, response: Any) -> Any:
        response.types = bytes(int(t) for t in self.get_parameter_types(request.names))
        return response

    def _srv_describe(self, request: Any, response: Any) -> Any:
        descriptors = []
        for name in request.names:
            entry = self._entries.get(name)
            descriptors.append(entry.descriptor if entry is not None else _descriptor_class()(name=name))
        response.descriptors = descriptors
        return response

    def _srv_list(self, request: Any, response: Any) -> Any:
        response.result = self.list_parameters(list(request.prefixes), int(request.depth))
        return response

    def _from_msgs(self, msgs: Iterable[Any]) -> list[Parameter] | str:
        try:
            return [Parameter.from_parameter_msg(m) for m in msgs]
        except ParameterError as exc:
            return str(exc)

    def _srv_set(self, request: Any, response: Any) -> Any:
        result_cls = interface_class("rcl_interfaces/msg/SetParametersResult")
        results = []
        for msg in request.parameters:
            parameters = self._from_msgs([msg])
            if isinstance(parameters, str):
                results.append(result_cls(successful=False, reason=parameters))
            else:
                results.append(self.set_parameters_atomically(parameters))
        response.results = results
        return response

    def _srv_set_atomically(self, request: Any, response: Any) -> Any:
        parameters = self._from_msgs(request.parameters)
        if isinstance(parameters, str):
            result_cls = interface_class("rcl_interfaces/msg/SetParametersResult")
            response.result = result_cls(successful=False, reason=parameters)
        else:
            response.result = self.set_parameters_atomically(parameters)
        return response

    # -- events --------------------------------------------------------------------------
    def _queue_event(
        self,
        *,
        new: Sequence[Parameter] = (),
        changed: Sequence[Parameter] = (),
        deleted: Sequence[Parameter] = (),
    ) -> None:
        if self._events is None or not (new or changed or deleted):
            return
        now = time.time_ns()
        stamp_cls = interface_class("builtin_interfaces/msg/Time")
        event = interface_class("rcl_interfaces/msg/ParameterEvent")(
            stamp=stamp_cls(sec=now // 1_000_000_000, nanosec=now % 1_000_000_000),
            node=self.node_fqn,
            new_parameters=[p.to_parameter_msg() for p in new],
            changed_parameters=[p.to_parameter_msg() for p in changed],
            deleted_parameters=[p.to_parameter_msg() for p in deleted],
        )
        loop = self._loop
        if loop is not None and not _running_in(loop):
            loop.call_soon_threadsafe(self._enqueue, event)
        else:
            self._enqueue(event)

    def _enqueue(self, event: Message) -> None:
        self._pending.append(event)
        if not self._flushing:
            self._flushing = True
            spawn(self._flush(), self._tasks)

    async def _flush(self) -> None:
        """Publish queued events in order (one task at a time, so order is kept)."""
        try:
            while self._pending and self._events is not None:
                event = self._pending.pop(0)
                try:
                    await self._events.publish(event)
                except Exception:
                    log.warning("could not publish a parameter event of %s", self.node_fqn, exc_info=True)
        finally:
            self._flushing = False
            self._pending.clear()
