"""Cluster chaos: the fleet on a 3-node NATS cluster, two fleet instances, one zone at an edge site.

    .venv/bin/python benchmarks/cluster.py              # 1000 robots, 200 orders/s (~8 min)
    .venv/bin/python benchmarks/cluster.py --quick      # 100 robots, 20 orders/s, short gaps

On loopback: nats-1..nats-3, a nats-server cluster with JetStream (streams and KV at 3
replicas: the tiers choose them on a cluster), each with a leaf-node listener; the site
``zone-5`` and its robots on their own nats-server (a leaf node with JetStream domain
``zone-5``) that dials nats-1's leaf port through a TCP proxy this benchmark controls
(``_tcp_proxy.py``); fleet instances ``fleet-a`` and ``fleet-b`` (one leads, by the
JetStream KV lease); one ``area``; zones 1-5, each with its robots composed into one
container process. Every tier gets all three cluster URLs (the site's: the leaf's). The
deployment is open (no credentials): security's cost is measured by ``bringup.py --secure``.

A thread pool submits orders at ``--rate`` to whichever fleet instance leads (a standby's
503 names the leader; the submitter moves on); a reader polls ``GET /api/fleet`` on both
instances every 0.1 s. Faults, one at a time, with ``--gap`` seconds between:

1. ``nats_node``: kill -9 of nats-2, restarted after 10 s (same store);
2. ``fleet_leader``: kill -9 of the leading fleet instance, restarted after 5 s (it comes
   back as the standby);
3. ``site_cut``: the site's leaf link is cut for ``--cut`` seconds (60), then restored.

Then submission stops and the fleet gets ``--drain`` seconds to finish. Executions are
counted from the robots' journals (``_chaos_count.py``, as ``chaos.py`` does): lost,
executed twice, completed twice, stuck. Per fault: ``write_gap_s`` (the longest time
without an accepted submission, from the fault to 30 s after it), ``read_gap_s`` (the
longest time no instance answered a read), ``new_order_started_s`` (from the fault to the
first start, on a robot, of an order accepted after the fault: the whole path serves
again). For the cut: the orders the site's robots held, those they completed during the
cut, whether the fleet showed ``zone-5`` DISCONNECTED and its robots stale (not offline),
and ``converged_s``: from the restore until the fleet shows the last 20 orders the site
completed during the cut as COMPLETED (the site's events arrive in order; every order's
final state is counted at the end anyway).

Prints one JSON document on stdout; progress on stderr; logs, journals and stores stay in
the work dir (``--work-dir``, default a temp dir).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _chaos_count import FINAL_STATES, Execution, count, parse_journal
from _chaos_http import Submitter, get_json, longest_gap, request
from _common import progress
from _proc import free_port
from _tcp_proxy import TcpProxy
from _tierproc import TierProcess, edge_container_cmd

from robotfleet_nodes.broker import find_nats_server

BIN = Path(sys.executable).parent
AREA = "area-1"
SITE_ZONE = "zone-5"
ZONES = ("zone-1", "zone-2", "zone-3", "zone-4", SITE_ZONE)
FLEETS = ("fleet-a", "fleet-b")
TASK = "pick"
NATS_DOWN_S = 10.0
FLEET_DOWN_S = 5.0
STARTUP_TIMEOUT_S = 300.0
#: Orders completed last at the site during the cut, polled after the restore (``converged_s``).
CONVERGE_SAMPLE = 20
#: The zones' ``leases:`` section.
LEASES: dict[str, Any] = {
    "robot_lease_s": 5.0,
    "zone_lease_s": 10.0,
    "margin_s": 1.0,
    "renew_period_s": 1.0,
    "on_lease_loss": "pause",
}
SITE_OFFLINE_GRACE_S = 120.0
HEARTBEAT_TIMEOUT_S = 3.0
ZONE_SILENCE_TIMEOUT_S = 5.0
STATUS_RATE_HZ = 1.0
#: The edges' ``sim:`` section (plus a seed per robot): tasks of 0.5-3.3 s.
SIM: dict[str, Any] = {
    "speed": 2.0,
    "work_time_s": {TASK: 0.5},
    "default_work_time_s": 0.5,
    "area": [0.0, 0.0, 4.0, 4.0],
    "battery_drain_per_s": 0.001,
    "idle_drain_per_s": 0.0001,
}
TARGETS = {
    "lost": 0,
    "executed_twice": 0,
    "stuck": 0,
    "http_5xx_other_than_503": 0,
    "write_gap_s": {"fleet_leader": "<= 5", "nats_node": "<= 15"},
    "read_gap_s": "<= 1 (two fleet instances)",
    "site_cut": "the site completes the orders it held during the cut; converged_s <= 5",
}


@dataclass
class Sizes:
    robots: int
    rate: float
    gap_s: float
    cut_s: float
    drain_s: float


def _nats_conf(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


class Deployment:
    """The processes, configs and the proxy of one run."""

    def __init__(self, size: Sizes, work: Path) -> None:
        self.size = size
        self.work = work
        self.logs = work / "logs"
        self.config_dir = work / "config"
        self.journal_dir = work / "journal"
        for d in (self.logs, self.config_dir / "edge", self.journal_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.client_ports = [free_port() for _ in range(3)]
        self.route_ports = [free_port() for _ in range(3)]
        self.leaf_ports = [free_port() for _ in range(3)]
        self.site_port = free_port()
        self.http_ports = {name: free_port() for name in FLEETS}
        self.hub_url = ",".join(f"nats://127.0.0.1:{p}" for p in self.client_ports)
        self.site_url = f"nats://127.0.0.1:{self.site_port}"
        self.proxy = TcpProxy(self.leaf_ports[0])
        per_zone = size.robots // len(ZONES)
        self.zone_robots = {
            z: [f"robot-{i * per_zone + r + 1}" for r in range(per_zone)] for i, z in enumerate(ZONES)
        }
        self.robot_zone = {r: z for z, rs in self.zone_robots.items() for r in rs}
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "MESSAGING_URL"},
            "RFOS_CONNECT_WAIT": "60",
            "RFOS_STATE_DIR": str(work / "state"),
            "RFOS_INSECURE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self.nats: list[TierProcess] = []
        self.site: TierProcess
        self.fleets: dict[str, TierProcess] = {}
        self.area: TierProcess
        self.zones: dict[str, TierProcess] = {}
        self.edges: dict[str, TierProcess] = {}
        self._write_configs()
        self._make_processes()

    def _url(self, zone: str | None) -> str:
        return self.site_url if zone == SITE_ZONE else self.hub_url

    def _write(self, name: str, value: dict[str, Any]) -> Path:
        path = self.config_dir / name
        path.write_text(json.dumps(value, indent=1) + "\n")
        return path

    def _write_configs(self) -> None:
        for name, port in self.http_ports.items():
            self._write(
                f"{name}.yaml",
                {
                    "messaging": {"broker": self.hub_url},
                    "http": {"host": "127.0.0.1", "port": port},
                    "areas": [AREA],
                    "failover": {"instance_id": name},
                    "site_domains": {SITE_ZONE: SITE_ZONE},  # the hub's order events source the site's
                },
            )
        self._write(
            "area.yaml",
            {
                "area_id": AREA,
                "messaging": {"broker": self.hub_url},
                "zones": list(ZONES),
                "zone_silence_timeout_s": ZONE_SILENCE_TIMEOUT_S,
            },
        )
        for zone, robots in self.zone_robots.items():
            config: dict[str, Any] = {
                "zone_id": zone,
                "area_id": AREA,
                "messaging": {"broker": self._url(zone)},
                "robots": robots,
                "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
                "leases": LEASES,
            }
            if zone == SITE_ZONE:
                config["site"] = {"site_offline_grace_s": SITE_OFFLINE_GRACE_S}
            self._write(f"{zone}.yaml", config)
        for k, (robot, zone) in enumerate(self.robot_zone.items()):
            self._write(
                f"edge/{robot}.yaml",
                {
                    "robot_id": robot,
                    "zone_id": zone,
                    "messaging": {"broker": self._url(zone)},
                    "status_rate_hz": STATUS_RATE_HZ,
                    "journal_dir": str(self.journal_dir),
                    "sim": {**SIM, "seed": k},
                },
            )

    def _proc(
        self,
        name: str,
        cmd: list[str],
        up: str,
        env: dict[str, str] | None = None,
        robots: list[str] | None = None,
    ) -> TierProcess:
        return TierProcess(
            name,
            cmd,
            env={**self.env, **(env or {})},
            log_path=self.logs / f"{name}.log",
            up_pattern=up,
            robots=robots or [],
        )

    def _make_processes(self) -> None:
        server = find_nats_server()
        for i in range(3):
            routes = ", ".join(
                f"nats-route://127.0.0.1:{p}" for j, p in enumerate(self.route_ports) if j != i
            )
            conf = _nats_conf(
                self.work / f"nats-{i + 1}.conf",
                [
                    f"server_name: nats-{i + 1}",
                    f"listen: 127.0.0.1:{self.client_ports[i]}",
                    "max_payload: 8MB",
                    f'jetstream {{ store_dir: "{self.work / f"nats-{i + 1}"}", domain: hub }}',
                    f"cluster {{ name: rfos, listen: 127.0.0.1:{self.route_ports[i]}, routes: [{routes}] }}",
                    f"leafnodes {{ listen: 127.0.0.1:{self.leaf_ports[i]}, no_advertise: true }}",
                ],
            )
            self.nats.append(self._proc(f"nats-{i + 1}", [server, "-c", str(conf)], "Server is ready"))
        site_conf = _nats_conf(
            self.work / "site.conf",
            [
                f"server_name: site-{SITE_ZONE}",
                f"listen: 127.0.0.1:{self.site_port}",
                "max_payload: 8MB",
                f'jetstream {{ store_dir: "{self.work / "site"}", domain: {SITE_ZONE} }}',
                f"leafnodes {{ remotes: [ {{ urls: [nats-leaf://127.0.0.1:{self.proxy.port}] }} ] }}",
            ],
        )
        self.site = self._proc("site", [server, "-c", str(site_conf)], "Server is ready")
        cfg = self.config_dir
        for name in FLEETS:
            self.fleets[name] = self._proc(
                name,
                [str(BIN / "fleet")],
                "dashboard at",
                {"FLEET_CONFIG": str(cfg / f"{name}.yaml"), "FLEET_INSTANCE_ID": name},
            )
        self.area = self._proc(
            "area", [str(BIN / "area")], "routing to zones", {"AREA_CONFIG": str(cfg / "area.yaml")}
        )
        for zone, robots in self.zone_robots.items():
            self.zones[zone] = self._proc(
                zone, [str(BIN / "zone")], "zone up", {"ZONE_CONFIG": str(cfg / f"{zone}.yaml")}
            )
            cmd = edge_container_cmd(f"edges_{zone}", [cfg / "edge" / f"{r}.yaml" for r in robots])
            # composed edges share the container's connection: MESSAGING_URL, not their files
            env = {"MESSAGING_URL": self._url(zone)}
            self.edges[zone] = self._proc(f"edges-{zone}", cmd, "components loaded", env, robots=robots)

    def tiers(self) -> list[TierProcess]:
        return [*self.fleets.values(), self.area, *self.zones.values(), *self.edges.values()]

    def start(self) -> None:
        progress(
            f"cluster: 3 nats + site leaf, {len(FLEETS)} fleets, area, {len(ZONES)} zones, "
            f"{len(self.robot_zone)} robots; work dir {self.work}"
        )
        self.proxy.start()
        for proc in self.nats:
            proc.start()
        for proc in self.nats:
            if proc.wait_up(60) is None:
                raise RuntimeError(f"{proc.name} did not start: see {proc.log_path}")
        self.site.start()
        if self.site.wait_up(60) is None:
            raise RuntimeError(f"the site's nats-server did not start: see {self.site.log_path}")
        first, *others = self.tiers()
        first.start()  # fleet-a first: it leads, and creates the streams
        if self.wait_role(first.name, "leader", STARTUP_TIMEOUT_S) is None:
            raise RuntimeError(f"fleet-a did not lead: see {first.log_path}")
        for proc in others:
            proc.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        online = 0
        robots = len(self.robot_zone)
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, KeyError):
                online = int(get_json(self.http_ports["fleet-a"], "/api/fleet")["robots_online"])
            if online >= robots:
                progress(f"cluster: {online}/{robots} robots online")
                return
            time.sleep(1.0)
        raise RuntimeError(f"only {online}/{robots} robots online after {STARTUP_TIMEOUT_S:.0f} s")

    def health(self, name: str) -> dict[str, Any] | None:
        with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
            status, _, body = request(self.http_ports[name], "GET", "/healthz", timeout=2.0)
            if status == 200:
                answer = json.loads(body)
                return answer if isinstance(answer, dict) else None
        return None

    def wait_role(self, name: str, role: str, timeout: float) -> float | None:
        """When fleet instance ``name`` reported ``role`` (polling /healthz); None: not in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.health(name)
            if health is not None and health.get("role") == role:
                return time.time()
            time.sleep(0.1)
        return None

    def leader(self) -> str | None:
        for name in FLEETS:
            health = self.health(name)
            if health is not None and health.get("role") == "leader":
                return name
        return None

    def stop(self) -> None:
        for proc in [*reversed(self.tiers()), self.site, *self.nats]:
            proc.stop()
        self.proxy.close()


