"""Fleet bring-up: seconds from `rfos launch` to all robots visible, then steady-state cost.

For each size (default 100 and 1000 robots; ``--robots 100 1000 10000``) this generates the
configs (`rfos fleet gen-config`), starts `launch/fleet_1000.launch.yaml` with the edges
composed into containers of ~250 robots (above 2000 robots: 500 per container, and the
zones composed 10 per container), with embedded NATS, free ports and a fresh JetStream
store, polls `GET /api/fleet` until `robots_online` equals the size, then measures the
whole process tree for 10 s: CPU as a fraction of one core (in total and per tier: nats,
fleet, area, zone, edges, launch) and total PSS (shared pages counted once), and the
latency of ``GET /api/fleet`` and ``GET /api/zones``; then 10 s more with a dashboard's
event stream (``/api/events``) open: its volume, the fleet's CPU and the latency of
``GET /api/fleet`` and ``GET /api/robots`` meanwhile. Everything is stopped with SIGINT
before the next size. ``--secure on,off`` runs each size secured (the default `make run`:
credentials per tier, TLS, API tokens) and open, in turn, and compares them. Prints one JSON
line; progress on stderr. Targets (issue #5): 1000 robots visible in <= 20 s, <= 60% of one
core and <= 1.5 GiB in steady state; 10000 robots all visible with the dashboard responsive.
Security's target (issue 14): within 10 % of the open run. ``--nats-cluster 1,3`` runs each
size on one nats-server and on a 3-node cluster (launch argument ``nats_cluster:=3``:
JetStream at R3, the three servers on the same cores), in turn, and compares them; issue
18's target: the cluster's visible time within 1.5x the single server's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from _common import emit, progress
from _proc import cpu_by_part, cpu_seconds, free_port, part_of, pss_kib, tree

ROOT = Path(__file__).resolve().parent.parent
RFOS = Path(sys.executable).parent / "rfos"
STEADY_SECONDS = 10.0
SETTLE_SECONDS = 20.0
#: Above this many robots, edges are composed 500 per container and zones 10 per container.
LARGE_FLEET = 2000


#: Headers of every API request of the current run (the admin token when secured).
_HEADERS: dict[str, str] = {}


def _get(base: str, path: str, timeout: float = 10) -> bytes:
    request = urllib.request.Request(f"{base}{path}", headers=_HEADERS)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return bytes(response.read())


def _online(base: str) -> int:
    return int(json.loads(_get(base, "/api/fleet", timeout=5))["robots_online"])


def _read_events(base: str, seconds: float, out: dict[str, float]) -> None:
    """Read ``/api/events`` as the dashboard does for ``seconds``: count events and bytes."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", "/api/events", headers={"Accept": "text/event-stream", **_HEADERS})
    response = conn.getresponse()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        line = response.fp.readline()
        if not line:
            break
        out["bytes"] += len(line)
        if line.startswith(b"event:"):
            out["events"] += 1
    conn.close()


def _with_dashboard(base: str, pids: set[int]) -> dict[str, Any]:
    """With a dashboard's event stream open for 10 s: its volume, fleet CPU, API latency."""
    fleet = [pid for pid in pids if part_of(pid) == "fleet"]
    seen = {"bytes": 0.0, "events": 0.0}
    reader = threading.Thread(target=_read_events, args=(base, STEADY_SECONDS, seen), daemon=True)
    before = {pid: cpu_seconds(pid) for pid in fleet}
    t0 = time.perf_counter()
    reader.start()
    api = {path: _latency_ms(base, path, 10) for path in ("/api/fleet", "/api/robots")}
    reader.join(STEADY_SECONDS + 5)
    elapsed = time.perf_counter() - t0
    return {
        "sse_kib_per_s": round(seen["bytes"] / 1024 / elapsed, 1),
        "sse_events_per_s": round(seen["events"] / elapsed, 1),
        "fleet_cpu_fraction_of_core": round(sum(cpu_seconds(p) - before[p] for p in fleet) / elapsed, 3),
        "api_latency_ms": api,
    }


