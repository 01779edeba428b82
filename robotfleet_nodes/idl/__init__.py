"""ROS 2 interfaces: ``.msg`` / ``.srv`` / ``.action`` grammar -> specs -> pydantic classes.

``from std_msgs.msg import String`` works without a ROS 2 installation (a real one wins):
``robotfleet_nodes._import_hook`` hands such imports to ``_importer``.
"""

from __future__ import annotations

from robotfleet_nodes.idl._importer import InterfaceFinder, interface_module_attrs
from robotfleet_nodes.idl._message import Action, Message, Service
from robotfleet_nodes.idl._parser import parse_action, parse_interface, parse_message, parse_service
from robotfleet_nodes.idl._registry import INTERFACE_PATH_ENV, TypeRegistry, default_registry
from robotfleet_nodes.idl._spec import (
    INTEGER_RANGES,
    PRIMITIVE_TYPES,
    ActionSpec,
    ArrayKind,
    Constant,
    Field,
    FieldType,
    InterfaceSpec,
    MessageSpec,
    ServiceSpec,
    python_name,
)
from robotfleet_nodes.idl._stubs import package_dependencies, write_stubs

__all__ = [
    "INTEGER_RANGES",
    "INTERFACE_PATH_ENV",
    "PRIMITIVE_TYPES",
    "Action",
    "ActionSpec",
    "ArrayKind",
    "Constant",
    "Field",
    "FieldType",
    "InterfaceFinder",
    "InterfaceSpec",
    "Message",
    "MessageSpec",
    "Service",
    "ServiceSpec",
    "TypeRegistry",
    "default_registry",
    "get_interface",
    "get_message_class",
    "interface_module_attrs",
    "package_dependencies",
    "parse_action",
    "parse_interface",
    "parse_message",
    "parse_service",
    "python_name",
    "write_stubs",
]


def get_message_class(name: str) -> type[Message]:
    """The message class of ``pkg/msg/Type`` (or ``pkg/Type``) from the default registry."""
    return default_registry().get_class(name)


def get_interface(name: str) -> type[Message] | type[Service] | type[Action]:
    """The class of a message, or the namespace class of a service / action (default registry)."""
    return default_registry().get_interface(name)
