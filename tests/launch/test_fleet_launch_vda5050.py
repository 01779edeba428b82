"""launch/fleet_1000.launch.yaml's MQTT listener and VDA 5050 vehicles, resolved without
starting anything (`rfos launch ... --print`): the commands `make run VDA5050=N` starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robotfleet_nodes.launch import describe_launch, load_launch_file

FILE = Path(__file__).resolve().parents[2] / "launch" / "fleet_1000.launch.yaml"
CFG = "/deploy/x"


def processes(**arguments: str) -> list[dict[str, Any]]:
    args = {"robots": "4", "zones": "2", "containers": "2", "config_dir": CFG, **arguments}
    described = describe_launch(load_launch_file(FILE), args, source=FILE)
    out: list[dict[str, Any]] = described["processes"]
    return out


def named(procs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [p for p in procs if p["name"] == name]


def cmd_tail(proc: dict[str, Any], first: str) -> list[str]:
    """The command from argument ``first`` on (the executable's path differs per install)."""
    cmd: list[str] = proc["cmd"]
    return cmd[cmd.index(first) :]


def test_default_secured_broker_listens_for_mqtt_with_tls_and_no_vehicles() -> None:
    procs = processes()
    (nats,) = named(procs, "nats")
    cmd = nats["cmd"]
    assert cmd[cmd.index("--mqtt-port") + 1] == "1883"
    assert cmd[cmd.index("--mqtt-config") + 1] == f"{CFG}/secrets/nats-mqtt.conf"
    assert not [p for p in procs if p["name"].startswith("vehicles")] and not named(procs, "vda5050_sim")


def test_open_broker_and_disabled_listener() -> None:
    (nats,) = named(processes(secure="false"), "nats")
    assert "--mqtt-config" not in nats["cmd"]
    assert nats["cmd"][nats["cmd"].index("--mqtt-port") + 1] == "1883"
    (nats,) = named(processes(mqtt_port="0"), "nats")
    assert nats["cmd"][nats["cmd"].index("--mqtt-port") + 1] == "0"  # rfos broker: no listener


def test_cluster_members_get_consecutive_mqtt_ports() -> None:
    procs = processes(nats_cluster="3")
    ports = [
        p["cmd"][p["cmd"].index("--mqtt-port") + 1] for n in (1, 2, 3) for p in named(procs, f"nats_{n}")
    ]
    assert ports == ["1883", "1884", "1885"]
    procs = processes(nats_cluster="3", mqtt_port="0", secure="false")
    ports = [
        p["cmd"][p["cmd"].index("--mqtt-port") + 1] for n in (1, 2, 3) for p in named(procs, f"nats_{n}")
    ]
    assert ports == ["0", "0", "0"]


def test_vehicles_composed_with_their_container_identity_and_the_simulator() -> None:
    procs = processes(vda5050="3")  # containers:=2, as gen-config --containers 2 cut them
    first, second = named(procs, "vehicles_1"), named(procs, "vehicles_2")
    assert [p["env"]["MESSAGING_CREDS"] for p in first + second] == [
        f"{CFG}/secrets/vehicles-1-2.creds",
        f"{CFG}/secrets/vehicles-3-3.creds",
    ]
    spec = " ".join(first[0]["cmd"])
    for i in (1, 2):
        assert f"{CFG}/edge/RobotFleetSim-SN_{i}.yaml" in spec
    assert "RobotFleetSim-SN_3" not in spec
    assert f"{CFG}/edge/RobotFleetSim-SN_3.yaml" in " ".join(second[0]["cmd"])
    assert '"name":"vehicles_1","namespace":"/edges"' in spec  # the node its identity names
    (sim,) = named(procs, "vda5050_sim")
    assert cmd_tail(sim, "vda5050") == [
        "vda5050",
        "sim",
        "--vehicles",
        f"{CFG}/vda5050/vehicles.csv",
        "--mqtt",
        "mqtts://localhost:1883",
        "--tls-ca",
        f"{CFG}/secrets/ca.pem",
    ]
    assert sim.get("respawn")  # it retries until the broker's MQTT listener is up
    # the robots' containers are unchanged
    assert [p["env"]["MESSAGING_CREDS"] for p in procs if p["name"].startswith("edges_")] == [
        f"{CFG}/secrets/robots-1-2.creds",
        f"{CFG}/secrets/robots-3-4.creds",
    ]


def test_vehicles_as_processes_and_open() -> None:
    procs = processes(vda5050="2", edges="process", secure="false")
    configs = [p["env"].get("EDGE_CONFIG", "") for p in procs]
    assert [c for c in configs if "RobotFleetSim" in c] == [
        f"{CFG}/edge/RobotFleetSim-SN_1.yaml",
        f"{CFG}/edge/RobotFleetSim-SN_2.yaml",
    ]
    assert not [p for p in procs if p["name"].startswith("vehicles")]
    (sim,) = named(procs, "vda5050_sim")
    assert cmd_tail(sim, "--mqtt") == ["--mqtt", "mqtt://localhost:1883"]
