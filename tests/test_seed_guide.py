"""deploying-1000-robots.md, sections 2, 3 and 5, with the guide's own commands.

Section 2's script runs verbatim (into a temporary directory: it takes one optional
output-directory argument). Section 3 runs at a smaller scale (4 robots, 2 zones) with the
guide's binaries and environment variables: ``FLEET_CONFIG``, ``AREA_CONFIG``,
``ZONE_CONFIG``, ``EDGE_CONFIG`` (Option A), ``EDGE_ROBOT_ID``/``EDGE_ZONE_ID`` (Option B),
``MESSAGING_URL``, secured as README's steps say: the broker runs from the generated
``secrets/nats-server.conf`` (identities, TLS), each tier finds its credentials in its YAML
(Option B: ``MESSAGING_CREDS`` / ``MESSAGING_TLS_CA``), and section 5's checks go through the
fleet's HTTP API with the generated admin token.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import free_port, poll_until

from robotfleet_nodes.broker import EmbeddedBroker

ROOT = Path(__file__).resolve().parent.parent


def test_section_2_generates_the_guides_files(tmp_path: Path) -> None:
    out = tmp_path / "deploy" / "1000"
    done = subprocess.run(
        [str(ROOT / "scripts" / "generate-1000-robot-config.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "1000" in done.stdout
    assert (out / "area.yaml").is_file() and (out / "fleet.yaml").is_file()
    assert sorted(p.name for p in out.glob("zone-*.yaml")) == [f"zone-{i}.yaml" for i in range(1, 6)]
    assert len(list((out / "edge").glob("robot-*.yaml"))) == 1000
    rows = (out / "robots.csv").read_text().splitlines()
    assert rows[0] == "robot_id,zone_id" and len(rows) == 1001
    assert (
        rows[200] == "robot-200,zone-1"
        and rows[201] == "robot-201,zone-2"
        and rows[1000] == "robot-1000,zone-5"
    )
    assert "messaging:\n  broker: nats://localhost:4222" in (out / "edge" / "robot-1.yaml").read_text()


class _Stack:
    """The guide's processes, each started the way section 3 shows."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, binary: str, **env: str) -> None:
        self.procs[name] = subprocess.Popen(
            [str(ROOT / "bin" / binary)],
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )

    def stop(self) -> dict[str, tuple[int, str]]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        results = {}
        for name, proc in self.procs.items():
            try:
                out, _ = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            results[name] = (proc.returncode, out)
        return results


#: ``Authorization`` of the API requests (the deployment's admin token).
_AUTH: dict[str, str] = {}


def get_json(url: str) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=_AUTH), timeout=5) as response:
        return json.loads(response.read())


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **_AUTH},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.timeout(180)
def test_section_3_stack_and_section_5_verification(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "robotfleet_nodes.cli.main",
            "fleet",
            "gen-config",
            "--robots",
            "4",
            "--zones",
            "2",
            "--out",
            str(deploy),
        ],
        check=True,
        capture_output=True,
    )
    # Option A edges get a fast simulated robot so the order finishes in a second or two.
    for i in (1, 2, 3):
        with (deploy / "edge" / f"robot-{i}.yaml").open("a") as f:
            f.write("sim:\n  speed: 100.0\n  default_work_time_s: 0.2\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secrets = deploy / "secrets"
    _AUTH["Authorization"] = f"Bearer {(secrets / 'api-admin.token').read_text().strip()}"
    # Section 1, secured: rfos broker --config deploy/1000/secrets/nats-server.conf
    broker = EmbeddedBroker(
        config_file=secrets / "nats-server.conf", host="127.0.0.1", port=0, store_dir=tmp_path / "nats"
    )
    nats_url = broker.start()
    env = {
        **os.environ,
        "MESSAGING_URL": nats_url,  # export MESSAGING_URL=nats://localhost:4222 in the guide
        "FLEET_HTTP_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    stack = _Stack(env)
    try:
        stack.start("fleet", "fleet", FLEET_CONFIG=str(deploy / "fleet.yaml"))
        stack.start("area", "area", AREA_CONFIG=str(deploy / "area.yaml"))
        stack.start("zone-1", "zone", ZONE_CONFIG=str(deploy / "zone-1.yaml"))
        stack.start("zone-2", "zone", ZONE_CONFIG=str(deploy / "zone-2.yaml"))
        for i in (1, 2, 3):  # Option A: a config file per robot
            stack.start(f"robot-{i}", "edge", EDGE_CONFIG=str(deploy / "edge" / f"robot-{i}.yaml"))

        poll_until(lambda: get_json(f"{base}/api/fleet")["robots_online"] == 3, "3 robots online")
        order = _post(f"{base}/api/work-orders", {"area_id": "area-1", "task": "pick"})
        assert order["state"] == "PENDING"
        done = poll_until(
            lambda: (o := get_json(f"{base}/api/work-orders/{order['id']}"))["state"] == "COMPLETED" and o,
            "the order to complete",
        )
        assert done["zone_id"] in ("zone-1", "zone-2") and done["robot_id"] in (
            "robot-1",
            "robot-2",
            "robot-3",
        )
        states = [h["state"] for h in done["history"]]
        assert states == ["PENDING", "DISPATCHED", "ASSIGNED", "EXECUTING", "COMPLETED"]

        # Option B: environment variables only.
        stack.start(
            "robot-4",
            "edge",
            EDGE_ROBOT_ID="robot-4",
            EDGE_ZONE_ID="zone-2",
            MESSAGING_CREDS=str(secrets / "robot-4.creds"),
            MESSAGING_TLS_CA=str(secrets / "ca.pem"),
        )
        poll_until(lambda: get_json(f"{base}/api/fleet")["robots_online"] == 4, "robot-4 online")
        areas = get_json(f"{base}/api/areas")
        assert [(a["id"], a["zones"], a["robots"]) for a in areas] == [("area-1", ["zone-1", "zone-2"], 4)]
        page = urllib.request.urlopen(f"{base}/", timeout=5).read().decode()
        assert "Fleet state" in page
    finally:
        results = stack.stop()
        broker.stop()
    for name, (code, _) in results.items():
        assert code == 0, f"{name} exited {code}:\n{results[name][1][-2000:]}"
    robot = done["robot_id"]
    assert f"{robot}: received work order {order['id']}" in results[robot][1]
    assert f"assigned {order['id']} to {robot}" in results[done["zone_id"]][1]
