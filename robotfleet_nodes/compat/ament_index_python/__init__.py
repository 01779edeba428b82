"""``ament_index_python`` over the ament resource index (served as the top-level name).

Search order: the prefixes in ``$AMENT_PREFIX_PATH`` (existing directories), then
``sys.prefix`` (a venv where packages install ``share/ament_index/resource_index``). Unlike
ament's, an unset ``AMENT_PREFIX_PATH`` is no error: ``sys.prefix`` is still searched.
"""

from __future__ import annotations

from robotfleet_nodes.ament_index import (
    RESOURCE_INDEX_SUBFOLDER,
    InvalidResourceNameError,
    InvalidResourceTypeNameError,
    PackageNotFoundError,
    get_package_prefix,
    get_package_share_directory,
    get_package_share_path,
    get_packages_with_prefixes,
    get_resource,
    get_resource_types,
    get_resources,
    get_search_paths,
    has_resource,
)

__all__ = [
    "RESOURCE_INDEX_SUBFOLDER",
    "InvalidResourceNameError",
    "InvalidResourceTypeNameError",
    "PackageNotFoundError",
    "get_package_prefix",
    "get_package_share_directory",
    "get_package_share_path",
    "get_packages_with_prefixes",
    "get_resource",
    "get_resource_types",
    "get_resources",
    "get_search_paths",
    "has_resource",
]
