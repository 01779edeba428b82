"""Fleet bring-up: seconds from `rfos launch` to all robots visible, then steady-state cost.

For each size (default 100 and 1000 robots; ``--robots 100 1000 10000``) this generates the
configs (`rfos fleet gen-config`), starts `launch/fleet_1000.launch.yaml` with the edges
composed into containers of ~250 robots (embedded NATS, free ports, a fresh JetStream
store), polls `GET /api/fleet` until `robots_online` equals the size, then measures the
whole process tree for 10 s: CPU as a fraction of one core and total PSS (shared pages
counted once). Everything is stopped with SIGINT before the next size. Prints one JSON
line; progress on stderr. Targets (issue #5): 1000 robots visible in <= 20 s, <= 60% of one
core and <= 1.5 GiB in steady state.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import emit, progress

ROOT = Path(__file__).resolve().parent.parent
RFOS = Path(sys.executable).parent / "rfos"
STEADY_SECONDS = 10.0
SETTLE_SECONDS = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _online(base: str) -> int:
    with urllib.request.urlopen(f"{base}/api/fleet", timeout=5) as response:
        return int(json.loads(response.read())["robots_online"])


def run(robots: int, zones: int, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rfos-bringup-") as tmp:
        deploy = Path(tmp) / "deploy"
        subprocess.run(
            [
                str(RFOS),
                "fleet",
                "gen-config",
                "--robots",
                str(robots),
                "--zones",
                str(zones),
                "--out",
                str(deploy),
            ],
            check=True,
            capture_output=True,
        )
        http = _free_port()
        base = f"http://127.0.0.1:{http}"
        env = {**os.environ, "RFOS_LOG_DIR": str(Path(tmp) / "logs")}
        env.pop("MESSAGING_URL", None)
        containers = max(1, round(robots / 250))
        started = time.perf_counter()
        launcher = subprocess.Popen(
            [
                str(RFOS),
                "launch",
                str(ROOT / "launch" / "fleet_1000.launch.yaml"),
                f"robots:={robots}",
                f"zones:={zones}",
                f"containers:={containers}",
                f"config_dir:={deploy}",
                f"nats_port:={_free_port()}",
                f"http_port:={http}",
                f"state_dir:={Path(tmp) / 'nats'}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            visible_s = None
            last = 0
            while time.perf_counter() - started < timeout:
                try:
                    last = _online(base)
                except OSError:
                    last = 0
                if last >= robots:
                    visible_s = time.perf_counter() - started
                    break
                waited = time.perf_counter() - started
                progress(f"bringup {robots}: {last}/{robots} robots online after {waited:.1f} s")
                time.sleep(1.0)
            # Steady state: after visibility the zones still create their robots' action
            # clients in the background for a while; measuring too early counts that.
            time.sleep(SETTLE_SECONDS)
            pids = _tree(launcher.pid)
            before = {pid: _cpu_seconds(pid) for pid in pids}
            t0 = time.perf_counter()
            time.sleep(STEADY_SECONDS)
            elapsed = time.perf_counter() - t0
            alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
            cpu = sum(_cpu_seconds(pid) - before[pid] for pid in alive) / elapsed
            pss = sum(_pss_mib(pid) for pid in alive)
        finally:
            launcher.send_signal(signal.SIGINT)
            try:
                launcher.wait(60)
            except subprocess.TimeoutExpired:
                launcher.kill()
    return {
        "robots": robots,
        "zones": zones,
        "edge_containers": containers,
        "visible_s": round(visible_s, 1) if visible_s is not None else None,
        "robots_online_at_end": last,
        "processes": len(alive),
        "steady_cpu_fraction_of_core": round(cpu, 3),
        "total_pss_mib": round(pss),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robots", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="give up on bring-up after this many seconds"
    )
    args = parser.parse_args()
    results = []
    for robots in args.robots:
        zones = max(1, robots // 200)
        progress(f"bringup: {robots} robots in {zones} zones ...")
        results.append(run(robots, zones, args.timeout))
        progress(f"bringup: {results[-1]}")
    emit(
        {
            "benchmark": "bringup",
            "mode": "composed",
            "runs": results,
            "targets": {"1000": {"visible_s": 20, "steady_cpu_fraction_of_core": 0.6, "total_pss_mib": 1536}},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
