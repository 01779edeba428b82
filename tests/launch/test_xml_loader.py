"""The XML launch format: the same entities as the YAML twin, and errors with line numbers."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_yaml_loader import FULL

from robotfleet_nodes.launch import LaunchError, describe_launch, load_launch_file

FULL_XML = """\
<launch>
  <arg name="robots" default="2" description="robots to start"/>
  <arg name="use_sim" default="true"/>
  <let name="prefix" value="robot"/>
  <set_env name="RFOS_TEST_ZONE" value="zone-1"/>
  <log message="starting $(var robots) robots"/>
  <node pkg="robotfleet_nodes" exec="talker" name="chatty" namespace="demo"
        args="--verbose --count 3" respawn="true" respawn_delay="1.5" output="screen">
    <param from="params.yaml"/>
    <param name="rate" value="2.5"/>
    <param name="label" value="$(var prefix)"/>
    <param name="enabled" value="true"/>
    <remap from="chatter" to="/news"/>
  </node>
  <executable cmd="/bin/echo hello" name="echo" unless="$(var use_sim)"/>
  <group namespace="/robots">
    <for var="i" from="1" to="$(var robots)">
      <node module="robotfleet_nodes.examples.listener" name="$(var prefix)_$(var i)"
            namespace="$(var prefix)-$(var i)"/>
    </for>
  </group>
</launch>
"""

CONTAINERS_YAML = """\
launch:
  - arg: {name: robots, default: "5"}
  - for:
      var: part
      from: 1
      to: $(var robots)
      chunks: "2"
      children:
        - container:
            name: edges_$(var part)
            env: [{name: RFOS_X, value: "1"}]
            composable_node:
              - plugin: robotfleet_nodes.examples.talker:Talker
                name: first
              - for:
                  var: i
                  from: $(var part_from)
                  to: $(var part_to)
                  composable_node:
                    - plugin: robotfleet_nodes.edge.node:EdgeNode
                      name: edge
                      namespace: /robots/robot-$(var i)
                      param: [{name: robot_id, value: robot-$(var i)}, {name: rate, value: 2}]
"""

CONTAINERS_XML = """\
<launch>
  <arg name="robots" default="5"/>
  <for var="part" from="1" to="$(var robots)" chunks="2">
    <node_container name="edges_$(var part)">
      <env name="RFOS_X" value="1"/>
      <composable_node plugin="robotfleet_nodes.examples.talker:Talker" name="first"/>
      <for var="i" from="$(var part_from)" to="$(var part_to)">
        <composable_node plugin="robotfleet_nodes.edge.node:EdgeNode" name="edge"
                         namespace="/robots/robot-$(var i)">
          <param name="robot_id" value="robot-$(var i)"/>
          <param name="rate" value="2"/>
        </composable_node>
      </for>
    </node_container>
  </for>
</launch>
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _described(path: Path, args: dict[str, str] | None = None) -> dict[str, Any]:
    out = describe_launch(load_launch_file(path), args or {}, source=path)
    for proc in out["processes"]:  # the same command, whichever file it came from
        proc.pop("origin", None)
    return out


@pytest.mark.parametrize("args", [{"robots": "3"}, {"use_sim": "false"}])
def test_xml_file_describes_the_same_launch_as_its_yaml_twin(tmp_path: Path, args: dict[str, str]) -> None:
    yaml_out = _described(_write(tmp_path, "demo.launch.yaml", FULL), args)
    xml_out = _described(_write(tmp_path, "demo.launch.xml", FULL_XML), args)
    assert xml_out == yaml_out
    assert len(xml_out["processes"]) >= 3


def test_xml_containers_and_composable_loops_match_yaml(tmp_path: Path) -> None:
    yaml_out = _described(_write(tmp_path, "c.launch.yaml", CONTAINERS_YAML))
    xml_out = _described(_write(tmp_path, "c.launch.xml", CONTAINERS_XML))
    assert xml_out == yaml_out
    assert [p["name"] for p in xml_out["processes"]] == ["edges_1", "edges_2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<launch>\n  <node exec='talker' pakg='x'/>\n</launch>\n", r":2: tag 'node': unknown key 'pakg'"),
        ("<launch>\n  <nod exec='talker'/>\n</launch>\n", r":2: tag 'nod': unknown tag"),
        ("<launch>\n  <node exec='talker'>\n</launch>\n", r":3: not valid XML: mismatched tag"),
        ("<robot/>\n", r":1: tag 'robot': an XML launch file's root element is <launch>"),
        ("<launch>\n  <log message='x'>hello</log>\n</launch>\n", r":2: tag 'log': unexpected text 'hello'"),
        ("<launch>\n  <arg default='1'/>\n</launch>\n", r":2: tag 'arg': missing key 'name'"),
    ],
)
def test_xml_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "bad.launch.xml", text)
    with pytest.raises(LaunchError, match=message):
        describe_launch(load_launch_file(path), {}, source=path)


def test_xml_arg_choices_and_group_scoping(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "choices.launch.xml",
        """\
        <launch>
          <arg name="mode" default="a"><choice value="a"/><choice value="b"/></arg>
          <group scoped="false"><let name="leak" value="yes"/></group>
          <log message="$(var mode) $(var leak)"/>
        </launch>
        """,
    )
    assert describe_launch(load_launch_file(path), {"mode": "b"}, source=path)["log"] == ["b yes"]
    with pytest.raises(LaunchError, match=r"'c'.*a, b|a, b.*'c'"):
        describe_launch(load_launch_file(path), {"mode": "c"}, source=path)
