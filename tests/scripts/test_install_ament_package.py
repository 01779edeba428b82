"""``scripts/install_ament_package.py`` (run by ``make setup``): the venv as an ament prefix."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install_ament_package.py"
PACKAGE = "robotfleet_nodes"
NODES = {"talker", "listener", "add_two_ints_client", "add_two_ints_server", "fibonacci"} | {
    "fleet",
    "area",
    "zone",
    "edge",
}


def _install(prefix: Path, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--prefix", str(prefix), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_installs_the_index_share_files_and_executables_idempotently(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    assert "files updated" in _install(prefix)
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE).is_file()
    share = prefix / "share" / PACKAGE
    assert (share / "package.xml").read_bytes() == (ROOT / "package.xml").read_bytes()
    for launch_file in (ROOT / "launch").glob("*.launch.*"):
        assert (share / "launch" / launch_file.name).resolve() == launch_file
    assert {p.name for p in (share / "msg").iterdir()} == {p.name for p in (ROOT / "msg").glob("*.msg")}
    assert (share / "srv").is_dir() and (share / "action").is_dir()
    lib = prefix / "lib" / PACKAGE
    assert {p.name for p in lib.iterdir()} == NODES
    for path in lib.iterdir():
        assert os.access(path, os.X_OK)
        target = path.read_text(encoding="utf-8").splitlines()[2].split(": ", 1)[1]
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), path
    assert _install(prefix) == ""  # nothing to do the second time


def test_stale_executables_it_wrote_go_and_foreign_files_stay(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    _install(prefix, "--copy")
    lib = prefix / "lib" / PACKAGE
    stale = lib / "old_node"
    stale.write_text((lib / "talker").read_text(encoding="utf-8"), encoding="utf-8")
    foreign = lib / "mine"
    foreign.write_text("#!/bin/sh\necho mine\n", encoding="utf-8")
    (prefix / "share" / PACKAGE / "package.xml").write_text("changed", encoding="utf-8")
    assert "files updated" in _install(prefix, "--copy")
    assert not stale.exists() and foreign.exists()
    assert (prefix / "share" / PACKAGE / "package.xml").read_bytes() == (ROOT / "package.xml").read_bytes()


def test_ament_index_python_finds_the_installed_package(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    _install(prefix)
    code = (
        "import json, ament_index_python as a;"
        f"print(json.dumps([a.get_package_share_directory('{PACKAGE}'), a.get_package_prefix('{PACKAGE}')]))"
    )
    env = {**os.environ, "AMENT_PREFIX_PATH": str(prefix)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert json.loads(out) == [str(prefix / "share" / PACKAGE), str(prefix)]


def test_the_venv_is_an_ament_prefix_after_make_setup() -> None:
    code = f"import ament_index_python as a; print(a.get_package_share_directory('{PACKAGE}'))"
    env = {k: v for k, v in os.environ.items() if k != "AMENT_PREFIX_PATH"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, f"run `make setup`: {out.stderr}"
    share = Path(out.stdout.strip())
    assert share == Path(sys.prefix) / "share" / PACKAGE
    assert (share / "launch" / "talker_listener.launch.yaml").is_file()
