"""The simulator over MQTT with TLS (``mqtts://`` and the CA that signed the listener's certificate).

nats-server is started here directly: ``EmbeddedBroker`` does not yet recognise the MQTT
listener's start-up line when it speaks TLS (nats-server logs ``tls://``, not ``mqtt://``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from robotfleet_nodes.broker import find_nats_server
from robotfleet_nodes.errors import TransportError
from robotfleet_nodes.security.tls import issue_certificate
from robotfleet_nodes.vda5050.sim import VehicleSim
from tests.vda5050.sim_master import connect_master


@contextlib.asynccontextmanager
async def tls_mqtt_server(tmp_path: Path) -> AsyncIterator[str]:
    """nats-server with a TLS MQTT listener on a free port; yields ``mqtts://127.0.0.1:PORT``."""
    cert, key = issue_certificate(tmp_path, "mqtt", common_name="mqtt", hosts=["127.0.0.1"])
    conf = tmp_path / "nats.conf"
    conf.write_text(
        f'server_name: "sim-tls"\njetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
        f'mqtt {{\n  listen: "127.0.0.1:-1"\n  tls {{ cert_file: "{cert}", key_file: "{key}" }}\n}}\n'
    )
    proc = await asyncio.create_subprocess_exec(
        find_nats_server(), "-c", str(conf), "-a", "127.0.0.1", "-p", "-1", stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    try:
        url, line = "", b""
        async with asyncio.timeout(20):
            while not url or b"Server is ready" not in line:
                line = await proc.stderr.readline()
                assert line, "nats-server exited during start-up"
                found = re.search(rb"Listening for MQTT clients on tls://(\S+):(\d+)", line)
                if found:
                    url = f"mqtts://{found.group(1).decode()}:{found.group(2).decode()}"
        drain = asyncio.create_task(proc.stderr.read())
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    await drain


# paho-mqtt 2.1 drops the SSL socket of a failed handshake without closing it (the stranger below)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_vehicle_over_tls_checks_the_broker_certificate(tmp_path: Path) -> None:
    ca = str(tmp_path / "ca.pem")
    async with tls_mqtt_server(tmp_path) as url:
        vehicle = VehicleSim("Acme", "SN.tls", mqtt_url=url, tls_ca=ca, validate=True)
        async with connect_master(url, vehicle.topics, "master-tls", tls_ca=ca) as master:
            await vehicle.start()
            try:
                assert (await master.next("connection"))["connectionState"] == "ONLINE"
                await master.next("state")
            finally:
                await vehicle.stop()
        stranger = VehicleSim("Acme", "SN.other", mqtt_url=url)  # no CA: the system's do not know ours
        with pytest.raises(TransportError, match="cannot connect to MQTT"):
            await stranger.start()
