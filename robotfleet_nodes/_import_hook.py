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

Coexistence with a real ROS 2 (``RFOS_ROS2``, see docs/ros2-compat.md, "Coexistence"): a second
finder, :class:`CompatFinder`, serves this package's ROS 2 client library
(``robotfleet_nodes/compat/rclpy/``) as the top-level ``rclpy``, its ament index reader
(``compat/ament_index_python/``) as ``ament_index_python``, ``sensor_msgs``' Python companion
(``compat/sensor_msgs_py/``) as ``sensor_msgs_py`` and its launch adapters
(``compat/launch/``, ``compat/launch_ros/``) as ``launch`` and ``launch_ros``; their
submodules then load from those directories through the parent's ``__path__``. Loading a
Python launch file binds our ``launch``/``launch_ros`` whatever the mode
(:func:`bind_compat`): our launch runtime runs only our entities. (In ``auto`` mode a
``launch/`` folder on ``sys.path``, e.g. the current directory of ``python -c``, is a
namespace package the path finder would return: :class:`LaunchFolderGuard`, in front of it,
serves ours then.) A real ``ament_index_python`` on
``sys.path`` wins in ``auto`` mode like a real ``rclpy`` (the path finder comes first); ours
only reads files, so it also serves beside a real rclpy that lacks one. Our ``sensor_msgs_py``
builds our message classes, so in ``auto`` mode it is not served beside a real rclpy.

