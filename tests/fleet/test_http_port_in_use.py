"""``./bin/fleet`` with its HTTP port taken: one line naming the port, exit 1, no traceback."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

FLEET_CONFIG = """\
fleet_id: fleet
messaging:
  broker: {url}
http:
  host: 127.0.0.1
  port: {port}
state:
  orders_stream: ORDERS_{unique}
  orders_bucket: orders_{unique}
  fleet_bucket: fleet_{unique}
areas: [area-1]
"""


async def test_port_in_use_is_one_line_and_exit_1(nats_url: str, unique: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "fleet.yaml"
        config.write_text(FLEET_CONFIG.format(url=nats_url, port=port, unique=unique.upper()))
        env = {**os.environ, "FLEET_CONFIG": str(config)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "robotfleet_nodes.fleet.main",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    text = (out + err).decode()
    assert process.returncode == 1, text
    assert "Traceback" not in text
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("fleet: cannot start: HTTP port "), text
    assert f"{port} on 127.0.0.1 is already in use" in last
    assert "http.port in FLEET_CONFIG, or FLEET_HTTP_PORT" in last
