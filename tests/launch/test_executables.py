"""``pkg``/``exec`` resolve like ``ros2 run``: the ament index, never another program.

Prefixes are built in ``tmp_path`` and put on ``AMENT_PREFIX_PATH``; the venv itself is an
ament prefix once ``make setup`` ran (``scripts/install_ament_package.py``).
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from launch_helpers import ServiceFactory

from robotfleet_nodes.cli.main import main
from robotfleet_nodes.launch import LaunchError, describe_launch, load_launch_file, resolve_executable


def make_prefix(root: Path, package: str, executables: dict[str, str]) -> Path:
    """An install prefix holding ``package`` with executable scripts ``name -> text``."""
    index = root / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    (index / package).write_text("", encoding="utf-8")
    lib = root / "lib" / package
    lib.mkdir(parents=True)
    for name, text in executables.items():
        path = lib / name
        path.write_text(f"#!{sys.executable}\n{text}", encoding="utf-8")
        path.chmod(0o755)
    return root


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("unknown.launch.yaml", "launch:\n  - node: {pkg: demo_nodes_cpp, exec: talker}\n"),
        ("unknown.launch.xml", '<launch>\n  <node pkg="demo_nodes_cpp" exec="talker"/>\n</launch>\n'),
    ],
)
def test_an_unknown_package_fails_with_both_names_and_the_prefixes_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    # The case: this used to run our own example talker.
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(make_prefix(tmp_path / "install", "other_pkg", {})))
    path = _write(tmp_path, name, text)
    with pytest.raises(LaunchError) as err:
        describe_launch(load_launch_file(path), {}, source=path)
    message = str(err.value)
    assert f"{path}:2:" in message
    assert "executable 'talker' of package 'demo_nodes_cpp' not found" in message
    assert str(tmp_path / "install") in message and sys.prefix in message
    assert "AMENT_PREFIX_PATH" in message


def test_an_unknown_executable_names_the_folder_and_what_it_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = make_prefix(tmp_path / "install", "demo_pkg", {"hello": "print('hi')\n", "bye": ""})
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    with pytest.raises(LaunchError) as err:
        resolve_executable("talker", "demo_pkg")
    message = str(err.value)
    assert "executable 'talker' of package 'demo_pkg' not found" in message
    assert str(prefix / "lib" / "demo_pkg") in message
    assert "(it has: bye, hello)" in message


def test_an_executable_is_found_in_the_first_prefix_that_has_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_prefix(tmp_path / "overlay", "demo_pkg", {"hello": ""})
    second = make_prefix(tmp_path / "underlay", "demo_pkg", {"hello": ""})
    monkeypatch.setenv("AMENT_PREFIX_PATH", os.pathsep.join([str(first), str(second)]))
    assert resolve_executable("hello", "demo_pkg") == [str(first / "lib" / "demo_pkg" / "hello")]
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(second))  # a changed path is looked up again
    assert resolve_executable("hello", "demo_pkg") == [str(second / "lib" / "demo_pkg" / "hello")]


def test_no_fallback_to_our_examples_without_a_package() -> None:
    with pytest.raises(LaunchError, match=r"executable 'talker' not found .*needs its package"):
        resolve_executable("talker")


def test_our_examples_and_tiers_are_in_the_venvs_index() -> None:
    lib = Path(sys.prefix) / "lib" / "robotfleet_nodes"
    for name in ("talker", "listener", "fleet", "area", "zone", "edge"):
        assert resolve_executable(name, "robotfleet_nodes") == [str(lib / name)], "run `make setup`"


async def test_a_node_of_an_indexed_package_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: ServiceFactory
) -> None:
    program = "import sys\nprint('hello from', sys.argv[0], sys.argv[1:])\n"
    prefix = make_prefix(tmp_path / "install", "demo_pkg", {"hello": program})
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    path = _write(
        tmp_path,
        "hello.launch.yaml",
        "launch:\n  - node: {pkg: demo_pkg, exec: hello, name: greeter, args: x, output: screen}\n",
    )
    svc, out = service(load_launch_file(path), source=path)
    assert await svc.run_async() == 0
    text = out.getvalue()
    assert (
        f"hello from {prefix / 'lib' / 'demo_pkg' / 'hello'} ['x', '--ros-args', '-r', '__node:=greeter']"
        in text
    )


def test_rfos_run_takes_pkg_and_exec_like_ros2_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    program = "import sys\nprint('args', sys.argv[1:])\nsys.exit(3)\n"
    monkeypatch.setenv(
        "AMENT_PREFIX_PATH", str(make_prefix(tmp_path / "install", "demo_pkg", {"hello": program}))
    )
    assert main(["run", "demo_pkg", "hello", "a", "--ros-args", "-r", "__node:=h"]) == 3
    assert "args ['a', '--ros-args', '-r', '__node:=h']" in capfd.readouterr().out
    assert main(["run", "demo_nodes_cpp", "talker"]) == 1
    err = capfd.readouterr().err
    assert "executable 'talker' of package 'demo_nodes_cpp' not found" in err
    assert main(["run", "demo_pkg", "talker"]) == 1
    assert "package 'demo_pkg'" in capfd.readouterr().err


def test_an_indexed_executable_can_be_forked_by_the_fork_server(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "fork.launch.yaml",
        "launch:\n  - node: {pkg: robotfleet_nodes, exec: edge, forkserver: true}\n",
    )
    (spec,) = describe_launch(load_launch_file(path), {}, source=path)["processes"]
    assert spec["forkserver"] == {"entry": "robotfleet_nodes.edge.main:main", "argv": []}
