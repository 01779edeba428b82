"""Finding what to run for an executable name (``rfos run`` and a ``Node``'s ``exec``).

With a package (``pkg``/``package``), as ``ros2 run PKG EXEC`` does: the package in the
ament index (``$AMENT_PREFIX_PATH``, then ``sys.prefix``), the executable in
``<prefix>/lib/<package>/``. Nothing else is tried: an unknown package or executable is a
:class:`LaunchError` naming both and what was searched.

Without a package, as launch runs a bare command, tried in order:

1. a path (contains ``/``): a ``.py`` file runs with this interpreter, anything else as is;
2. a console script in this interpreter's ``bin`` folder (the venv);
3. a dotted module path (``pkg.mod``): ``python -m pkg.mod``;
4. a program on ``PATH``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from robotfleet_nodes.ament_index import (
    ExecutableNotFoundError,
    PackageNotFoundError,
    find_executable,
    get_search_paths,
)
from robotfleet_nodes.launch.errors import LaunchError

__all__ = ["module_command", "resolve_executable"]


def module_command(module: str) -> list[str]:
    """``[python, -m, module]`` with this interpreter."""
    return [sys.executable, "-m", module]


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=1024)
def _in_package(package: str, name: str, _search: tuple[str, ...]) -> tuple[str, ...]:
    # _search (the prefixes) is part of the key: a changed AMENT_PREFIX_PATH looks again.
    try:
        return (find_executable(package, name),)
    except (PackageNotFoundError, ExecutableNotFoundError, ValueError) as exc:
        raise LaunchError(f"executable {name!r} of package {package!r} not found: {exc.args[0]}") from None


@functools.lru_cache(maxsize=1024)
def _bare(name: str) -> tuple[str, ...]:
    if "/" in name:
        path = Path(name).expanduser()
        if not path.exists():
            raise LaunchError(f"executable {name!r} does not exist")
        return (sys.executable, str(path)) if path.suffix == ".py" else (str(path),)
    script = Path(sys.executable).parent / name
    if script.is_file() and os.access(script, os.X_OK):
        return (str(script),)
    dotted = "." in name and all(part.isidentifier() for part in name.split("."))
    if dotted and _module_exists(name):
        return tuple(module_command(name))
    found = shutil.which(name)
    if found:
        return (found,)
    tried = [f"{script.parent}/{name}", *([f"python -m {name}"] if dotted else []), "PATH"]
    raise LaunchError(
        f"executable {name!r} not found (tried {', '.join(tried)}); "
        "an executable of a package needs its package (pkg: ..., rfos run PKG EXEC)"
    )


def resolve_executable(name: str, package: str | None = None) -> list[str]:
    """The command prefix that runs ``name`` (see the module docstring for the search order)."""
    if package:
        return list(_in_package(package, name, tuple(get_search_paths())))
    return list(_bare(name))
