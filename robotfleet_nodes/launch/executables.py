"""Finding what to run for an executable name (``rfos run NAME`` and a ``Node``'s ``exec``).

Tried in order:

1. a path (contains ``/``): a ``.py`` file runs with this interpreter, anything else as is;
2. a console script in this interpreter's ``bin`` folder (the venv);
3. ``<package>.<name>`` then ``<package>.examples.<name>`` when a package is given, and
   ``robotfleet_nodes.examples.<name>``: run with ``python -m``;
4. a dotted module path (``pkg.mod``): ``python -m pkg.mod``;
5. a program on ``PATH``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from robotfleet_nodes.launch.errors import LaunchError

__all__ = ["module_command", "resolve_executable"]

EXAMPLES_PACKAGE = "robotfleet_nodes.examples"


def module_command(module: str) -> list[str]:
    """``[python, -m, module]`` with this interpreter."""
    return [sys.executable, "-m", module]


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=1024)
def _resolve(name: str, package: str | None) -> tuple[str, ...]:
    if "/" in name:
        path = Path(name).expanduser()
        if not path.exists():
            raise LaunchError(f"executable {name!r} does not exist")
        return (sys.executable, str(path)) if path.suffix == ".py" else (str(path),)
    script = Path(sys.executable).parent / name
    if script.is_file() and os.access(script, os.X_OK):
        return (str(script),)
    candidates = []
    if package:
        candidates += [f"{package}.{name}", f"{package}.examples.{name}"]
    if name.isidentifier():
        candidates.append(f"{EXAMPLES_PACKAGE}.{name}")
    if all(part.isidentifier() for part in name.split(".")):
        candidates.append(name)
    for module in candidates:
        if _module_exists(module):
            return tuple(module_command(module))
    found = shutil.which(name)
    if found:
        return (found,)
    tried = ", ".join([f"{script.parent}/{name}", *(f"python -m {m}" for m in candidates), "PATH"])
    raise LaunchError(f"executable {name!r} not found (tried {tried})")


def resolve_executable(name: str, package: str | None = None) -> list[str]:
    """The command prefix that runs ``name`` (see the module docstring for the search order)."""
    return list(_resolve(name, package))