class Reader:
    """Reads ``GET /api/fleet`` from every instance every 0.1 s; keeps when any one answered,
    and zone-5's state and its robots' staleness as the fleet shows them."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.ok_at: list[float] = []
        self.site_states: list[tuple[float, str]] = []
        self.site_robots: list[tuple[float, int, int]] = []  # (t, stale, offline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        k = 0
        while not self._stop.wait(0.1):
            k += 1
            for name in FLEETS:
                with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
                    get_json(self.dep.http_ports[name], "/api/fleet", timeout=1.0)
                    self.ok_at.append(time.time())
            if k % 5 == 0:
                self._site(k)

    def _site(self, k: int) -> None:
        leader = self.dep.leader() or FLEETS[0]
        port = self.dep.http_ports[leader]
        with contextlib.suppress(OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
            zones = get_json(port, "/api/zones", timeout=1.0)
            for zone in zones:
                if zone.get("id") == SITE_ZONE:
                    self.site_states.append((time.time(), str(zone.get("state", zone.get("status")))))
            if k % 10 == 0:
                robots = get_json(port, f"/api/robots?zone_id={SITE_ZONE}", timeout=2.0)
                stale = sum(1 for r in robots if r.get("stale"))
                offline = sum(1 for r in robots if r.get("state") == "OFFLINE")
                self.site_robots.append((time.time(), stale, offline))


def read_executions(dep: Deployment) -> list[Execution]:
    out: list[Execution] = []
    for path in sorted(dep.journal_dir.glob("*.journal")):
        runs, _ = parse_journal(path.name.removesuffix(".journal"), path.read_text().splitlines())
        out.extend(runs)
    return out


def fetch_states(dep: Deployment, ids: list[str]) -> dict[str, str | None]:
    """Each order's state per the leading instance (None: 404; UNREACHABLE: no answer)."""

    def one(order_id: str) -> tuple[str, str | None]:
        for _ in range(10):
            port = dep.http_ports[dep.leader() or FLEETS[0]]
            try:
                status, _, body = request(port, "GET", f"/api/work-orders/{order_id}")
            except (OSError, http.client.HTTPException):
                time.sleep(0.5)
                continue
            return order_id, (str(json.loads(body)["state"]) if status == 200 else None)
        return order_id, "UNREACHABLE"

    with ThreadPoolExecutor(16) as pool:
        return dict(pool.map(one, ids))


