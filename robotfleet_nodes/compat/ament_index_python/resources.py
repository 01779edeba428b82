"""``ament_index_python.resources``: resources of the ament index (as ament's module)."""

from __future__ import annotations

from robotfleet_nodes.ament_index import (
    InvalidResourceNameError,
    InvalidResourceTypeNameError,
    get_resource,
    get_resource_types,
    get_resources,
    has_resource,
)

__all__ = [
    "InvalidResourceNameError",
    "InvalidResourceTypeNameError",
    "get_resource",
    "get_resource_types",
    "get_resources",
    "has_resource",
]
