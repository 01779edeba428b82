"""`rfos fleet gen-config --vda5050 N`: the vehicles' edges, vehicles.csv, their identities."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from robotfleet_nodes.config import load_config
from robotfleet_nodes.config.generate import generate_deployment
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.security.creds import jwt_claims, read_creds
from robotfleet_nodes.security.deployment import write_secrets
from robotfleet_nodes.security.topology import Topology, Vehicle
from robotfleet_nodes.vda5050.topics import VehicleTopics

HEADER = ["robot_id", "zone_id", "manufacturer", "serial_number", "interface_name", "major_version", "creds"]


def claims(path: Path) -> dict[str, Any]:
    nats: dict[str, Any] = jwt_claims(read_creds(path).jwt)["nats"]
    return nats


def subject(i: int, name: str) -> str:
    return VehicleTopics("RobotFleetSim", f"SN.{i}").subject(name)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vda-gen")
    summary = generate_deployment(out, robots=4, zones=2, containers=2, vda5050=3)
    assert [v.robot_id for v in summary.vehicles] == [f"RobotFleetSim-SN_{i}" for i in (1, 2, 3)]
    assert "3 VDA 5050 vehicles' edges" in summary.describe()
    return out


def test_vehicles_csv_names_and_zones_round_robin(secured: Path) -> None:
    with open(secured / "vda5050" / "vehicles.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == HEADER
    assert [(r["robot_id"], r["zone_id"], r["serial_number"]) for r in rows] == [
        ("RobotFleetSim-SN_1", "zone-1", "SN.1"),
        ("RobotFleetSim-SN_2", "zone-2", "SN.2"),
        ("RobotFleetSim-SN_3", "zone-1", "SN.3"),
    ]
    for r in rows:
        assert (r["manufacturer"], r["interface_name"], r["major_version"]) == ("RobotFleetSim", "uagv", "v2")
        creds = secured / "vda5050" / r["creds"]  # relative to the CSV's directory
        assert creds.resolve() == (secured / "secrets" / "vda5050" / f"{r['robot_id']}.creds").resolve()
        assert creds.is_file()
    # robots.csv (container identities, the launch's robot-<i> loop) holds the robots only
    assert (secured / "robots.csv").read_text().count("RobotFleetSim") == 0
    zone1 = load_config("zone", secured / "zone-1.yaml")
    assert zone1.robots == ["robot-1", "robot-2", "RobotFleetSim-SN_1", "RobotFleetSim-SN_3"]


def test_vehicle_edge_yaml_loads_with_driver_vda5050(secured: Path) -> None:
    edge = load_config("edge", secured / "edge" / "RobotFleetSim-SN_2.yaml", environ={})
    assert (edge.robot_id, edge.zone_id, edge.driver) == ("RobotFleetSim-SN_2", "zone-2", "vda5050")
    v = edge.vda5050
    assert (v.manufacturer, v.serial_number, v.interface_name, v.major_version) == (
        "RobotFleetSim",
        "SN.2",
        "uagv",
        "v2",
    )
    assert v.mqtt_url == "mqtts://localhost:1883"
    assert v.mqtt_credentials is not None
    assert Path(v.mqtt_credentials) == secured / "edge" / "../secrets/vda5050/RobotFleetSim-SN_2-master.creds"
    assert Path(v.mqtt_credentials).is_file()
    assert edge.messaging.credentials is not None
    assert Path(edge.messaging.credentials).name == "RobotFleetSim-SN_2.creds"


def test_vehicle_identity_is_an_mqtt_only_bearer_token_for_its_own_topics(secured: Path) -> None:
    nats = claims(secured / "secrets" / "vda5050" / "RobotFleetSim-SN_1.creds")
    assert nats["bearer_token"] is True
    assert nats["allowed_connection_types"] == ["MQTT"]
    assert nats["pub"] == {
        "allow": [subject(1, n) for n in ("connection", "state", "visualization", "factsheet")]
    }
    assert nats["sub"] == {"allow": [subject(1, "order"), subject(1, "instantActions")]}
    assert "resp" not in nats
    assert subject(1, "state") == "uagv.v2.RobotFleetSim.SN//1.state"


def test_master_identity_reads_only_the_connection(secured: Path) -> None:
    nats = claims(secured / "secrets" / "vda5050" / "RobotFleetSim-SN_3-master.creds")
    assert nats["bearer_token"] is True
    assert nats["allowed_connection_types"] == ["MQTT"]
    assert nats["sub"] == {"allow": [subject(3, "connection")]}
    assert nats["pub"] == {"allow": ["_RFOS.NOTHING"]}
    assert "resp" not in nats


def test_only_vehicles_their_edges_and_the_operator_reach_uagv(secured: Path) -> None:
    """The edge of vehicle i (and the vehicles' container) orders it and reads its subjects;
    no robot, zone, area or fleet identity gets any `uagv` subject."""
    edge = claims(secured / "secrets" / "RobotFleetSim-SN_2.creds")
    assert "bearer_token" not in edge and "allowed_connection_types" not in edge
    uagv_pub = [s for s in edge["pub"]["allow"] if s.startswith("uagv.")]
    uagv_sub = [s for s in edge["sub"]["allow"] if s.startswith("uagv.")]
    assert uagv_pub == [subject(2, "order"), subject(2, "instantActions")]
    assert uagv_sub == ["uagv.v2.RobotFleetSim.SN//2.>"]
    container = claims(secured / "secrets" / "vehicles-1-2.creds")  # --containers 2: 1-2, 3-3
    assert {s for s in container["sub"]["allow"] if s.startswith("uagv.")} == {
        f"uagv.v2.RobotFleetSim.SN//{i}.>" for i in (1, 2)
    }
    assert "rfos.0.*.edges.vehicles_1.>" in container["sub"]["allow"]  # its container node
    assert (secured / "secrets" / "vehicles-3-3.creds").is_file()
    zone = claims(secured / "secrets" / "zone-1.creds")
    assert "rfos.0.t.robots.RobotFleetSim-SN_1.>" in zone["sub"]["allow"]  # its vehicles are its robots
    for path in (secured / "secrets").glob("*.creds"):
        if path.stem.startswith("RobotFleetSim-") or path.stem in (
            "vehicles-1-2",
            "vehicles-3-3",
            "operator",
            "sys",
        ):
            continue
        nats = claims(path)
        text = repr(nats.get("pub")) + repr(nats.get("sub"))
        assert "uagv" not in text, path.name


def test_rerun_keeps_vehicle_identities_and_security_cli_topology_sees_them(secured: Path) -> None:
    topology = Topology.from_deployment(secured)
    assert [v.robot_id for v in topology.vehicles] == [f"RobotFleetSim-SN_{i}" for i in (1, 2, 3)]
    assert topology.zone_of("RobotFleetSim-SN_2") == "zone-2"
    assert write_secrets(secured, topology, containers=2).written == 0
    assert (secured / "secrets" / "vda5050" / "RobotFleetSim-SN_1-master.creds").is_file()


def test_nats_mqtt_conf_has_tls_with_the_server_certificate(secured: Path) -> None:
    text = (secured / "secrets" / "nats-mqtt.conf").read_text()
    assert str((secured / "secrets" / "server-cert.pem").resolve()) in text
    assert "verify: false" in text


def test_insecure_and_fewer_vehicles_later(tmp_path: Path) -> None:
    out = tmp_path / "dep"
    generate_deployment(out, robots=2, zones=2, vda5050=2, secure=False)
    rows = (out / "vda5050" / "vehicles.csv").read_text().splitlines()
    assert rows[1] == "RobotFleetSim-SN_1,zone-1,RobotFleetSim,SN.1,uagv,v2,"
    edge = load_config("edge", out / "edge" / "RobotFleetSim-SN_1.yaml", environ={})
    assert edge.vda5050.mqtt_url is None and edge.vda5050.mqtt_credentials is None
    summary = generate_deployment(out, robots=2, zones=2, vda5050=1, secure=False)
    assert out / "edge" / "RobotFleetSim-SN_2.yaml" in summary.removed
    summary = generate_deployment(out, robots=2, zones=2, secure=False)
    assert out / "vda5050" / "vehicles.csv" in summary.removed
    assert not list((out / "edge").glob("RobotFleetSim-*"))


def test_secured_regeneration_without_vehicles_forgets_their_identities(tmp_path: Path) -> None:
    out = tmp_path / "dep"
    generate_deployment(out, robots=1, zones=1, containers=1, vda5050=1)
    assert (out / "secrets" / "vda5050" / "RobotFleetSim-SN_1.creds").is_file()
    generate_deployment(out, robots=1, zones=1, containers=1)
    assert not list((out / "secrets" / "vda5050").glob("*.creds"))
    assert not (out / "secrets" / "vehicles-1-1.creds").exists()


ARGS = ("--robots", "2", "--zones", "1", "--vda5050", "2", "--insecure")


def test_cli_option(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, "-m", "robotfleet_nodes.cli.main", "fleet", "gen-config", *ARGS, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "edge" / "RobotFleetSim-SN_2.yaml").is_file()
    assert "VDA 5050" in done.stdout


@pytest.mark.parametrize("serial", ["SN.1", "a.b.c", "x_y", "SN-7"])
def test_security_maps_vehicle_subjects_as_vda5050_topics_does(serial: str) -> None:
    """security/ sits below vda5050/ (docs/architecture.md, "Layers") and keeps its own copy
    of the topic -> subject mapping: the two agree."""
    vehicle = Vehicle("r", "zone-1", "Acme", serial, "uagv", "v2")
    topics = VehicleTopics("Acme", serial)
    assert vehicle.prefix == topics.prefix
    assert vehicle.subject_prefix == topics.subject_prefix
    for name in ("order", "instantActions", "state", "visualization", "connection", "factsheet"):
        assert vehicle.subject(name) == topics.subject(name)


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "a+b", "a#b", "a*b", "a>b", "$SYS"])
def test_security_refuses_levels_vda5050_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="VDA 5050"):
        VehicleTopics("Acme", bad)
    with pytest.raises(ConfigError, match="VDA 5050"):
        Vehicle("r", "zone-1", "Acme", bad)
