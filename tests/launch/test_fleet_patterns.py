"""The N-robot patterns a fleet launch file needs: chunks over containers, or one process each."""

from __future__ import annotations

import base64
import json
import textwrap
import zlib
from pathlib import Path

import pytest

from robotfleet_nodes.launch import LaunchError, describe_launch, load_launch_file

FLEET = """\
launch:
  - arg: {name: robots, default: "10"}
  - arg: {name: containers, default: "3"}
  - arg: {name: edges, default: composed, choices: [composed, process]}
  - group:
      if: $(equals $(var edges) composed)
      children:
        - for:
            var: part
            from: 1
            to: $(var robots)
            chunks: $(var containers)
            children:
              - container:
                  name: edges_$(var part)
                  composable_node:
                    - for:
                        var: i
                        from: $(var part_from)
                        to: $(var part_to)
                        composable_node:
                          - plugin: robotfleet_nodes.examples.listener:Listener
                            name: edge
                            namespace: /robots/robot-$(var i)
                            param: [{name: robot_id, value: robot-$(var i)}]
  - group:
      if: $(equals $(var edges) process)
      children:
        - for:
            var: i
            from: 1
            to: $(var robots)
            children:
              - node:
                  module: robotfleet_nodes.examples.listener
                  name: edge
                  namespace: /robots/robot-$(var i)
                  param: [{name: robot_id, value: robot-$(var i)}]
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.launch.yaml"
    path.write_text(textwrap.dedent(FLEET))
    return path


def test_robots_are_split_evenly_over_containers(fleet: Path) -> None:
    procs = describe_launch(load_launch_file(fleet))["processes"]
    assert [p["name"] for p in procs] == ["edges_1", "edges_2", "edges_3"]
    specs = [json.loads(p["cmd"][-1]) for p in procs]
    namespaces = [[c["namespace"] for c in s["components"]] for s in specs]
    assert [len(n) for n in namespaces] == [4, 3, 3]
    assert namespaces[0][0] == "/robots/robot-1" and namespaces[2][-1] == "/robots/robot-10"
    assert specs[1]["components"][0]["parameters"] == {"robot_id": "robot-5"}


def test_one_process_per_robot(fleet: Path) -> None:
    procs = describe_launch(load_launch_file(fleet), {"edges": "process", "robots": "1000"})["processes"]
    assert len(procs) == 1000
    assert procs[-1]["cmd"][-4:] == ["-r", "__ns:=/robots/robot-1000", "-p", "robot_id:=robot-1000"]


def test_more_containers_than_robots_and_bad_values(fleet: Path) -> None:
    procs = describe_launch(load_launch_file(fleet), {"robots": "2", "containers": "5"})["processes"]
    assert [p["name"] for p in procs] == ["edges_1", "edges_2"]
    with pytest.raises(
        LaunchError, match=r"fleet.launch.yaml:\d+: for 'part': 'chunks' is 'many', not an integer"
    ):
        describe_launch(load_launch_file(fleet), {"containers": "many"})
    with pytest.raises(LaunchError, match="expected one of composed, process"):
        describe_launch(load_launch_file(fleet), {"edges": "threads"})


def test_a_large_container_spec_is_compressed(fleet: Path) -> None:
    procs = describe_launch(load_launch_file(fleet), {"robots": "1000", "containers": "1"})["processes"]
    cmd = procs[0]["cmd"]
    assert cmd[-2] == "--spec-z" and len(cmd[-1]) < 128 * 1024
    spec = json.loads(zlib.decompress(base64.b64decode(cmd[-1])))
    assert len(spec["components"]) == 1000
