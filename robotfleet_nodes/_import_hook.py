"""The interface import hook, cheap enough to install when the interpreter starts.

``from std_msgs.msg import String`` must work on the first line of a plain script, before
anything of ``robotfleet_nodes`` was imported. The installed distribution therefore ships
``robotfleet_nodes-import-hook.pth`` (see ``setup.py``), whose one line imports this module
and calls :func:`install` while ``site`` processes the site-packages directory.

Decisions:

- Standard library only, and nothing is imported at start-up beyond this module and the
  package's own ``__init__`` (which imports nothing heavy): pydantic, rosbags and the
  registry load when a script first imports an interface package nobody else serves.
- The finder is appended to the *end* of ``sys.meta_path``, after the normal path finder:
  a real ROS 2 installation's ``std_msgs`` always wins.
- It answers only for names shaped like ``<pkg>``, ``<pkg>.msg``, ``<pkg>.srv`` or
  ``<pkg>.action`` whose ``<pkg>`` is a plausible interface package: a standard one, this
  package (``robotfleet_nodes.srv``), one bundled in ``robotfleet_nodes/interfaces/``, or
  one listed in ``RFOS_INTERFACE_PATH``.
  Every other failed import (``sitecustomize``, libraries probing optional modules) is
  declined without loading anything. The real finder, ``robotfleet_nodes.idl._importer``,
  then decides against the registry.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: importing typing would cost every interpreter start-up
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["STANDARD_PACKAGES", "LazyInterfaceFinder", "install", "uninstall"]

# The registry's ``INTERFACE_PATH_ENV`` (not imported from there: that is the heavy part).
_INTERFACE_PATH_ENV = "RFOS_INTERFACE_PATH"

#: The packages of the rosbags ROS 2 Jazzy typestore the registry serves. Only a gate for
#: the finder (the registry stays the authority); ``tests/idl/test_import_hook.py`` checks
#: that it equals the registry's standard packages.
STANDARD_PACKAGES = frozenset(
    {
        "action_msgs",
        "actionlib_msgs",
        "builtin_interfaces",
        "diagnostic_msgs",
        "geometry_msgs",
        "lifecycle_msgs",
        "nav_msgs",
        "rcl_interfaces",
        "rmw_dds_common",
        "rosbag2_interfaces",
        "rosgraph_msgs",
        "sensor_msgs",
        "service_msgs",
        "shape_msgs",
        "statistics_msgs",
        "std_msgs",
        "stereo_msgs",
        "tf2_msgs",
        "trajectory_msgs",
        "type_description_interfaces",
        "unique_identifier_msgs",
        "visualization_msgs",
    }
)

_KINDS = ("msg", "srv", "action")
_OWN_PACKAGE = "robotfleet_nodes"
_BUNDLED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "interfaces")
_bundled: list[frozenset[str]] = []  # zero or one element, filled on the first candidate check


def _bundled_packages() -> frozenset[str]:
    if not _bundled:
        try:
            names = frozenset(entry.name for entry in os.scandir(_BUNDLED_DIR) if entry.is_dir())
        except OSError:
            names = frozenset()
        _bundled.append(names)
    return _bundled[0]


def _path_packages() -> set[str]:
    entries = os.environ.get(_INTERFACE_PATH_ENV, "").split(os.pathsep)
    return {os.path.basename(os.path.realpath(entry.strip())) for entry in entries if entry.strip()}


def _is_candidate(package: str) -> bool:
    return (
        package in STANDARD_PACKAGES
        or package == _OWN_PACKAGE  # robotfleet_nodes.srv: this package's srv/ has no module
        or package in _bundled_packages()
        or package in _path_packages()
    )


class LazyInterfaceFinder:
    """A meta path finder that loads the interface machinery on its first real match."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        """A spec for an interface module of a known package, else ``None`` (PEP 451)."""
        parts = fullname.split(".")
        if len(parts) > 2 or (len(parts) == 2 and parts[1] not in _KINDS) or not _is_candidate(parts[0]):
            return None
        # The real machinery (pydantic, rosbags, the registry), first imported here.
        from robotfleet_nodes.idl import InterfaceFinder

        return InterfaceFinder().find_spec(fullname, path, target)

    def invalidate_caches(self) -> None:
        """Forget the bundled package names (``importlib.invalidate_caches()``)."""
        _bundled.clear()


def install() -> None:
    """Append the finder to the end of ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(finder, LazyInterfaceFinder) for finder in sys.meta_path):
        sys.meta_path.append(LazyInterfaceFinder())


def uninstall() -> None:
    """Remove the finder again (modules it already served stay imported)."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, LazyInterfaceFinder)]
