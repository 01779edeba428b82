"""launch/fleet_1000.launch.yaml at a small scale: the same file `make run` starts.

Embedded NATS, fleet, area, zones and composed edges come up; an order completes; SIGINT
to the launcher leaves no process behind (for both edges:=composed and edges:=process).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RFOS = Path(sys.executable).parent / "rfos"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _until(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:  # not up yet
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(180)
@pytest.mark.parametrize("edges", ["composed", "process"])
def test_fleet_launch_file_runs_and_stops_cleanly(tmp_path: Path, edges: str) -> None:
    deploy = tmp_path / "deploy"
    subprocess.run(
        [str(RFOS), "fleet", "gen-config", "--robots", "6", "--zones", "2", "--out", str(deploy)],
        check=True,
        capture_output=True,
    )
    for i in range(1, 7):  # quick simulated robots: the order finishes in a second
        with (deploy / "edge" / f"robot-{i}.yaml").open("a") as f:
            f.write("sim:\n  speed: 100.0\n  default_work_time_s: 0.2\n")
    http = _free_port()
    base = f"http://127.0.0.1:{http}"
    env = {**os.environ, "RFOS_LOG_DIR": str(tmp_path / "logs")}
    env.pop("MESSAGING_URL", None)
    launcher = subprocess.Popen(
        [
            str(RFOS),
            "launch",
            str(ROOT / "launch" / "fleet_1000.launch.yaml"),
            "robots:=6",
            "zones:=2",
            "containers:=2",
            f"edges:={edges}",
            f"config_dir:={deploy}",
            f"nats_port:={_free_port()}",
            f"http_port:={http}",
            f"state_dir:={tmp_path / 'nats'}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        _until(lambda: _get(f"{base}/api/fleet")["robots_online"] == 6, "6 robots online")
        areas = _get(f"{base}/api/areas")
        assert [(a["id"], a["zones"], a["robots"]) for a in areas] == [("area-1", ["zone-1", "zone-2"], 6)]
        request = urllib.request.Request(
            f"{base}/api/work-orders",
            data=json.dumps({"area_id": "area-1", "task": "pick"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            order = json.loads(response.read())
        _until(lambda: _get(f"{base}/api/work-orders/{order['id']}")["state"] == "COMPLETED", "order done")
        family = _descendants(launcher.pid)
        assert len(family) >= 6, f"expected the fleet's processes under the launcher, found {len(family)}"
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            output, _ = launcher.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            launcher.kill()
            output, _ = launcher.communicate()
    assert launcher.returncode == 0, output[-3000:]
    left = [pid for pid in family if _alive(pid)]
    assert left == [], f"processes left behind: {left}"
    assert "dashboard: http://localhost:" in output
