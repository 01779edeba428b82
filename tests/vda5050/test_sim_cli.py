"""``rfos vda5050 sim`` and the vehicles file it reads."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from pathlib import Path

import pytest

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.errors import Vda5050ConfigError
from robotfleet_nodes.security._nkeys import new_key
from robotfleet_nodes.security.creds import format_creds
from robotfleet_nodes.security.jwt import encode_jwt
from robotfleet_nodes.vda5050.sim import VEHICLES_HEADER, read_vehicles
from robotfleet_nodes.vda5050.topics import VehicleTopics
from tests.vda5050.sim_master import connect_master


def test_vehicles_file_rows_and_their_jwt(tmp_path: Path) -> None:
    account, user = new_key("account"), new_key("user")
    token = encode_jwt("user", user.public_key, {}, account, name="RobotFleetSim-SN_1")
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "RobotFleetSim-SN_1.creds").write_text(format_creds(token, user.seed))
    csv = tmp_path / "vehicles.csv"
    csv.write_text(
        ",".join(VEHICLES_HEADER)
        + "\nRobotFleetSim-SN_1,zone-1,RobotFleetSim,SN.1,uagv,v2,creds/RobotFleetSim-SN_1.creds"
        + "\nRobotFleetSim-SN_2,zone-2,RobotFleetSim,SN.2,,,\n"
    )
    first, second = read_vehicles(csv)
    assert (first.robot_id, first.zone_id, first.serial_number, first.password) == (
        "RobotFleetSim-SN_1",
        "zone-1",
        "SN.1",
        token,
    )
    assert (second.interface_name, second.major_version, second.password) == ("uagv", "v2", None)
    vehicle = first.vehicle("mqtt://127.0.0.1:1883")
    assert vehicle.client_id == "RobotFleetSim-SN_1" and vehicle.topics.prefix == "uagv/v2/RobotFleetSim/SN.1"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("robot_id,zone_id\nx,y\n", "header"),
        (",".join(VEHICLES_HEADER) + "\nr1,z1,M\n", "columns"),
        (",".join(VEHICLES_HEADER) + "\nr1,z1,,SN1,,,\n", "must not be empty"),
    ],
)
def test_bad_vehicles_files_are_refused(tmp_path: Path, text: str, match: str) -> None:
    csv = tmp_path / "vehicles.csv"
    csv.write_text(text)
    with pytest.raises(Vda5050ConfigError, match=match):
        read_vehicles(csv)
    with pytest.raises(Vda5050ConfigError, match="gen-config"):
        read_vehicles(tmp_path / "missing.csv")


async def test_cli_runs_vehicles_until_sigterm_then_says_offline() -> None:
    manufacturer = f"M{uuid.uuid4().hex[:6]}"
    with EmbeddedBroker(mqtt_port=-1) as broker:
        assert broker.mqtt_url is not None
        topics = [VehicleTopics(manufacturer, f"SN.{i}") for i in (1, 2)]
        async with (
            connect_master(broker.mqtt_url, topics[0], "m1") as one,
            connect_master(broker.mqtt_url, topics[1], "m2") as two,
        ):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "robotfleet_nodes.cli.main", "vda5050", "sim", "--count", "2",
                "--manufacturer", manufacturer, "--mqtt", broker.mqtt_url, "--validate",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                for master in (one, two):
                    assert (await master.next("connection", timeout=30))["connectionState"] == "ONLINE"
                    await master.next("state", timeout=10)
                proc.send_signal(signal.SIGTERM)
                for master in (one, two):
                    assert (await master.next("connection", timeout=10))["connectionState"] == "OFFLINE"
                out, err = await asyncio.wait_for(proc.communicate(), 30)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        assert proc.returncode == 0, err.decode()
        assert b"2 VDA 5050 vehicles online" in out and b"2 vehicles stopped" in out