def _latency_ms(base: str, path: str, samples: int) -> dict[str, float]:
    """p50 / max milliseconds of ``GET path`` (sequential requests)."""
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        _get(base, path)
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.05)
    times.sort()
    return {"p50": round(times[len(times) // 2], 1), "max": round(times[-1], 1)}


def run(
    robots: int,
    zones: int,
    timeout: float,
    per_container: int,
    zones_per_container: int,
    *,
    leases: bool = True,
    secure: bool = True,
    nats_cluster: int = 1,
) -> dict[str, Any]:
    containers = max(1, round(robots / per_container))
    zone_containers = round(zones / zones_per_container) if zones_per_container else 0
    with tempfile.TemporaryDirectory(prefix="rfos-bringup-") as tmp:
        deploy = Path(tmp) / "deploy"
        generated = time.perf_counter()
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
                "--containers",
                str(containers),
                "--zone-containers",
                str(zone_containers),
                *([] if secure else ["--insecure"]),
            ],
            check=True,
            capture_output=True,
        )
        gen_config_s = time.perf_counter() - generated
        _HEADERS.clear()
        if secure:
            token = (deploy / "secrets" / "api-admin.token").read_text().strip()
            _HEADERS["Authorization"] = f"Bearer {token}"
        if not leases:  # the zones run without a lease from their area and grant none to robots
            for zone_file in sorted(deploy.glob("zone-*.yaml")):
                with zone_file.open("a") as out:
                    out.write("leases:\n  robot_lease_s: 0\n  zone_lease_s: 0\n")
        http = free_port()
        base = f"http://127.0.0.1:{http}"
        env = {**os.environ, "RFOS_LOG_DIR": str(Path(tmp) / "logs")}
        env.pop("MESSAGING_URL", None)
        started = time.perf_counter()
        launcher = subprocess.Popen(
            [
                str(RFOS),
                "launch",
                str(ROOT / "launch" / "fleet_1000.launch.yaml"),
                f"robots:={robots}",
                f"zones:={zones}",
                f"containers:={containers}",
                f"zone_containers:={zone_containers}",
                f"config_dir:={deploy}",
                f"nats_port:={_free_ports(nats_cluster)}",
                f"cluster_port:={_free_ports(nats_cluster)}",
                f"nats_cluster:={nats_cluster}",
                f"http_port:={http}",
                f"state_dir:={Path(tmp) / 'nats'}",
                f"journal_dir:={Path(tmp) / 'journal'}",
                f"secure:={'true' if secure else 'false'}",
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
            pids = set(tree(launcher.pid))
            tiers, alive = cpu_by_part(pids, STEADY_SECONDS)
            cpu = sum(tiers.values())
            pss = sum(pss_kib(pid) for pid in alive) / 1024
            api = {path: _latency_ms(base, path, 20) for path in ("/api/fleet", "/api/zones")}
            dashboard = _with_dashboard(base, pids)
            online_after = _online(base)
        finally:
            launcher.send_signal(signal.SIGINT)
            try:
                launcher.wait(60)
            except subprocess.TimeoutExpired:
                launcher.kill()
    return {
        "robots": robots,
        "leases": "on" if leases else "off",
        "secure": "on" if secure else "off",
        "nats_servers": nats_cluster,
        "gen_config_s": round(gen_config_s, 2),
        "zones": zones,
        "edge_containers": containers,
        "zone_processes": zone_containers or zones,
        "visible_s": round(visible_s, 1) if visible_s is not None else None,
        "robots_online_at_end": last,
        "processes": len(alive),
        "robots_online_steady": online_after,
        "steady_cpu_fraction_of_core": round(cpu, 3),
        "steady_cpu_by_tier": {tier: round(value, 3) for tier, value in sorted(tiers.items())},
        "total_pss_mib": round(pss),
        "api_latency_ms": api,
        "with_dashboard_open": dashboard,
    }


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive TCP ports free on 127.0.0.1 right now."""
    while True:
        first = free_port()
        if first + count > 65535:
            continue
        socks = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()


def _mean_ratio(on: list[Any], off: list[Any]) -> float | None:
    """mean(on) / mean(off), or None when a run gave no figure."""
    if any(v is None for v in on + off) or not on or not off or sum(off) == 0:
        return None
    return round((sum(on) / len(on)) / (sum(off) / len(off)), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robots", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="give up on bring-up after this many seconds"
    )
    parser.add_argument(
        "--per-container",
        type=int,
        default=0,
        help="robots per edge container process (default: 250; 500 above 2000 robots)",
    )
    parser.add_argument(
        "--zones-per-container",
        type=int,
        default=-1,
        help="zones per zone container process; 0: a process per zone (default: 0; 10 above 2000 robots)",
    )
    parser.add_argument(
        "--leases",
        default="on",
        help="leases per run of each size, in turn: on,off,on,off compares their steady cost (default: on)",
    )
    parser.add_argument(
        "--secure",
        default="on",
        help="security per run of each size, in turn: on,off,on,off compares secured and open (default: on)",
    )
    parser.add_argument(
        "--nats-cluster",
        default="1",
        help="NATS servers per run of each size, in turn: 1,3 compares one server with a 3-node cluster",
    )
    args = parser.parse_args()
    clusters = [int(n) for n in args.nats_cluster.split(",") if n.strip()]
    modes = [mode.strip() == "on" for mode in args.leases.split(",") if mode.strip()]
    secure_modes = [mode.strip() == "on" for mode in args.secure.split(",") if mode.strip()]
    results = []
    for robots in args.robots:
        zones = max(1, robots // 200)
        progress(f"bringup: {robots} robots in {zones} zones ...")
        large = robots > LARGE_FLEET
        per_container = args.per_container or (500 if large else 250)
        zones_per_container = (
            args.zones_per_container if args.zones_per_container >= 0 else (10 if large else 0)
        )
        for leases in modes:
            for secure in secure_modes:
                for servers in clusters:
                    results.append(
                        run(
                            robots,
                            zones,
                            args.timeout,
                            per_container,
                            zones_per_container,
                            leases=leases,
                            secure=secure,
                            nats_cluster=servers,
                        )
                    )
                    progress(f"bringup: {results[-1]}")
    lease_cpu: dict[str, Any] = {}
    for robots in args.robots:
        on = [
            r["steady_cpu_fraction_of_core"] for r in results if r["robots"] == robots and r["leases"] == "on"
        ]
        off = [
            r["steady_cpu_fraction_of_core"]
            for r in results
            if r["robots"] == robots and r["leases"] == "off"
        ]
        if on and off:
            ratio = (sum(on) / len(on)) / (sum(off) / len(off))
            lease_cpu[str(robots)] = {"cpu_on": on, "cpu_off": off, "on_over_off": round(ratio, 3)}
    security: dict[str, Any] = {}
    for robots in args.robots:
        on_runs = [r for r in results if r["robots"] == robots and r["secure"] == "on"]
        off_runs = [r for r in results if r["robots"] == robots and r["secure"] == "off"]
        if on_runs and off_runs:
            security[str(robots)] = {
                key: {
                    "on": [r[key] for r in on_runs],
                    "off": [r[key] for r in off_runs],
                    "on_over_off": _mean_ratio([r[key] for r in on_runs], [r[key] for r in off_runs]),
                }
                for key in ("visible_s", "steady_cpu_fraction_of_core", "total_pss_mib")
            }
    cluster: dict[str, Any] = {}
    for robots in args.robots:
        many = [r for r in results if r["robots"] == robots and r["nats_servers"] > 1]
        one = [r for r in results if r["robots"] == robots and r["nats_servers"] == 1]
        if many and one:
            cluster[str(robots)] = {
                key: {
                    "cluster": [r[key] for r in many],
                    "single": [r[key] for r in one],
                    "cluster_over_single": _mean_ratio([r[key] for r in many], [r[key] for r in one]),
                }
                for key in ("visible_s", "steady_cpu_fraction_of_core", "total_pss_mib")
            }
    emit(
        {
            "benchmark": "bringup",
            "mode": "composed",
            "runs": results,
            "lease_steady_cpu": lease_cpu or None,
            "security_on_over_off": security or None,
            "cluster_over_single": cluster or None,
            "targets": {"1000": {"visible_s": 20, "steady_cpu_fraction_of_core": 0.6, "total_pss_mib": 1536}},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
