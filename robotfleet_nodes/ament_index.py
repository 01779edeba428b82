"""The ament resource index: ``<prefix>/share/ament_index/resource_index/<type>/<name>`` files.

What ``ament_index_python`` (served by ``compat/``), ``ros2 run``-style executable lookup
(``launch/``) and ``$(find-pkg-share ...)`` read. Search order: the existing prefixes of
``$AMENT_PREFIX_PATH``, then ``sys.prefix`` (the venv; ``make setup`` installs this
package's index, share files and executables there). A package is a
``packages/<name>`` marker file; its executables are ``<prefix>/lib/<name>/<exec>``.
"""

from __future__ import annotations

import os
import pathlib
import re
import sys
import warnings

from robotfleet_nodes.errors import RobotFleetError

__all__ = [
    "RESOURCE_INDEX_SUBFOLDER",
    "ExecutableNotFoundError",
    "InvalidResourceNameError",
    "InvalidResourceTypeNameError",
    "PackageNotFoundError",
    "find_executable",
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

#: Where a prefix keeps its index.
RESOURCE_INDEX_SUBFOLDER = "share/ament_index/resource_index"
_PREFIX_ENV = "AMENT_PREFIX_PATH"
_PACKAGE_NAME = re.compile("[a-zA-Z0-9][a-zA-Z0-9_-]+", re.ASCII)


class PackageNotFoundError(RobotFleetError, KeyError):
    """No prefix has the package: install it there or add its prefix to ``AMENT_PREFIX_PATH``."""


class ExecutableNotFoundError(RobotFleetError, LookupError):
    """The package is installed but has no such executable in ``<prefix>/lib/<package>``."""


class InvalidResourceTypeNameError(RobotFleetError, ValueError):
    """A resource type name with a path separator."""


class InvalidResourceNameError(RobotFleetError, ValueError):
    """A resource name with a path separator."""


def get_search_paths() -> list[str]:
    """The existing prefixes of ``$AMENT_PREFIX_PATH``, then ``sys.prefix``."""
    entries = [p for p in os.environ.get(_PREFIX_ENV, "").split(os.pathsep) if p and os.path.exists(p)]
    if sys.prefix not in entries:
        entries.append(sys.prefix)
    return entries


def _check(resource_type: str, resource_name: str | None = None) -> None:
    if not resource_type:
        raise InvalidResourceTypeNameError("The resource type must not be empty")
    if "/" in resource_type or "\\" in resource_type:
        raise InvalidResourceTypeNameError(f"Resource type '{resource_type}' is invalid")
    if resource_name is not None:
        if not resource_name:
            raise InvalidResourceNameError("The resource name must not be empty")
        if "/" in resource_name or "\\" in resource_name:
            raise InvalidResourceNameError(f"Resource name '{resource_name}' is invalid")


def get_resource(resource_type: str, resource_name: str) -> tuple[str, str]:
    """``(content, prefix)`` of the first prefix that has the resource; ``LookupError`` if none."""
    _check(resource_type, resource_name)
    for prefix in get_search_paths():
        path = os.path.join(prefix, RESOURCE_INDEX_SUBFOLDER, resource_type, resource_name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return handle.read(), prefix
    raise LookupError(f"Could not find the resource '{resource_name}' of type '{resource_type}'")


def get_resources(resource_type: str) -> dict[str, str]:
    """Every resource of ``resource_type``: name -> the first prefix that has it."""
    _check(resource_type)
    found: dict[str, str] = {}
    for prefix in get_search_paths():
        folder = os.path.join(prefix, RESOURCE_INDEX_SUBFOLDER, resource_type)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.startswith(".") and not os.path.isdir(os.path.join(folder, name)):
                found.setdefault(name, prefix)
    return found


def get_resource_types() -> set[str]:
    """Every resource type of every prefix."""
    types: set[str] = set()
    for prefix in get_search_paths():
        base = os.path.join(prefix, RESOURCE_INDEX_SUBFOLDER)
        if os.path.isdir(base):
            types.update(
                name
                for name in os.listdir(base)
                if not name.startswith(".") and os.path.isdir(os.path.join(base, name))
            )
    return types


def has_resource(resource_type: str, resource_name: str) -> str | bool:
    """The prefix that has the resource, else ``False``."""
    _check(resource_type, resource_name)
    for prefix in get_search_paths():
        if os.path.isfile(os.path.join(prefix, RESOURCE_INDEX_SUBFOLDER, resource_type, resource_name)):
            return prefix
    return False


def get_packages_with_prefixes() -> dict[str, str]:
    """Every package in the index: name -> prefix."""
    return get_resources("packages")


def get_package_prefix(package_name: str) -> str:
    """The prefix the package is installed in (``PackageNotFoundError`` if none)."""
    if _PACKAGE_NAME.fullmatch(package_name) is None:
        raise ValueError(f"'{package_name}' is not a valid package name")
    try:
        _content, prefix = get_resource("packages", package_name)
    except LookupError:
        raise PackageNotFoundError(
            f"package '{package_name}' not found, searching: {get_search_paths()} "
            f"(each prefix's {RESOURCE_INDEX_SUBFOLDER}/packages); install it there or add its "
            f"prefix to {_PREFIX_ENV}"
        ) from None
    return prefix


def get_package_share_directory(package_name: str, print_warning: bool = True) -> str:
    """``<prefix>/share/<package>``; warns when that directory does not exist."""
    path = os.path.join(get_package_prefix(package_name), "share", package_name)
    if print_warning and not os.path.exists(path):
        warnings.warn(f"Share directory for {package_name} ({path}) does not exist.", stacklevel=2)
    return path


def get_package_share_path(package_name: str, print_warning: bool = True) -> pathlib.Path:
    """:func:`get_package_share_directory` as a :class:`pathlib.Path`."""
    path = pathlib.Path(get_package_share_directory(package_name, print_warning=False))
    if print_warning and not path.exists():
        warnings.warn(f"Share path for {package_name} ({path}) does not exist.", stacklevel=2)
    return path


def find_executable(package_name: str, executable: str) -> str:
    """The path of ``executable`` of package ``package_name``, as ``ros2 run`` finds it.

    That is ``<prefix>/lib/<package>/<executable>`` (a file with execute permission) in the
    prefix that holds the package. :class:`PackageNotFoundError` names the prefixes
    searched; :class:`ExecutableNotFoundError` names the folder and the executables it has.
    """
    if not executable or "/" in executable or executable in (".", ".."):
        raise ExecutableNotFoundError(f"'{executable}' is not an executable name (a file name, no '/')")
    prefix = get_package_prefix(package_name)
    folder = os.path.join(prefix, "lib", package_name)
    path = os.path.join(folder, executable)
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    have = (
        sorted(n for n in os.listdir(folder) if os.access(os.path.join(folder, n), os.X_OK))
        if os.path.isdir(folder)
        else []
    )
    raise ExecutableNotFoundError(
        f"package '{package_name}' (prefix {prefix}) has no executable '{executable}' in {folder} "
        f"(it has: {', '.join(have) or 'none'})"
    )