- ``auto`` (default): both finders at the end of ``sys.meta_path``, so an importable real
  ``rclpy`` wins; and when one is importable, the interface finder declines too (a real
  rclpy needs rosidl's message classes, not ours).
- ``rfos``: both finders first, so ours win over a real ROS 2 installation.
- ``off``: no ``rclpy`` of ours; the interface finder stays at the end, as without ROS 2
  compatibility (this package's own scripts import interface packages).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: importing typing would cost every interpreter start-up
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = [
    "ROS2_ENV",
    "ROS2_MODES",
    "STANDARD_PACKAGES",
    "CompatFinder",
    "LaunchFolderGuard",
    "LazyInterfaceFinder",
    "bind_compat",
    "install",
    "ros2_mode",
    "uninstall",
]

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

#: The environment variable choosing whose ``rclpy`` (and interface packages) a script gets.
ROS2_ENV = "RFOS_ROS2"
#: Its values: ``auto`` (the default), ``rfos`` and ``off``.
ROS2_MODES = ("auto", "rfos", "off")

_KINDS = ("msg", "srv", "action")
_COMPAT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compat")
#: The top-level modules served from ``robotfleet_nodes/compat/``.
_COMPAT_MODULES = frozenset({"rclpy", "ament_index_python", "launch", "launch_ros", "sensor_msgs_py"})
#: Compat modules whose name a plain folder (a namespace package) may take: every ROS package
#: has a ``launch/`` folder of launch files.
_SHADOWABLE = frozenset({"launch", "launch_ros"})
#: Those of them that build our interface classes: not served beside a real rclpy in ``auto``.
_NEEDS_OUR_INTERFACES = frozenset({"sensor_msgs_py"})
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


def ros2_mode() -> str:
    """The ``RFOS_ROS2`` mode: ``auto``, ``rfos`` or ``off`` (unset or empty: ``auto``)."""
    value = os.environ.get(ROS2_ENV, "").strip().lower() or "auto"
    if value not in ROS2_MODES:
        sys.stderr.write(
            f"robotfleet_nodes: {ROS2_ENV}={value!r} is not one of auto, rfos, off; using auto\n"
        )
        return "auto"
    return value


def _real_rclpy_importable() -> bool:
    """Whether the path finder (``sys.path``) finds an ``rclpy`` other than ours."""
    from importlib.machinery import PathFinder  # already loaded by the import system

    return PathFinder.find_spec("rclpy") is not None


class CompatFinder:
    """A meta path finder serving ``robotfleet_nodes/compat/<name>`` as the top-level ``<name>``
    (``rclpy``, ``ament_index_python``, ``sensor_msgs_py``)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        """The spec of our ``rclpy`` or ``ament_index_python``, else ``None`` (submodules: the
        parent's ``__path__``)."""
        if fullname not in _COMPAT_MODULES:
            return None
        if fullname in _NEEDS_OUR_INTERFACES and ros2_mode() == "auto" and _real_rclpy_importable():
            return None  # it would hand our message classes to a real rclpy
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(fullname, [_COMPAT_DIR])


class LaunchFolderGuard:
    """In ``auto`` mode, in front of the path finder: serves our ``launch``/``launch_ros`` when
    the path finder would find only a namespace package (a ``launch/`` folder of launch files
    in the current directory) or nothing; a real (regular) package of that name still wins."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        """Our spec for ``launch``/``launch_ros`` unless a real one is on ``sys.path``."""
        if fullname not in _SHADOWABLE:
            return None
        from importlib.machinery import PathFinder

        found = PathFinder.find_spec(fullname)
        if found is not None and found.origin is not None:
            return None  # a real module or package
        return PathFinder.find_spec(fullname, [_COMPAT_DIR])


class LazyInterfaceFinder:
    """A meta path finder that loads the interface machinery on its first real match."""

    def __init__(self, *, first: bool = False) -> None:
        self._first = first

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
        if self._first and parts[0] == _OWN_PACKAGE:
            return None  # in front of the path finder: never shadow this package itself
        if not self._first and ros2_mode() == "auto" and _real_rclpy_importable():
            return None  # a real ROS 2 is in use: its rosidl classes, not ours
        # The real machinery (pydantic, rosbags, the registry), first imported here.
        from robotfleet_nodes.idl import InterfaceFinder

        return InterfaceFinder().find_spec(fullname, path, target)

    def invalidate_caches(self) -> None:
        """Forget the bundled package names (``importlib.invalidate_caches()``)."""
        _bundled.clear()


def install() -> None:
    """Install the finders as ``RFOS_ROS2`` says (idempotent).

    ``auto``: both appended to the end of ``sys.meta_path`` (and :class:`LaunchFolderGuard`
    first); ``rfos``: both inserted first; ``off``: only the interface finder, at the end.
    """
    if any(
        isinstance(finder, (LazyInterfaceFinder, CompatFinder, LaunchFolderGuard)) for finder in sys.meta_path
    ):
        return
    mode = ros2_mode()
    if mode == "off":
        sys.meta_path.append(LazyInterfaceFinder())
    elif mode == "rfos":
        sys.meta_path[:0] = [CompatFinder(), LazyInterfaceFinder(first=True)]
    else:
        sys.meta_path.insert(0, LaunchFolderGuard())
        sys.meta_path.extend([LazyInterfaceFinder(), CompatFinder()])


def uninstall() -> None:
    """Remove the finders again (modules they already served stay imported)."""
    sys.meta_path[:] = [
        finder
        for finder in sys.meta_path
        if not isinstance(finder, (LazyInterfaceFinder, CompatFinder, LaunchFolderGuard))
    ]


def _is_ours(module: ModuleType) -> bool:
    file = getattr(module, "__file__", None) or ""
    return os.path.abspath(file).startswith(_COMPAT_DIR + os.sep)


def bind_compat(names: Sequence[str]) -> None:
    """Import our ``robotfleet_nodes/compat/<name>`` as ``sys.modules[name]`` for each of
    ``names`` (in order), unless it is bound already; a different module of that name (a real
    ROS 2 one, a folder of launch files) and its submodules are dropped from ``sys.modules``
    (objects already holding them keep them)."""
    import importlib.util
    from importlib.machinery import PathFinder

    for name in names:
        if name not in _COMPAT_MODULES:
            raise ValueError(f"{name!r} is not one of the compat modules {sorted(_COMPAT_MODULES)}")
        current = sys.modules.get(name)
        if current is not None and _is_ours(current):
            continue
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        spec = PathFinder.find_spec(name, [_COMPAT_DIR])
        if spec is None or spec.loader is None:
            raise ImportError(f"robotfleet_nodes/compat/{name} is missing")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
