"""launch/fleet_1000.launch.yaml at a small scale: the same file `make run` starts.

Embedded NATS, fleet, area, zones and composed edges come up; an order completes; SIGINT
to the launcher leaves no process behind (for both edges:=composed and edges:=process). Secured
(the default, with the identities gen-config wrote) and open (``secure:=false``, for
development) both run; tests/launch/test_fleet_launch_secure.py checks what security refuses.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from launch_helpers import alive, fleet_deployment, launch_fleet, stop_launch
from shared_helpers import descendants, free_port, poll_until

ROOT = Path(__file__).resolve().parents[2]
RFOS = Path(sys.executable).parent / "rfos"


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("edges", "secure"), [("composed", "false"), ("process", "true")])
def test_fleet_launch_file_runs_and_stops_cleanly(tmp_path: Path, edges: str, secure: str) -> None:
    deploy = fleet_deployment(tmp_path / "deploy", 6, 2, "--containers", "2")
    http = free_port()
    base = f"http://127.0.0.1:{http}"
    headers = {}
    if secure == "true":
        token = (deploy / "secrets" / "api-admin.token").read_text().strip()
        headers["Authorization"] = f"Bearer {token}"

    def get_json(url: str) -> Any:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return json.loads(response.read())

    launcher = launch_fleet(
        tmp_path,
        deploy,
        "robots:=6",
        "zones:=2",
        "containers:=2",
        f"edges:={edges}",
        f"secure:={secure}",
        f"nats_port:={free_port()}",
        f"http_port:={http}",
    )
    try:
        poll_until(lambda: get_json(f"{base}/api/fleet")["robots_online"] == 6, "6 robots online")
        areas = get_json(f"{base}/api/areas")
        assert [(a["id"], a["zones"], a["robots"]) for a in areas] == [("area-1", ["zone-1", "zone-2"], 6)]
        request = urllib.request.Request(
            f"{base}/api/work-orders",
            data=json.dumps({"area_id": "area-1", "task": "pick"}).encode(),
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            order = json.loads(response.read())
        poll_until(
            lambda: get_json(f"{base}/api/work-orders/{order['id']}")["state"] == "COMPLETED", "order done"
        )
        family = descendants(launcher.pid)
        assert len(family) >= 6, f"expected the fleet's processes under the launcher, found {len(family)}"
    finally:
        output = stop_launch(launcher)
    assert launcher.returncode == 0, output[-3000:]
    left = [pid for pid in family if alive(pid)]
    assert left == [], f"processes left behind: {left}"
    assert "dashboard: http://localhost:" in output
