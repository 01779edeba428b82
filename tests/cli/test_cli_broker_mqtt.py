"""`rfos broker --mqtt-port N [--mqtt-config FILE]`: nats-server's MQTT listener, open and
with the TLS gen-config writes (what the fleet launch file starts)."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiomqtt
from shared_helpers import free_port
from vda5050_messages import connection

from robotfleet_nodes.config.generate import generate_deployment
from robotfleet_nodes.security.creds import read_creds
from robotfleet_nodes.vda5050.topics import VehicleTopics

TIMEOUT = 20.0


@contextmanager
def rfos_broker(*args: str) -> Iterator[str]:
    """`rfos broker ARGS` in the foreground; yields the URL its "MQTT clients ... dial" line names."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "robotfleet_nodes.cli.main", "broker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            found.append(line)
            if "MQTT clients (VDA 5050 vehicles) dial " in line or "nats-server stopped" in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(TIMEOUT), "".join(found)
        line = next((x for x in found if " dial " in x), "")
        assert line, "".join(found)
        yield line.rsplit(" dial ", 1)[1].strip()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(TIMEOUT)
        reader.join(TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0, "".join(found)


async def test_open_listener(tmp_path: Path) -> None:
    port = free_port()
    with rfos_broker(
        "--port", str(free_port()), "--store", str(tmp_path / "js"), "--mqtt-port", str(port)
    ) as url:
        assert url == f"mqtt://127.0.0.1:{port}"
        t = VehicleTopics("Acme", "SN.1")
        async with aiomqtt.Client("127.0.0.1", port, identifier="Acme-SN_1", timeout=TIMEOUT) as client:
            await client.publish(t.topic("connection"), connection(t, "ONLINE"), qos=1, retain=True)


async def test_secured_listener_from_gen_config(tmp_path: Path) -> None:
    generate_deployment(tmp_path / "dep", robots=1, zones=1, containers=1, vda5050=1)
    secrets = tmp_path / "dep" / "secrets"
    port = free_port()
    with rfos_broker(
        "--config",
        str(secrets / "nats-server.conf"),
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
        "--store",
        str(tmp_path / "js"),
        "--mqtt-port",
        str(port),
        "--mqtt-config",
        str(secrets / "nats-mqtt.conf"),
    ) as url:
        assert url == f"mqtts://127.0.0.1:{port}"
        t = VehicleTopics("RobotFleetSim", "SN.1")
        tls = ssl.create_default_context(cafile=str(secrets / "ca.pem"))
        robot = "RobotFleetSim-SN_1"
        password = read_creds(secrets / "vda5050" / f"{robot}.creds").jwt
        async with aiomqtt.Client(
            "localhost",
            port,
            identifier=robot,
            username=robot,
            password=password,
            tls_context=tls,
            timeout=TIMEOUT,
        ) as client:
            await client.publish(t.topic("connection"), connection(t, "ONLINE"), qos=1, retain=True)