def drain(dep: Deployment, timeout: float) -> float:
    """Wait until the leader reports no open order (or ``timeout``); seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with contextlib.suppress(OSError, ValueError, KeyError, http.client.HTTPException):
            port = dep.http_ports[dep.leader() or FLEETS[0]]
            counts = get_json(port, "/api/fleet")["work_orders"]
            if sum(v for k, v in counts.items() if k not in FINAL_STATES) == 0:
                break
        time.sleep(1.0)
    return round(time.monotonic() - began, 1)


def _first_new_start(runs: list[Execution], when: dict[str, float], t0: float) -> float | None:
    starts = [x.start for x in runs if when.get(x.order, 0.0) > t0 and x.start > t0]
    return round(min(starts) - t0, 2) if starts else None


def run(size: Sizes, work: Path) -> dict[str, Any]:
    dep = Deployment(size, work)
    result: dict[str, Any] = {"robots": len(dep.robot_zone), "zones": len(ZONES), "rate": size.rate}
    submitter = Submitter(list(dep.http_ports.values()), size.rate, f"cl{int(time.time()) % 100000}")
    reader = Reader(dep)
    faults: list[dict[str, Any]] = []
    cut_window: tuple[float, float] = (0.0, 0.0)
    try:
        dep.start()
        reader.start()
        began = time.time()
        submitter.start()
        time.sleep(size.gap_s)

        victim = dep.nats[1]
        t0 = victim.kill9()
        progress(f"cluster: kill -9 {victim.name}; restart in {NATS_DOWN_S:.0f} s")
        time.sleep(NATS_DOWN_S)
        victim.start()
        faults.append({"fault": "nats_node", "target": victim.name, "at": t0, "up_at": victim.wait_up(60)})
        time.sleep(size.gap_s)

        leader = dep.leader() or FLEETS[0]
        standby = next(n for n in FLEETS if n != leader)
        t0 = dep.fleets[leader].kill9()
        progress(f"cluster: kill -9 the leading fleet {leader}; restart in {FLEET_DOWN_S:.0f} s")
        took_over = dep.wait_role(standby, "leader", 30.0)
        time.sleep(max(0.0, t0 + FLEET_DOWN_S - time.time()))
        dep.fleets[leader].start()
        faults.append(
            {
                "fault": "fleet_leader",
                "target": leader,
                "at": t0,
                "standby_leads_after_s": round(took_over - t0, 2) if took_over else None,
            }
        )
        time.sleep(size.gap_s)

        runs_before = read_executions(dep)
        t0 = time.time()
        dep.proxy.cut()
        progress(f"cluster: cut {SITE_ZONE}'s leaf link for {size.cut_s:.0f} s")
        held = {x.order for x in runs_before if dep.robot_zone.get(x.robot) == SITE_ZONE and x.end is None}
        time.sleep(size.cut_s)
        t1 = time.time()
        dep.proxy.restore()
        cut_window = (t0, t1)
        progress(f"cluster: restored {SITE_ZONE}'s leaf link")
        runs_cut = read_executions(dep)
        ended = sorted(
            (x.end, x.order)
            for x in runs_cut
            if dep.robot_zone.get(x.robot) == SITE_ZONE
            and x.outcome == "SUCCEEDED"
            and x.end is not None
            and t0 <= x.end <= t1
        )
        done_in_cut = sorted({order for _, order in ended})
        # The site's events arrive in the order the site stored them: once the last ones
        # completed during the cut show COMPLETED, the earlier ones have too (every order's
        # final state is checked again at the end).
        converged = None
        deadline = time.monotonic() + 90.0
        pending = {order for _, order in ended[-CONVERGE_SAMPLE:]}
        while pending and time.monotonic() < deadline:
            states = fetch_states(dep, sorted(pending))
            pending = {o for o, s in states.items() if s != "COMPLETED"}
            if not pending:
                converged = round(time.time() - t1, 2)
                break
            time.sleep(0.2)
        faults.append(
            {
                "fault": "site_cut",
                "target": SITE_ZONE,
                "at": t0,
                "cut_s": round(t1 - t0, 1),
                "orders_held_at_cut": len(held),
                "held_completed_during_cut": len(held & set(done_in_cut)),
                "completed_during_cut": len(done_in_cut),
                "converged_s": converged,
                "converged_sample": CONVERGE_SAMPLE,
                "not_converged_after_90_s": len(pending) if converged is None else 0,
            }
        )
        time.sleep(size.gap_s)
        progress("cluster: faults done; stopping submission")
        submitter.stop()
        result["submit_s"] = round(time.time() - began, 1)
        result["drain_s"] = drain(dep, size.drain_s)
        accepted = sorted(submitter.accepted)
        states = fetch_states(dep, accepted)
        reader.stop()
    finally:
        with contextlib.suppress(RuntimeError):
            reader.stop()
        dep.stop()
    runs = read_executions(dep)
    tally = count(runs, accepted, states)
    result.update(submitter.summary())
    result.update(tally.summary())
    result["orders_per_s_accepted"] = round(len(accepted) / max(result["submit_s"], 1.0), 1)
    when = submitter.accepted_when
    for fault in faults:
        t0 = fault.pop("at")
        fault["write_gap_s"] = longest_gap(list(when.values()), t0, t0 + 30.0)
        fault["read_gap_s"] = longest_gap(reader.ok_at, t0, t0 + 30.0)
        fault["new_order_started_s"] = _first_new_start(runs, when, t0)
        if fault.pop("up_at", None) is not None:
            fault["restarted"] = True
    t0, t1 = cut_window
    seen = {state for t, state in reader.site_states if t0 <= t <= t1}
    stale = [s for t, s, _ in reader.site_robots if t0 + ZONE_SILENCE_TIMEOUT_S + 2 <= t <= t1]
    offline = [o for t, _, o in reader.site_robots if t0 <= t <= t1]
    for fault in faults:
        if fault["fault"] == "site_cut":
            fault["zone_states_seen_during_cut"] = sorted(seen)
            fault["site_robots_stale_during_cut_min"] = min(stale) if stale else None
            fault["site_robots_offline_during_cut_max"] = max(offline) if offline else None
    result["faults"] = faults
    result["work_dir"] = str(work)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--gap", type=float, default=25.0)
    parser.add_argument("--cut", type=float, default=None, help="site cut [s] (default 60; --quick: 20)")
    parser.add_argument("--drain", type=float, default=90.0)
    parser.add_argument("--quick", action="store_true", help="100 robots, 20 orders/s, 15 s gaps, 20 s cut")
    parser.add_argument("--work-dir")
    args = parser.parse_args()
    size = (
        Sizes(robots=100, rate=20.0, gap_s=15.0, cut_s=args.cut or 20.0, drain_s=60.0)
        if args.quick
        else Sizes(
            robots=args.robots, rate=args.rate, gap_s=args.gap, cut_s=args.cut or 60.0, drain_s=args.drain
        )
    )
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="rfos-cluster-"))
    started = time.monotonic()
    result = run(size, work)
    out = {
        "benchmark": "cluster",
        "quick": args.quick,
        "config": {
            "leases": LEASES,
            "site_offline_grace_s": SITE_OFFLINE_GRACE_S,
            "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
            "zone_silence_timeout_s": ZONE_SILENCE_TIMEOUT_S,
            "sim": SIM,
            "sizes": vars(size),
        },
        "targets": TARGETS,
        "result": result,
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
