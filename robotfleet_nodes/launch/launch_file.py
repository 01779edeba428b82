"""Loading a launch file by path: ``*.py`` (``generate_launch_description()``), YAML or XML."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from robotfleet_nodes import _import_hook
from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.launch_description import LaunchDescription

__all__ = ["load_launch_file", "load_python_launch_file", "read_launch_text"]

YAML_SUFFIXES = (".yaml", ".yml")


def read_launch_text(path: str | Path) -> str:
    """The text of the launch file at ``path``; a :class:`LaunchError` if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LaunchError(f"cannot read launch file {str(path)!r}: {exc}") from exc


#: The ROS 2 launch packages a Python launch file gets as ours while it loads.
ROS_LAUNCH_MODULES = ("launch", "launch_ros")


def load_python_launch_file(path: str | Path) -> LaunchDescription:
    """Import ``path`` and call its ``generate_launch_description()``.

    ``launch`` and ``launch_ros`` are this package's adapters (``robotfleet_nodes/compat/``)
    from then on in this process, even when a real ROS 2 ``launch`` is importable (or a
    ``launch/`` folder of launch files shadows the name): what the file builds must be
    entities our runtime runs, and they import from these modules again when visited.
    """
    _import_hook.bind_compat(ROS_LAUNCH_MODULES)
    return _load_python_launch_file(Path(path))


def _load_python_launch_file(path: Path) -> LaunchDescription:
    module_name = "_rfos_launch_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise LaunchError(f"{path}: cannot be imported as a Python launch file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except LaunchError:
        raise
    except Exception as exc:
        raise LaunchError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(module_name, None)
    generate = getattr(module, "generate_launch_description", None)
    if not callable(generate):
        raise LaunchError(f"{path}: has no generate_launch_description() function")
    try:
        description = generate()
    except LaunchError:
        raise
    except Exception as exc:
        raise LaunchError(
            f"{path}: generate_launch_description() failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(description, LaunchDescription):
        raise LaunchError(
            f"{path}: generate_launch_description() returned {type(description).__name__}, "
            "not a LaunchDescription"
        )
    return description


def load_launch_file(path: str | Path) -> LaunchDescription:
    """Load the launch file at ``path``, choosing the loader by its suffix."""
    from robotfleet_nodes.launch.xml_loader import XML_SUFFIXES, load_xml_launch_file
    from robotfleet_nodes.launch.yaml_loader import load_yaml_launch_file

    path = Path(path)
    if not path.is_file():
        raise LaunchError(f"launch file {str(path)!r} does not exist")
    if path.suffix == ".py":
        return load_python_launch_file(path)
    if path.suffix in YAML_SUFFIXES:
        return load_yaml_launch_file(path)
    if path.suffix in XML_SUFFIXES:
        return load_xml_launch_file(path)
    raise LaunchError(f"{path}: unknown launch file type: use .py, .yaml, .yml or .xml")
