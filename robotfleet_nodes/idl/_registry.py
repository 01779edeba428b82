"""The type registry: every known interface by full name, and its generated classes.

Standard interfaces (``builtin_interfaces``, ``std_msgs``, ``geometry_msgs``,
``sensor_msgs``, ``action_msgs`` ...) are not re-typed here: they come from the typestore
``rosbags`` ships for **ROS 2 Jazzy** (the current LTS; a fixed store rather than ``LATEST``,
so a rosbags upgrade can never silently change a definition and with it a type hash).
rosbags holds messages only; the standard services and actions (and the few messages newer
than its store) are ROS 2's own files in ``robotfleet_nodes/interfaces/``, loaded by
:func:`default_registry`. Every service also has its introspection message ``Name_Event``,
and :meth:`TypeRegistry.type_hash` gives the RIHS01 hash of any type, service and action
parts included. A standard package is converted on its first lookup, so
creating a registry costs nothing.

Two rosbags quirks are corrected on conversion: empty messages come back with rosidl's
placeholder field ``structure_needs_at_least_one_member``, which is dropped (the ``.msg``
has no fields, and neither has the rclpy class); and defaults are lost, so the defaults of
the standard set are put back: ``geometry_msgs/Quaternion.w = 1.0`` (identity rotation) and
``sensor_msgs/NavSatStatus.status = -2`` (``STATUS_UNKNOWN``). tests/idl/test_ros2_cdr.py
checks every default message of the ROS 2 oracle's packages against real rclpy.

Names refuse duplicates: adding a different definition under a known name is an error,
re-adding the identical one is a no-op (so loading a package twice is harmless).
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from robotfleet_nodes.errors import InterfaceError, MsgSyntaxError, UnknownInterfaceError
from robotfleet_nodes.idl._compare import definition_difference
from robotfleet_nodes.idl._hash import interface_type_hashes
from robotfleet_nodes.idl._message import Action, Message, Service
from robotfleet_nodes.idl._parser import LineMap, parse_interface_with_lines
from robotfleet_nodes.idl._pydantic import build_message_class
from robotfleet_nodes.idl._spec import (
    ActionSpec,
    ArrayKind,
    Constant,
    Field,
    FieldType,
    InterfaceSpec,
    MessageSpec,
    ServiceSpec,
)

__all__ = ["INTERFACE_PATH_ENV", "TypeRegistry", "default_registry"]

logger = logging.getLogger(__name__)

#: Environment variable: ``os.pathsep``-separated package directories (basename = package
#: name, holding ``msg/``, ``srv/``, ``action/``) the default registry loads.
INTERFACE_PATH_ENV = "RFOS_INTERFACE_PATH"

_KINDS = ("msg", "srv", "action")
_SUFFIX = {"msg": ".msg", "srv": ".srv", "action": ".action"}
_TYPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_PLACEHOLDER = "structure_needs_at_least_one_member"
_STANDARD_DEFAULTS: dict[tuple[str, str], Any] = {
    ("geometry_msgs/msg/Quaternion", "w"): 1.0,
    ("sensor_msgs/msg/NavSatStatus", "status"): -2,
}
_SEPARATOR = re.compile(r"^={10,}\s*$", re.MULTILINE)
_EVENT_SUFFIX = "_Event"
_EVENT_INFO = "service_msgs/msg/ServiceEventInfo"

InterfaceClass = type[Message] | type[Service] | type[Action]


# --- standard interfaces from rosbags -----------------------------------------------------


@functools.cache
def _typestore() -> Any:
    # Imported here: rosbags' store modules are only worth loading once a type is looked up.
    from rosbags.typesys import Stores, get_typestore

    logger.debug("loading the rosbags ROS 2 Jazzy typestore")
    return get_typestore(Stores.ROS2_JAZZY)


@functools.cache
def _standard_index() -> dict[str, tuple[str, ...]]:
    """Standard package name -> the full names of its messages."""
    index: dict[str, list[str]] = {}
    for name in _typestore().fielddefs:
        index.setdefault(name.split("/", 1)[0], []).append(name)
    return {package: tuple(sorted(names)) for package, names in index.items()}


def _convert_node(node: tuple[Any, Any]) -> FieldType:
    from rosbags.interfaces import Nodetype

    kind, detail = node
    if kind == Nodetype.BASE:
        base, bound = detail
        return FieldType(base, bound or None)
    if kind == Nodetype.NAME:
        return FieldType(detail)
    inner, size = detail
    element = _convert_node(inner)
    if kind == Nodetype.ARRAY:
        return FieldType(element.base, element.string_bound, ArrayKind.FIXED, size)
    if size:
        return FieldType(element.base, element.string_bound, ArrayKind.BOUNDED, size)
    return FieldType(element.base, element.string_bound, ArrayKind.UNBOUNDED)


@functools.cache
def _standard_spec(name: str) -> MessageSpec:
    store = _typestore()
    constants, fields = store.fielddefs[name]
    converted = []
    for field_name, node in fields:
        if field_name == _PLACEHOLDER and len(fields) == 1:
            continue
        key = (name, field_name)
        if key in _STANDARD_DEFAULTS:
            converted.append(Field(field_name, _convert_node(node), _STANDARD_DEFAULTS[key], True))
        else:
            converted.append(Field(field_name, _convert_node(node)))
    text = _SEPARATOR.split(store.generate_msgdef(name, ros_version=2)[0], maxsplit=1)[0]
    return MessageSpec(
        name,
        tuple(converted),
        tuple(Constant(cname, FieldType(ctype), value) for cname, ctype, value in constants),
        text=text.rstrip("\n") + "\n",
        source="",
    )


# --- the registry -------------------------------------------------------------------------


def _normalize(name: str) -> str:
    parts = name.strip().split("/")
    if len(parts) == 2:
        return f"{parts[0]}/msg/{parts[1]}"
    return "/".join(parts)


def _event_spec(service: ServiceSpec) -> MessageSpec:
    """``pkg/srv/Name_Event``: the service-introspection message ROS 2 (Iron+) derives."""
    request, response = service.request.full_name, service.response.full_name
    text = (
        f"service_msgs/ServiceEventInfo info\n{request.rsplit('/', 1)[1]}[<=1] request\n"
        f"{response.rsplit('/', 1)[1]}[<=1] response\n"
    )
    return MessageSpec(
        f"{service.full_name}{_EVENT_SUFFIX}",
        (
            Field("info", FieldType(_EVENT_INFO)),
            Field("request", FieldType(request, array=ArrayKind.BOUNDED, array_size=1)),
            Field("response", FieldType(response, array=ArrayKind.BOUNDED, array_size=1)),
        ),
        text=text,
        source=service.source,
    )


def _messages_of(spec: InterfaceSpec) -> tuple[MessageSpec, ...]:
    if isinstance(spec, MessageSpec):
        return (spec,)
    if isinstance(spec, ServiceSpec):
        return (spec.request, spec.response)
    return (spec.goal, spec.result, spec.feedback)


class TypeRegistry:
    """Interface specs by full name (``pkg/msg/Type``, ``pkg/srv/Type``, ``pkg/action/Type``).

    Message parts of services and actions are reachable as messages too
    (``pkg/srv/Type_Request``, ``pkg/action/Type_Goal`` ...), and so is each service's
    introspection message ``pkg/srv/Type_Event`` (made on first lookup). Classes are generated on first
    use and cached. With ``standard=True`` (the default) the rosbags standard interfaces
    are known as well. Thread-safe.
    """

    def __init__(self, *, standard: bool = True) -> None:
        self._standard = standard
        self._interfaces: dict[str, InterfaceSpec] = {}
        self._messages: dict[str, MessageSpec] = {}
        self._lines: LineMap = {}
        self._pending: set[str] = set()
        self._loaded_standard: set[str] = set()
        self._classes: dict[str, type[Message]] = {}
        self._namespaces: dict[str, type[Service] | type[Action]] = {}
        self._lock = threading.RLock()
        #: One line per interface package :func:`default_registry` left out, and why.
        self.load_errors: list[str] = []

    # --- adding ---------------------------------------------------------------------------

    def add_text(
        self, full_name: str, text: str, *, source: str = "", validate: bool = True
    ) -> InterfaceSpec:
        """Parse and register one interface; ``full_name`` is ``pkg/kind/Name`` (or ``pkg/Name``).

        With ``validate`` (the default) nested references are checked right away; pass
        ``False`` to add several interfaces that refer to each other, then call
        :meth:`validate`. Raises :class:`MsgSyntaxError` (``path:line: reason``).
        """
        spec, lines = parse_interface_with_lines(text, _normalize(full_name), source=source)
        with self._lock:
            added = self._add(spec, lines)
            if validate:
                self._validate_or_rollback(added)
        return spec

    def add_texts(self, texts: Mapping[str, str], *, source: str = "") -> list[str]:
        """Register several interfaces that may refer to each other, all or nothing.

        ``texts`` maps full names to their ``.msg`` / ``.srv`` / ``.action`` text. All are
        parsed, added, then checked together; on any error (syntax, unknown reference, a
        definition that conflicts with a registered one) none of them stays registered.
        Returns the message names added (an interface already registered identically adds
        nothing).
        """
        parsed = [
            parse_interface_with_lines(text, _normalize(name), source=source) for name, text in texts.items()
        ]
        with self._lock:
            added: list[str] = []
            try:
                for spec, lines in parsed:
                    added.extend(self._add(spec, lines))
            except InterfaceError:
                self._remove(added)
                raise
            self._validate_or_rollback(added)
        return added

    def add_spec(self, spec: InterfaceSpec, *, validate: bool = True) -> None:
        """Register an already parsed spec (errors then point at line 1 of its source)."""
        lines = {m.full_name: {f.name: 1 for f in m.fields} for m in _messages_of(spec)}
        with self._lock:
            added = self._add(spec, lines)
            if validate:
                self._validate_or_rollback(added)

    def load_package(
        self, package_name: str, directory: str | os.PathLike[str], *, validate: bool = True
    ) -> list[str]:
        """Load ``msg/*.msg``, ``srv/*.srv`` and ``action/*.action`` under ``directory``.

        Returns the full names loaded, sorted. All files are parsed before references are
        checked, so files of one package may refer to each other in any order; on any
        error nothing of the package stays registered. ``validate=False`` defers the
        reference check to :meth:`validate` (packages that refer to each other).
        """
        root = Path(directory)
        if not root.is_dir():
            raise InterfaceError(f"interface package directory {str(root)!r} does not exist")
        parsed: list[tuple[InterfaceSpec, LineMap]] = []
        for kind in _KINDS:
            for path in sorted((root / kind).glob(f"*{_SUFFIX[kind]}")):
                if not _TYPE_NAME.match(path.stem):
                    raise MsgSyntaxError(
                        str(path), 1, f"interface file name {path.stem!r} must be CamelCase (e.g. WorkOrder)"
                    )
                text = path.read_text(encoding="utf-8")
                parsed.append(
                    parse_interface_with_lines(text, f"{package_name}/{kind}/{path.stem}", source=str(path))
                )
        with self._lock:
            added: list[str] = []
            try:
                for spec, lines in parsed:
                    added.extend(self._add(spec, lines))
            except InterfaceError:
                self._remove(added)
                raise
            if validate:
                self._validate_or_rollback(added)
        names = sorted(spec.full_name for spec, _ in parsed)
        logger.debug("loaded %d interfaces of %s from %s", len(names), package_name, root)
        return names

    def validate(self) -> None:
        """Check nested references and cycles of everything added with ``validate=False``."""
        with self._lock:
            pending = sorted(self._pending)
            self._check(pending)
            self._pending.clear()

    def _add(self, spec: InterfaceSpec, lines: LineMap) -> list[str]:
        """Register ``spec``; returns the message names it added (for rollback)."""
        self._ensure_package(spec.full_name.split("/", 1)[0])
        existing = self._interfaces.get(spec.full_name)
        if existing is not None:
            from_store = not existing.source and self._is_standard(existing.full_name)
            difference = definition_difference(existing, spec, defaults=not from_store)
            if difference is None:
                return []  # the same interface again (e.g. ROS 2's own file of a built-in type)
            origin = existing.source or ("the built-in ROS 2 interfaces" if from_store else "built in")
            here = f"{spec.source}: " if spec.source else ""
            raise InterfaceError(
                f"{here}{spec.full_name} is already registered with another definition ({origin}): "
                f"{difference}; use the registered definition unchanged or give your package another name"
            )
        self._interfaces[spec.full_name] = spec
        added = []
        for message in _messages_of(spec):
            self._messages[message.full_name] = message
            self._lines[message.full_name] = lines.get(message.full_name, {})
            self._pending.add(message.full_name)
            added.append(message.full_name)
        return added

    def _reject_package(self, name: str, directory: Path, error: InterfaceError) -> None:
        message = f"interface package {name} ({directory}) left out: {error}"
        self.load_errors.append(message)
        logger.warning("%s", message)

    def _is_standard(self, name: str) -> bool:
        return self._standard and name in _standard_index().get(name.split("/", 1)[0], ())

    def _remove(self, message_names: Iterable[str]) -> None:
        for name in message_names:
            self._messages.pop(name, None)
            self._lines.pop(name, None)
            self._pending.discard(name)
            interface = name.rsplit("_", 1)[0] if "/msg/" not in name else name
            self._interfaces.pop(interface, None)

    def _validate_or_rollback(self, added: list[str]) -> None:
        try:
            self._check(added)
        except InterfaceError:
            self._remove(added)
            raise
        self._pending.difference_update(added)

    def _check(self, names: list[str]) -> None:
        for name in names:
            spec = self._messages[name]
            for field in spec.fields:
                if field.type.is_primitive:
                    continue
                target = field.type.base
                self._ensure_package(target.split("/", 1)[0])
                if target not in self._messages:
                    raise MsgSyntaxError(
                        spec.source or spec.full_name,
                        self._line(name, field.name),
                        f"unknown type {target!r} of field {field.name!r}{self._hint(target)}",
                    )
        self._check_cycles(names)

    def _check_cycles(self, names: list[str]) -> None:
        done: set[str] = set()

        def visit(name: str, stack: list[str]) -> None:
            if name in done:
                return
            if name in stack:
                cycle = [*stack[stack.index(name) :], name]
                start = self._messages[cycle[0]]
                link = next(f.name for f in start.fields if f.type.base == cycle[1])
                raise MsgSyntaxError(
                    start.source or start.full_name,
                    self._line(cycle[0], link),
                    f"circular type reference {' -> '.join(cycle)} "
                    f"(a message cannot contain itself, not even through arrays)",
                )
            stack.append(name)
            for field in self._messages[name].fields:
                if not field.type.is_primitive and field.type.base in self._messages:
                    visit(field.type.base, stack)
            stack.pop()
            done.add(name)

        for name in names:
            visit(name, [])

    def _line(self, message: str, field: str) -> int:
        return self._lines.get(message, {}).get(field, 1)

    def _hint(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
        return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""

    def _ensure_package(self, package: str) -> None:
        """Convert a standard package on its first lookup."""
        if not self._standard or package in self._loaded_standard:
            return
        with self._lock:
            if package in self._loaded_standard:
                return
            self._loaded_standard.add(package)
            for name in _standard_index().get(package, ()):
                if name not in self._interfaces:
                    spec = _standard_spec(name)
                    self._interfaces[name] = spec
                    self._messages[name] = spec

    # --- lookups --------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        full = _normalize(name)
        self._ensure_package(full.split("/", 1)[0])
        return full in self._interfaces or full in self._messages or self._event(full) is not None

    def get_spec(self, name: str) -> InterfaceSpec:
        """The spec of ``pkg/msg/Type`` (or ``pkg/Type``), ``pkg/srv/Type``, ``pkg/action/Type``.

        Message parts (``pkg/srv/Type_Request``) return their :class:`MessageSpec`.
        Raises :class:`UnknownInterfaceError` listing close matches.
        """
        full = _normalize(name)
        self._ensure_package(full.split("/", 1)[0])
        spec = self._interfaces.get(full) or self._messages.get(full) or self._event(full)
        if spec is None:
            raise UnknownInterfaceError(f"unknown interface {name!r}{self._hint(full)}")
        return spec

    def _event(self, full: str) -> MessageSpec | None:
        """``pkg/srv/Name_Event`` of a known service, registered on first lookup; else None."""
        if not full.endswith(_EVENT_SUFFIX):
            return None
        service = self._interfaces.get(full.removesuffix(_EVENT_SUFFIX))
        if not isinstance(service, ServiceSpec):
            return None
        with self._lock:
            event = self._messages.get(full)
            if event is None:
                event = _event_spec(service)
                self._messages[full] = event
                self._lines[full] = {}
        return event

    def type_hashes(self, name: str) -> dict[str, str]:
        """Full name -> RIHS01 hash of the interface ``name`` and of every type ROS 2 derives
        from it (a service's ``_Request`` / ``_Response`` / ``_Event``, an action's parts).

        ``name`` may also be such a derived type: its interface's table is returned.
        """
        full = _normalize(name)
        spec: InterfaceSpec | None = None
        if full.split("/")[1] != "msg":
            package, kind, short = full.split("/")
            owner = f"{package}/{kind}/{short.split('_', 1)[0]}"
            if owner in self:
                spec = self.get_spec(owner)
        if spec is None:
            spec = self.get_spec(full)
        if self._pending:
            self.validate()
        hashes = interface_type_hashes(spec, self.message_spec)
        if full not in hashes:
            raise UnknownInterfaceError(f"unknown interface {name!r}{self._hint(full)}")
        return hashes

    def type_hash(self, name: str) -> str:
        """The RIHS01 type hash of any message, service, action or part of one."""
        return self.type_hashes(name)[_normalize(name)]

    def message_spec(self, name: str) -> MessageSpec:
        """The :class:`MessageSpec` of a message or of a service/action part."""
        spec = self.get_spec(name)
        if not isinstance(spec, MessageSpec):
            parts = ", ".join(m.full_name for m in _messages_of(spec))
            raise UnknownInterfaceError(
                f"{name!r} is a {spec.full_name.split('/')[1]}, not a message; use {parts}"
            )
        return spec

    def resolve(self, field_type: FieldType | str) -> MessageSpec:
        """The spec of a nested field type (a :class:`FieldType` or a type name)."""
        base = field_type.base if isinstance(field_type, FieldType) else field_type
        return self.message_spec(base)

    def names(self, kind: str | None = None) -> list[str]:
        """Sorted full names of all interfaces, optionally only of one kind (msg/srv/action)."""
        if kind is not None and kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}, got {kind!r}")
        for package in self._standard_packages():
            self._ensure_package(package)
        return sorted(n for n in self._interfaces if kind is None or n.split("/")[1] == kind)

    def packages(self) -> list[str]:
        """Sorted names of all packages with at least one interface (standard ones included)."""
        own = {name.split("/", 1)[0] for name in self._interfaces}
        return sorted(own.union(self._standard_packages()))

    def package_names(self, package: str, kind: str) -> list[str]:
        """Short names of the interfaces of ``kind`` in ``package`` (for module ``__dir__``)."""
        self._ensure_package(package)
        prefix = f"{package}/{kind}/"
        return sorted(n[len(prefix) :] for n in self._interfaces if n.startswith(prefix))

    def _standard_packages(self) -> tuple[str, ...]:
        return tuple(_standard_index()) if self._standard else ()

    # --- classes --------------------------------------------------------------------------

    def get_class(self, name: str) -> type[Message]:
        """The generated pydantic class of a message (or service/action part); cached."""
        cached = self._classes.get(name)
        if cached is not None:
            return cached
        spec = self.message_spec(name)
        with self._lock:
            cls = self._classes.get(spec.full_name)
            if cls is None:
                if self._pending:
                    self.validate()
                cls = build_message_class(spec, self.get_class)
                self._classes[spec.full_name] = cls
            self._classes[name] = cls
        return cls

    def get_interface(self, name: str) -> InterfaceClass:
        """The class of a message, or the namespace class of a service / action."""
        spec = self.get_spec(name)
        if isinstance(spec, MessageSpec):
            return self.get_class(spec.full_name)
        with self._lock:
            namespace = self._namespaces.get(spec.full_name)
            if namespace is None:
                namespace = self._build_namespace(spec)
                self._namespaces[spec.full_name] = namespace
        return namespace

    def _build_namespace(self, spec: ServiceSpec | ActionSpec) -> type[Service] | type[Action]:
        package, kind, short = spec.full_name.split("/")
        attributes: dict[str, Any] = {
            "__ros_type__": spec.full_name,
            "__ros_spec__": spec,
            "__module__": f"{package}.{kind}",
            "__doc__": f"ROS 2 {kind} ``{spec.full_name}``.\n\n{spec.text}".rstrip(),
        }
        if isinstance(spec, ServiceSpec):
            attributes["Request"] = self.get_class(spec.request.full_name)
            attributes["Response"] = self.get_class(spec.response.full_name)
            if _EVENT_INFO in self:
                attributes["Event"] = self.get_class(f"{spec.full_name}{_EVENT_SUFFIX}")
            return type(short, (Service,), attributes)
        attributes["Goal"] = self.get_class(spec.goal.full_name)
        attributes["Result"] = self.get_class(spec.result.full_name)
        attributes["Feedback"] = self.get_class(spec.feedback.full_name)
        return type(short, (Action,), attributes)


# --- the default registry -----------------------------------------------------------------

_OWN_PACKAGE = "robotfleet_nodes"
#: ``robotfleet_nodes/`` itself; its parent holds this package's ``msg/`` in a source tree.
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_default: list[TypeRegistry] = []  # zero or one element: the process-wide registry
_default_lock = threading.Lock()


def _own_package_dirs() -> list[Path]:
    """Where this package's own ``msg/`` lives: the source tree, then the ament share dir."""
    return [
        _PACKAGE_DIR.parent,
        Path(sys.prefix) / "share" / _OWN_PACKAGE,
    ]


def _has_interfaces(directory: Path) -> bool:
    return any((directory / kind).is_dir() for kind in _KINDS)


def default_registry() -> TypeRegistry:
    """The process-wide registry: standard interfaces, ``robotfleet_nodes``' own, and the
    packages listed in ``RFOS_INTERFACE_PATH`` (read once, on first call)."""
    if _default:
        return _default[0]
    with _default_lock:
        if not _default:
            registry = TypeRegistry()
            for directory in _own_package_dirs():
                if _has_interfaces(directory):
                    registry.load_package(_OWN_PACKAGE, directory, validate=False)
                    break
            # Standard services/actions rosbags does not ship (ROS 2's own definitions).
            bundled = _PACKAGE_DIR / "interfaces"
            if bundled.is_dir():
                for directory in sorted(p for p in bundled.iterdir() if _has_interfaces(p)):
                    registry.load_package(directory.name, directory, validate=False)
            registry.validate()
            _load_user_packages(registry, os.environ.get(INTERFACE_PATH_ENV, ""))
            _default.append(registry)
    return _default[0]


def _load_user_packages(registry: TypeRegistry, path: str) -> None:
    """Load the ``RFOS_INTERFACE_PATH`` packages; a bad one is skipped with one warning.

    A package that cannot be used (a syntax error, an unknown type, a definition that
    conflicts with a built-in interface of the same name) must not break every command that
    merely looks a type up: it is left out whole, its error is logged once as one line and
    kept in :attr:`TypeRegistry.load_errors`. A package identical to a built-in one (ROS 2's
    own ``sensor_msgs``) is accepted: its interfaces are the built-in ones.
    """
    loaded: list[tuple[str, Path, list[str]]] = []
    for entry in path.split(os.pathsep):
        if not entry.strip():
            continue
        directory = Path(entry.strip())
        name = directory.resolve().name
        before = set(registry._pending)
        try:
            registry.load_package(name, directory, validate=False)
        except InterfaceError as exc:
            registry._reject_package(name, directory, exc)
            continue
        loaded.append((name, directory, sorted(registry._pending - before)))
    # Checked after all are loaded (packages may refer to each other), until no package is left
    # out any more: one that refers to a package left out goes too.
    with registry._lock:
        rejected = True
        while rejected:
            rejected = False
            for item in list(loaded):
                name, directory, added = item
                try:
                    registry._check(added)
                except InterfaceError as exc:
                    registry._remove(added)
                    registry._reject_package(name, directory, exc)
                    loaded.remove(item)
                    rejected = True
        for _, _, added in loaded:
            registry._pending.difference_update(added)


def _reset_default_registry() -> None:
    """Forget the default registry (tests that change ``RFOS_INTERFACE_PATH``)."""
    with _default_lock:
        _default.clear()
