#!/usr/bin/env python3
"""Install robotfleet_nodes into a prefix's ament index, as colcon installs an ament_python package.

``pip install -e`` installs none of ``setup.py``'s ``data_files``; ``make setup`` runs this
afterwards so the venv is a ROS 2 install prefix:

- ``<prefix>/share/ament_index/resource_index/packages/robotfleet_nodes`` and
  ``<prefix>/share/robotfleet_nodes/...`` (package.xml, launch, config, msg/srv/action):
  exactly ``setup.py``'s ``data_files``, read with ``distutils.core.run_setup``;
- ``<prefix>/lib/robotfleet_nodes/<exec>``: one script per node executable (the console
  scripts of ``setup.py`` but ``rfos``, and each ``robotfleet_nodes/examples/<name>.py``
  with a ``main()``), so ``pkg: robotfleet_nodes exec: talker`` resolves like ``ros2 run``.

Share files are symlinks into this checkout (colcon's ``--symlink-install``; an editable
install), or copies with ``--copy``. Idempotent: files already right are left alone,
executables this script wrote before and no longer declares are removed. Prints one line
when something changed.

Usage: python scripts/install_ament_package.py [--prefix PREFIX] [--copy]
(default prefix: this interpreter's ``sys.prefix``, the venv).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

PACKAGE = "robotfleet_nodes"
ROOT = Path(__file__).resolve().parent.parent
#: Console scripts that are tools, not node executables.
NOT_NODES = frozenset({"rfos"})
#: The second line of every executable this script writes (how stale ones are recognised).
MARKER = f"# {PACKAGE} executable written by scripts/install_ament_package.py"
_MAIN = re.compile(r"^def main\(", re.MULTILINE)


def read_setup() -> tuple[list[tuple[str, list[str]]], list[str]]:
    """``setup.py``'s ``data_files`` (``(folder below the prefix, [source files])``) and console scripts."""
    importlib.import_module("setuptools")  # its distutils (the only one on Python >= 3.12)
    core: Any = importlib.import_module("distutils.core")
    cwd = os.getcwd()
    os.chdir(ROOT)  # setup.py globs relative paths
    try:
        dist = core.run_setup(str(ROOT / "setup.py"), stop_after="init")
    finally:
        os.chdir(cwd)
    out: list[tuple[str, list[str]]] = []
    for folder, files in dist.data_files or []:
        out.append((folder, [str(ROOT / f) for f in files]))
    scripts: list[str] = list((dist.entry_points or {}).get("console_scripts", []))
    return out, scripts


def node_entry_points(console_scripts: list[str]) -> dict[str, str]:
    """Executable name -> ``module:function`` for every node executable."""
    entries: dict[str, str] = {}
    for line in console_scripts:
        name, _, target = (part.strip() for part in line.partition("="))
        if name not in NOT_NODES:
            entries[name] = target.replace(" ", "")
    for path in sorted((ROOT / PACKAGE / "examples").glob("[!_]*.py")):
        if _MAIN.search(path.read_text(encoding="utf-8")):
            entries.setdefault(path.stem, f"{PACKAGE}.examples.{path.stem}:main")
    return entries


def script_text(python: str, name: str, target: str) -> str:
    """The text of executable ``name`` running ``module:function`` ``target``."""
    module, _, function = target.partition(":")
    return (
        f"#!{python}\n{MARKER}\n# {name}: {target}\n"
        f"import sys\n\nfrom {module} import {function}\n\n"
        f'if __name__ == "__main__":\n    sys.exit({function}())\n'
    )


def _place(source: Path, target: Path, *, copy: bool) -> bool:
    """Put ``source`` at ``target`` (a symlink or a copy); True if something changed."""
    if copy:
        if target.is_file() and not target.is_symlink() and target.read_bytes() == source.read_bytes():
            return False
        if target.is_symlink():
            target.unlink()
        shutil.copyfile(source, target)
        return True
    if target.is_symlink() and Path(os.readlink(target)) == source:
        return False
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(source)
    return True


def install(prefix: Path, *, copy: bool = False, python: str | None = None) -> int:
    """Install into ``prefix``; returns how many files changed."""
    data_files, console_scripts = read_setup()
    changed = 0
    for folder, files in data_files:
        destination = prefix / folder
        destination.mkdir(parents=True, exist_ok=True)
        for source in map(Path, files):
            changed += _place(source, destination / source.name, copy=copy)
    bin_python = prefix / "bin" / "python"
    interpreter = python or (str(bin_python) if bin_python.exists() else sys.executable)
    lib = prefix / "lib" / PACKAGE
    lib.mkdir(parents=True, exist_ok=True)
    entries = node_entry_points(console_scripts)
    for name, target in entries.items():
        path = lib / name
        text = script_text(interpreter, name, target)
        if not (path.is_file() and path.read_text(encoding="utf-8") == text):
            path.write_text(text, encoding="utf-8")
            changed += 1
        if path.stat().st_mode & 0o777 != 0o755:
            path.chmod(0o755)
    for path in lib.iterdir():  # executables this script wrote that are no longer declared
        if path.name not in entries and path.is_file() and _written_here(path):
            path.unlink()
            changed += 1
    return changed


def _written_here(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            handle.readline()
            return handle.readline().rstrip("\n") == MARKER
    except (OSError, UnicodeDecodeError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--prefix", type=Path, default=Path(sys.prefix), help="install prefix (default: %(default)s)"
    )
    parser.add_argument("--copy", action="store_true", help="copy share files instead of symlinking them")
    args = parser.parse_args(argv)
    prefix = args.prefix.resolve()
    changed = install(prefix, copy=args.copy)
    if changed:
        print(f"{PACKAGE}: ament index, share files and executables in {prefix} ({changed} files updated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
