"""The YAML launch format: the happy path, loops, includes and errors that point at the key."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from robotfleet_nodes.launch import LaunchError, describe_launch, load_launch_file

FULL = """\
launch:
  - arg: {name: robots, default: "2", description: robots to start}
  - arg: {name: use_sim, default: "true"}
  - let: {name: prefix, value: "robot"}
  - set_env: {name: RFOS_TEST_ZONE, value: zone-1}
  - log: {message: "starting $(var robots) robots"}
  - node:
      pkg: robotfleet_nodes
      exec: talker
      name: chatty
      namespace: demo
      param:
        - {from: params.yaml}
        - {name: rate, value: 2.5}
        - {name: label, value: "$(var prefix)"}
        - {name: enabled, value: true}
      remap:
        - {from: chatter, to: /news}
      args: "--verbose --count 3"
      respawn: true
      respawn_delay: 1.5
      output: screen
  - executable: {cmd: "/bin/echo hello", name: echo, unless: "$(var use_sim)"}
  - group:
      namespace: /robots
      children:
        - for:
            var: i
            from: 1
            to: $(var robots)
            children:
              - node: {module: robotfleet_nodes.examples.listener, name: "$(var prefix)_$(var i)",
                       namespace: "$(var prefix)-$(var i)"}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_full_file_resolves_to_ros_command_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo.launch.yaml", FULL)
    out = describe_launch(load_launch_file(path), {"robots": "3"}, source=path)
    assert out["log"] == ["starting 3 robots"]
    procs = out["processes"]
    assert [p["name"] for p in procs] == ["chatty", "robot_1", "robot_2", "robot_3"]
    talker = procs[0]
    # pkg/exec resolve like ros2 run: the venv's ament index (`make setup` installs it).
    assert talker["cmd"][:1] == [str(Path(sys.prefix) / "lib" / "robotfleet_nodes" / "talker")]
    assert talker["cmd"][1:] == [
        "--verbose", "--count", "3",
        "--ros-args",
        "-r", "__node:=chatty",
        "-r", "__ns:=/demo",
        "-r", "chatter:=/news",
        "--params-file", str(tmp_path / "params.yaml"),
        "-p", "rate:=2.5",
        "-p", "label:=robot",
        "-p", "enabled:=true",
    ]  # fmt: skip
    assert talker["env"] == {"RFOS_TEST_ZONE": "zone-1"}
    assert talker["respawn"] == {"delay": 1.5, "max_retries": -1}
    assert talker["output"] == "screen"
    assert procs[2]["cmd"][-4:] == ["-r", "__node:=robot_2", "-r", "__ns:=/robots/robot-2"]
    assert [p["name"] for p in describe_launch(load_launch_file(path), {"use_sim": "false"})["processes"]][
        :2
    ] == [
        "chatty",
        "echo",
    ]


def test_include_passes_arguments_and_stays_scoped(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "robot.launch.py",
        """
        from robotfleet_nodes.launch import DeclareLaunchArgument, LaunchDescription, Node

        def generate_launch_description():
            return LaunchDescription([
                DeclareLaunchArgument("robot_id"),
                Node("talker", package="robotfleet_nodes", name="edge", namespace="$(var robot_id)"),
            ])
        """,
    )
    path = _write(
        tmp_path,
        "top.launch.yaml",
        """
        launch:
          - group:
              namespace: fleet
              children:
                - include: {file: robot.launch.py, arg: [{name: robot_id, value: robot-7}]}
          - log: {message: "after include"}
        """,
    )
    out = describe_launch(load_launch_file(path), source=path)
    assert out["processes"][0]["cmd"][-4:] == ["-r", "__node:=edge", "-r", "__ns:=/fleet/robot-7"]
    assert "robot_id" not in out["arguments"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "launch:\n  - node: {exec: talker, pakg: x}\n",
            r":2: tag 'node': unknown key 'pakg' \(known: .*pkg",
        ),
        ("launch:\n  - nod: {exec: talker}\n", r":2: tag 'nod': unknown tag \(known: arg, container"),
        ("launch:\n  - arg: {default: x}\n", r":2: tag 'arg': missing key 'name'"),
        (
            "launch:\n  - log: {message: a}\n  - node:\n      exec: t\n      remap: [{from: a}]\n",
            r":5: .*'to'",
        ),
        ("launch:\n  - node: {exec: talker, respawn_delay: soon}\n", r"'respawn_delay' must be a number"),
        ("nodes: []\n", r":1: tag 'launch': a YAML launch file is a mapping with one key"),
        ("launch:\n  - for: {var: i, children: []}\n", r"give either 'values'"),
    ],
)
def test_bad_files_name_the_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "bad.launch.yaml", text)
    with pytest.raises(LaunchError, match=message) as info:
        load_launch_file(path)
    assert str(info.value).startswith(str(path))


def test_a_key_given_twice_names_file_line_and_key(tmp_path: Path) -> None:
    text = "launch:\n  - node:\n      exec: talker\n      name: a\n      name: b\n"
    path = _write(tmp_path, "twice.launch.yaml", text)
    expected = rf"^{path}:5: invalid YAML: key 'name' given twice \(first on line 4\)$"
    with pytest.raises(LaunchError, match=expected):
        load_launch_file(path)


def test_visit_errors_carry_the_file_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "x.launch.yaml", "launch:\n  - arg: {name: a, default: '1'}\n  - log: {message: $(var b)}\n"
    )
    with pytest.raises(LaunchError, match=rf"{path}:3: unknown launch argument 'b' \(declared: a\)"):
        describe_launch(load_launch_file(path))


def test_container_and_values_loop(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "c.launch.yaml",
        """
        launch:
          - for:
              var: zone
              values: [a, b]
              children:
                - container:
                    name: edges_$(var zone)
                    composable_node:
                      - plugin: robotfleet_nodes.examples.talker:Talker
                        name: talker_$(var zone)
                        param: [{name: rate, value: 3}]
                        remap: [{from: chatter, to: chat}]
        """,
    )
    out = describe_launch(load_launch_file(path))
    assert [p["name"] for p in out["processes"]] == ["edges_a", "edges_b"]
    spec = out["processes"][1]["cmd"]
    assert spec[1:4] == ["-m", "robotfleet_nodes.launch._container_main", "--spec"]
    assert '"name":"talker_b"' in spec[4] and '"remap_rules":["chatter:=chat"]' in spec[4]


def test_python_loader_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, "nogen.launch.py", "x = 1\n")
    with pytest.raises(LaunchError, match="has no generate_launch_description"):
        load_launch_file(path)
    path = _write(tmp_path, "wrong.launch.py", "def generate_launch_description():\n    return []\n")
    with pytest.raises(LaunchError, match="returned list, not a LaunchDescription"):
        load_launch_file(path)
    with pytest.raises(LaunchError, match="unknown launch file type"):
        load_launch_file(_write(tmp_path, "x.launch.toml", "[launch]"))
