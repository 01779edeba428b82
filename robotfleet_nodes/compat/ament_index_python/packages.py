"""``ament_index_python.packages``: where a package is installed (as ament's module)."""

from __future__ import annotations

from robotfleet_nodes.ament_index import (
    PackageNotFoundError,
    get_package_prefix,
    get_package_share_directory,
    get_package_share_path,
    get_packages_with_prefixes,
)

__all__ = [
    "PackageNotFoundError",
    "get_package_prefix",
    "get_package_share_directory",
    "get_package_share_path",
    "get_packages_with_prefixes",
]
