"""An edge's zone from a zone map (``zone_map`` / ``EDGE_ZONE_MAP``): robots.csv or a mounted ConfigMap."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotfleet_nodes.config import load_config
from robotfleet_nodes.config.generate import generate_deployment
from robotfleet_nodes.errors import ConfigError

CSV = "robot_id,zone_id\nrobot-1,zone-1\nrobot-2,zone-1\nrobot-3,zone-2\n"


def _csv(tmp_path: Path, text: str = CSV) -> Path:
    path = tmp_path / "robots.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _directory(tmp_path: Path, entries: dict[str, str]) -> Path:
    """A ConfigMap as kubelet mounts it: one file per key."""
    mount = tmp_path / "robot-zone-map"
    mount.mkdir()
    for robot, zone in entries.items():
        (mount / robot).write_text(zone, encoding="utf-8")
    return mount


def test_zone_from_a_csv_by_robot_id(tmp_path: Path) -> None:
    env = {"EDGE_ROBOT_ID": "robot-3", "EDGE_ZONE_MAP": str(_csv(tmp_path))}
    config = load_config("edge", environ=env)
    assert (config.robot_id, config.zone_id) == ("robot-3", "zone-2")


def test_zone_from_a_mounted_configmap_directory(tmp_path: Path) -> None:
    mount = _directory(tmp_path, {"robot-1": "zone-1", "robot-7": "zone-4\n"})
    config = load_config("edge", environ={"EDGE_ROBOT_ID": "robot-7", "EDGE_ZONE_MAP": str(mount)})
    assert config.zone_id == "zone-4"


def test_zone_map_in_the_file_is_relative_to_it(tmp_path: Path) -> None:
    _csv(tmp_path)
    path = tmp_path / "edge.yaml"
    path.write_text("robot_id: robot-2\nzone_map: robots.csv\n", encoding="utf-8")
    config = load_config("edge", path, environ={})
    assert config.zone_id == "zone-1"
    assert config.zone_map == str(tmp_path / "robots.csv")


def test_every_robot_of_a_generated_deployment_finds_its_zone(tmp_path: Path) -> None:
    summary = generate_deployment(tmp_path / "d", robots=7, zones=3, secure=False)
    csv_path = str(tmp_path / "d" / "robots.csv")
    for zone, robots in summary.zones.items():
        for robot in robots:
            config = load_config("edge", environ={"EDGE_ROBOT_ID": robot, "EDGE_ZONE_MAP": csv_path})
            assert config.zone_id == zone


def test_explicit_edge_zone_id_wins_over_the_map(tmp_path: Path) -> None:
    env = {"EDGE_ROBOT_ID": "robot-3", "EDGE_ZONE_MAP": str(_csv(tmp_path)), "EDGE_ZONE_ID": "zone-9"}
    assert load_config("edge", environ=env).zone_id == "zone-9"


def test_env_map_wins_over_the_files_zone_id(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("robot_id: robot-3\nzone_id: zone-1\n", encoding="utf-8")
    config = load_config("edge", path, environ={"EDGE_ZONE_MAP": str(_csv(tmp_path))})
    assert config.zone_id == "zone-2"


def test_zone_id_and_zone_map_in_one_file_is_an_error(tmp_path: Path) -> None:
    _csv(tmp_path)
    path = tmp_path / "edge.yaml"
    path.write_text("robot_id: robot-3\nzone_id: zone-1\nzone_map: robots.csv\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"edge\.yaml: zone_id and zone_map are both set: keep one"):
        load_config("edge", path, environ={})


@pytest.mark.parametrize("kind", ["csv", "directory"])
def test_robot_missing_from_the_map_names_robot_and_map(tmp_path: Path, kind: str) -> None:
    where = _csv(tmp_path) if kind == "csv" else _directory(tmp_path, {"robot-1": "zone-1"})
    env = {"EDGE_ROBOT_ID": "robot-99", "EDGE_ZONE_MAP": str(where)}
    expected = r"^EDGE_ZONE_MAP: robot 'robot-99' is not in the zone map .*EDGE_ZONE_ID"
    with pytest.raises(ConfigError, match=expected):
        load_config("edge", environ=env)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("robot,zone\nrobot-1,zone-1\n", r"robots\.csv:1: expected the header 'robot_id,zone_id'"),
        ("", r"robots\.csv:1: expected the header"),
        ("robot_id,zone_id\nrobot-1,zone-1,x\n", r"robots\.csv:2: expected 'robot_id,zone_id'"),
        ("robot_id,zone_id\nrobot-1,-bad\n", r"robot-1: '-bad' is not a valid zone id"),
    ],
)
def test_malformed_csv(tmp_path: Path, text: str, expected: str) -> None:
    env = {"EDGE_ROBOT_ID": "robot-1", "EDGE_ZONE_MAP": str(_csv(tmp_path, text))}
    with pytest.raises(ConfigError, match=expected):
        load_config("edge", environ=env)


def test_missing_map(tmp_path: Path) -> None:
    env = {"EDGE_ZONE_MAP": str(tmp_path / "nope.csv")}
    with pytest.raises(ConfigError, match=r"^EDGE_ZONE_MAP: no zone map at .*nope\.csv"):
        load_config("edge", environ=env)


def test_empty_entry_in_a_directory(tmp_path: Path) -> None:
    mount = _directory(tmp_path, {"robot-1": "\n"})
    with pytest.raises(ConfigError, match=r"robot-1 is empty: it must hold the zone id of robot-1"):
        load_config("edge", environ={"EDGE_ZONE_MAP": str(mount)})


def test_other_tiers_ignore_edge_zone_map(tmp_path: Path) -> None:
    assert load_config("zone", environ={"EDGE_ZONE_MAP": str(tmp_path / "nope")}).zone_id == "zone-1"
