"""Tier configuration: defaults, the seed's environment overrides, errors naming file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from robotfleet_nodes.config import (
    DEFAULT_BROKER,
    AreaConfig,
    EdgeConfig,
    FleetConfig,
    MessagingConfig,
    ZoneConfig,
    check_id,
    load_config,
)
from robotfleet_nodes.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
KINDS = ["fleet", "area", "zone", "edge"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults and the shipped files -----------------------------------------------------------


def test_defaults_form_a_one_robot_stack() -> None:
    fleet = load_config("fleet", environ={})
    area = load_config("area", environ={})
    zone = load_config("zone", environ={})
    edge = load_config("edge", environ={})
    assert isinstance(fleet, FleetConfig)
    assert fleet.http.port == 8080
    assert fleet.areas == [area.area_id] == ["area-1"]
    assert area.zones == [zone.zone_id] == ["zone-1"]
    assert zone.robots == [edge.robot_id] == ["robot-1"]
    assert edge.zone_id == zone.zone_id
    for config in (fleet, area, zone, edge):
        assert config.messaging.broker == DEFAULT_BROKER == "nats://localhost:4222"


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_default_files_load_and_match_the_defaults(kind: str) -> None:
    path = REPO / "config" / f"{kind}.yaml"
    assert load_config(kind, path, environ={}) == load_config(kind, environ={})


@pytest.mark.parametrize(
    ("kind", "var", "cls"),
    [
        ("fleet", "FLEET_CONFIG", FleetConfig),
        ("area", "AREA_CONFIG", AreaConfig),
        ("zone", "ZONE_CONFIG", ZoneConfig),
        ("edge", "EDGE_CONFIG", EdgeConfig),
    ],
)
def test_file_named_by_env_var(tmp_path: Path, kind: str, var: str, cls: type) -> None:
    path = _write(tmp_path / "x.yaml", "log_level: debug\n")
    config = load_config(kind, environ={var: str(path)})
    assert isinstance(config, cls)
    assert config.log_level == "DEBUG"


def test_explicit_path_wins_over_env_var(tmp_path: Path) -> None:
    path = _write(tmp_path / "z.yaml", "zone_id: zone-7\n")
    config = load_config("zone", path, environ={"ZONE_CONFIG": str(tmp_path / "missing.yaml")})
    assert config.zone_id == "zone-7"


def test_reads_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "e.yaml", "robot_id: robot-5\nzone_id: zone-2\n")
    monkeypatch.setenv("EDGE_CONFIG", str(path))
    monkeypatch.setenv("MESSAGING_URL", "nats://nats:4222")
    config = load_config("edge")
    assert (config.robot_id, config.zone_id, config.messaging.broker) == (
        "robot-5",
        "zone-2",
        "nats://nats:4222",
    )


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_config("area", _write(tmp_path / "a.yaml", "# nothing\n"), environ={}) == AreaConfig()


# --- the seed's environment overrides -----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_messaging_url_overrides_broker_of_every_tier(tmp_path: Path, kind: str) -> None:
    path = _write(tmp_path / "c.yaml", "messaging:\n  broker: nats://elsewhere:4222\n")
    config = load_config(kind, path, environ={"MESSAGING_URL": "nats://nats:4222"})
    assert config.messaging.broker == "nats://nats:4222"


def test_messaging_url_without_file() -> None:
    config = load_config("fleet", environ={"MESSAGING_URL": "nats://localhost:4222"})
    assert config.messaging.broker == "nats://localhost:4222"


def test_messaging_url_accepts_a_server_list() -> None:
    config = load_config("zone", environ={"MESSAGING_URL": "nats://a:4222, tls://b:4443"})
    assert config.messaging.broker == "nats://a:4222,tls://b:4443"


def test_edge_robot_and_zone_ids_from_env_option_b() -> None:
    env = {"EDGE_ROBOT_ID": "robot-1", "EDGE_ZONE_ID": "zone-1", "MESSAGING_URL": "nats://localhost:4222"}
    config = load_config("edge", environ=env)
    assert (config.robot_id, config.zone_id) == ("robot-1", "zone-1")


def test_edge_env_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "robot-1.yaml", "robot_id: robot-1\nzone_id: zone-1\n")
    config = load_config("edge", environ={"EDGE_CONFIG": str(path), "EDGE_ROBOT_ID": "robot-9"})
    assert (config.robot_id, config.zone_id) == ("robot-9", "zone-1")


def test_edge_ids_are_not_overridden_on_other_tiers() -> None:
    assert load_config("zone", environ={"EDGE_ZONE_ID": "zone-9"}).zone_id == "zone-1"


def test_fleet_http_port(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.yaml", "http:\n  port: 9000\n")
    assert load_config("fleet", path, environ={"FLEET_HTTP_PORT": "8181"}).http.port == 8181


def test_fleet_failover_instance_and_url_from_the_environment(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.yaml", "failover:\n  instance_id: fleet-a\n  lease_s: 2.0\n")
    assert load_config("fleet", path, environ={}).failover.instance_id == "fleet-a"
    env = {"FLEET_INSTANCE_ID": "fleet-7d9f-x2k", "FLEET_ADVERTISE_URL": "http://10.0.0.5:8080"}
    failover = load_config("fleet", path, environ=env).failover
    assert (failover.instance_id, failover.advertise_url, failover.lease_s) == (
        "fleet-7d9f-x2k",
        "http://10.0.0.5:8080",
        2.0,
    )
    assert load_config("fleet", environ={}).failover.instance_id == "fleet"  # one instance: the default


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (
            "",
            {"FLEET_INSTANCE_ID": "9a"},
            r"^FLEET_INSTANCE_ID: failover\.instance_id: .*not a valid fleet id",
        ),
        (
            "failover:\n  lease_s: 1.0\n  renew_period_s: 0.5\n",
            {},
            r"failover: .*renew_period_s .*below half",
        ),
        ("failover:\n  lease_s: 0\n", {}, r"failover\.lease_s"),
    ],
)
def test_bad_fleet_failover(tmp_path: Path, text: str, env: dict[str, str], expected: str) -> None:
    path = _write(tmp_path / "f.yaml", text)
    with pytest.raises(ConfigError, match=expected):
        load_config("fleet", path, environ=env)


def test_empty_env_values_are_ignored() -> None:
    config = load_config("edge", environ={"EDGE_ROBOT_ID": "", "MESSAGING_URL": "", "EDGE_CONFIG": ""})
    assert config == EdgeConfig()


# --- errors name the file (or variable), the key path, and what is expected ---------------------


def test_bad_robot_id_names_file_and_index(tmp_path: Path) -> None:
    path = _write(tmp_path / "zone-1.yaml", "robots: [robot-1, robot-2, robot-3, 'robot 4']\n")
    with pytest.raises(ConfigError) as info:
        load_config("zone", path, environ={})
    assert str(info.value) == (
        f"{path}: robots.3: 'robot 4' is not a valid robot id (letters, digits, '-', '_')"
    )


def test_error_uses_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "deploy" / "1000").mkdir(parents=True)
    _write(tmp_path / "deploy" / "1000" / "zone-1.yaml", "robots: [robot-1, 'robot 4']\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^deploy/1000/zone-1\.yaml: robots\.1: 'robot 4' is not"):
        load_config("zone", environ={"ZONE_CONFIG": "deploy/1000/zone-1.yaml"})


def test_unknown_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.yaml", "http:\n  prot: 8080\n")
    with pytest.raises(ConfigError, match=r"f\.yaml: http\.prot: unknown key"):
        load_config("fleet", path, environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http:\n  port: '8080'\n", r"http\.port: expected an integer, got '8080' \(a string\)"),
        ("http: 8080\n", r"http: expected a mapping, got 8080 \(an integer\)"),
        ("areas: area-1\n", r"areas: expected a list, got 'area-1' \(a string\)"),
        ("http:\n  port: 0\n", r"http\.port: input should be greater than or equal to 1, got 0"),
        ("log_level: LOUD\n", r"log_level: expected 'DEBUG', 'INFO'.*got 'LOUD'"),
        ("areas: [area-1, area-1]\n", r"areas: area id 'area-1' is listed twice"),
        ("fleet_id: 1fleet\n", r"fleet_id: '1fleet' is not a valid fleet id: must not start with a digit"),
        ("messaging:\n  broker: localhost:4222\n", r"messaging\.broker: 'localhost:4222' is not a NATS URL"),
    ],
)
def test_wrong_values(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path / "fleet.yaml", text)
    with pytest.raises(ConfigError, match=rf"fleet\.yaml: {expected}"):
        load_config("fleet", path, environ={})


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.yaml", "robot_id: 'r 1'\ndriver: ros\nsim:\n  speed: -1\n")
    with pytest.raises(ConfigError) as info:
        load_config("edge", path, environ={})
    lines = str(info.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == ["robot_id", "driver", "sim.speed"]
    assert "expected 'sim', 'dds' or 'vda5050', got 'ros'" in lines[1]


def test_sim_cross_field_check(tmp_path: Path) -> None:
    text = "sim:\n  recharge_below_percent: 50\n  charge_target_percent: 40\n"
    with pytest.raises(ConfigError, match=r"sim: charge_target_percent \(40.0\) must be greater"):
        load_config("edge", _write(tmp_path / "e.yaml", text), environ={})


def test_missing_file_from_env_var_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config("edge", environ={"EDGE_CONFIG": "deploy/1000/edge/robot-1001.yaml"})
    expected = "deploy/1000/edge/robot-1001.yaml: no such config file (EDGE_CONFIG points there)"
    assert str(info.value) == expected


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such config file$"):
        load_config("area", tmp_path / "nope.yaml", environ={})


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config("area", tmp_path, environ={})


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "zone.yaml", "zone_id: zone-1\nrobots:\n  - robot-1\n - robot-2\n")
    with pytest.raises(ConfigError, match=r"zone\.yaml:4: invalid YAML: "):
        load_config("zone", path, environ={})


def test_duplicate_yaml_key_names_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "zone.yaml", "zone_id: zone-1\nrobots: []\nzone_id: zone-2\n")
    expected = r"zone\.yaml:3: invalid YAML: key 'zone_id' given twice \(first on line 1\)"
    with pytest.raises(ConfigError, match=expected):
        load_config("zone", path, environ={})


def test_nested_duplicate_yaml_key_names_file_line_and_key(tmp_path: Path) -> None:
    text = "zone_id: zone-1\nmessaging:\n  broker: nats://a:4222\n  broker: nats://b:4222\n"
    path = _write(tmp_path / "zone.yaml", text)
    expected = r"zone\.yaml:4: invalid YAML: key 'broker' given twice \(first on line 3\)"
    with pytest.raises(ConfigError, match=expected):
        load_config("zone", path, environ={})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    expected = r"x\.yaml: expected a mapping of keys at the top level, got a list"
    with pytest.raises(ConfigError, match=expected):
        load_config("zone", _write(tmp_path / "x.yaml", "- robot-1\n"), environ={})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"EDGE_ROBOT_ID": "robot 4"}, r"^EDGE_ROBOT_ID: robot_id: 'robot 4' is not a valid robot id"),
        ({"EDGE_ZONE_ID": "-zone"}, r"^EDGE_ZONE_ID: zone_id: '-zone' is not a valid zone id"),
        ({"MESSAGING_URL": "localhost"}, r"^MESSAGING_URL: messaging\.broker: 'localhost' is not a NATS URL"),
    ],
)
def test_bad_env_values_name_the_variable(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config("edge", environ=env)


@pytest.mark.parametrize(
    ("raw", "expected"), [("http", "expected a port number"), ("70000", "less than or equal")]
)
def test_bad_fleet_http_port(raw: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=f"^FLEET_HTTP_PORT: .*{expected}"):
        load_config("fleet", environ={"FLEET_HTTP_PORT": raw})


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown config kind 'robot'"):
        load_config("robot", environ={})


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no such config file"):
        load_config("zone", environ={"ZONE_CONFIG": "/nonexistent/zone.yaml"})


# --- ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["robot-1", "zone-1", "area-1", "robot_0042", "R2-D2", "_x"])
def test_valid_ids(good: str) -> None:
    assert check_id(good) == good


@pytest.mark.parametrize("bad", ["", "1robot", "-robot", "robot 1", "robot/1", "robot.1", "röbot", "x" * 256])
def test_invalid_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="robot id"):
        check_id(bad, "robot id")


def test_ids_agree_with_node_name_rules() -> None:
    from robotfleet_nodes.errors import NameValidationError
    from robotfleet_nodes.node.names import validate_node_name

    for name in ["robot-1", "zone-1", "a_b-c", "1robot", "-robot", "robot 1", "robot.1"]:
        try:
            validate_node_name(name)
            node_ok = True
        except NameValidationError:
            node_ok = False
        try:
            check_id(name)
            id_ok = True
        except ValueError:
            id_ok = False
        assert node_ok == id_ok, name


def test_sim_section_builds_the_simulator_config() -> None:
    from robotfleet_nodes.edge.driver import Pose2D
    from robotfleet_nodes.edge.sim import SimConfig

    kwargs = load_config("edge", environ={}).sim.sim_kwargs()
    kwargs["dock"] = Pose2D(**kwargs["dock"])  # type: ignore[arg-type]
    assert SimConfig(**kwargs) == SimConfig()  # type: ignore[arg-type]


# -- messaging: a cluster's servers -------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "urls"),
    [
        ({}, ["nats://localhost:4222"]),
        ({"broker": "nats://a:4222,nats://b:4222"}, ["nats://a:4222", "nats://b:4222"]),
        ({"servers": ["nats://a:4222", "nats://b:4222"]}, ["nats://a:4222", "nats://b:4222"]),
        (
            {"broker": "nats://a:4222", "servers": ["nats://a:4222", "nats://c:4222"]},
            ["nats://a:4222", "nats://c:4222"],
        ),
    ],
)
def test_messaging_urls_merge_broker_and_servers(data: dict[str, Any], urls: list[str]) -> None:
    messaging = MessagingConfig.model_validate(data)
    assert messaging.urls == urls
    assert messaging.url == ",".join(urls)


def test_messaging_servers_and_replicas_are_checked() -> None:
    with pytest.raises(ValidationError, match="not a NATS URL"):
        MessagingConfig.model_validate({"servers": ["http://a:4222"]})
    with pytest.raises(ValidationError):
        MessagingConfig.model_validate({"jetstream_replicas": 0})
    assert MessagingConfig.model_validate({"jetstream_replicas": 3}).jetstream_replicas == 3


def test_jetstream_replicas_from_the_environment() -> None:
    config = load_config("fleet", environ={"MESSAGING_JETSTREAM_REPLICAS": "3"})
    assert config.messaging.jetstream_replicas == 3
    with pytest.raises(ConfigError, match="MESSAGING_JETSTREAM_REPLICAS: expected a number of replicas"):
        load_config("fleet", environ={"MESSAGING_JETSTREAM_REPLICAS": "three"})
