"""Work orders end to end: sustained throughput, latency, CPU and memory of a composed fleet.

One process runs the whole fleet: the fleet service with its HTTP API, one area, 5 zones
and ``--robots`` edges (default 1000), the edges, zones and area on one broker connection,
the fleet on another (as ``tests/fleet/topology.small_fleet`` composes them, but with the
production periods: 1 Hz status, 1 Hz summaries, 3 s heartbeat timeout). The broker runs in
its own process; so does the load generator (a child of this script, ``--loadgen``), so
the CPU measured for the fleet process is the fleet's only.

Simulated robots (realistic, not the tests' fast ones): 1.5 m/s, 1.0 s of work per task,
parked and sent to random targets in a 3 m x 3 m cell, so one order takes ~1-3 s on a
robot (mean ~2 s: ~1 s driving, 1 s working). 1000 robots can therefore complete at most
~500 orders/s.

(a) Throughput: for each offered rate (``--rates``, default 50, 100, 200, 400 orders/s)
the load generator POSTs ``/api/work-orders`` open-loop at that rate for ``--duration``
seconds over keep-alive connections (raw asyncio streams, many in parallel). Rates are
counted in the steady window (after the first ``WARMUP_S`` seconds): accepted/s from the
201 answers, dispatched/s and completed/s from the orders' history timestamps. The
*backlog* (orders PENDING in the fleet or DISPATCHED but waiting in a zone) is sampled
every second; a rate is sustained when the backlog does not grow (it grows when its slope
over the steady window exceeds ``GROWTH_LIMIT`` of the rate and it ends above
``BACKLOG_LIMIT_S`` seconds of offered orders) and accepted and completed keep up (>= 90 %).
Stepping stops at the first rate that is not sustained.

(b) Latency at the first rate (50 orders/s): from the client sending the POST to the order
being DISPATCHED, ASSIGNED (the robot accepted the goal: "robot accepted"), EXECUTING (first
feedback) and COMPLETED, p50/p99 from the history timestamps (one clock: same host).

Diagnostics per step: PENDING alone, the fleet's order-event consumer lag (events stored
in JetStream, not yet applied), the HTTP POST round trip seen by the client, and the
longest full (generation 2) garbage-collection pause of the fleet process.

(c) CPU (fraction of one core) of the fleet process and of the broker during each step,
and their RSS at the end of the step.

``--secure on,off`` composes one fleet secured as ``make run`` is (the broker started from a
generated configuration: JWT identities and TLS; the tiers' connection on an identity holding
exactly their robots', zones' and area's permissions, the fleet on its own; the load generator
with an operator API token) and one open, in turn, and compares them (issue 14: within 10 %).

Prints one JSON line on stdout (progress on stderr). ``--robots 100`` for a small run.
Like the tiers' executables, the benchmark calls
``robotfleet_nodes.node.runner.freeze_startup_objects()`` once composed (``gc.freeze()``: what
was built at start leaves the collector's reach); ``--no-gc-freeze`` skips it (to see how much
of the tail latency full collections cause). ``--gc-threshold0 N`` (diagnostic) also sets
``gc.set_threshold(N, 20, 10)``: fewer collections of the garbage made per order.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import emit, progress
from _proc import cpu_seconds, own_cpu, rss_mib

from robotfleet_nodes.area.node import AreaNode
from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config import (
    AreaConfig,
    EdgeConfig,
    FleetConfig,
    HttpConfig,
    LeaseConfig,
    SimDriverConfig,
    ZoneConfig,
)
from robotfleet_nodes.edge.node import EdgeNode
from robotfleet_nodes.fleet.http_api import build_app
from robotfleet_nodes.fleet.service import FleetService
from robotfleet_nodes.msg import WorkOrder
from robotfleet_nodes.node import Context
from robotfleet_nodes.node.runner import freeze_startup_objects
from robotfleet_nodes.security.deployment import write_secrets
from robotfleet_nodes.security.identities import IdentityStore
from robotfleet_nodes.security.permissions import Permissions, PermissionTables
from robotfleet_nodes.security.tokens import create_token
from robotfleet_nodes.security.topology import Topology
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.web import HttpServer
from robotfleet_nodes.zone.node import ZoneNode

ZONES = 5
SPEED_M_S = 1.5
WORK_S = 1.0
CELL_M = 3.0
WARMUP_S = 5.0  # left out of the rates: the first orders have not completed yet
GROWTH_LIMIT = 0.02  # backlog slope (orders/s) allowed, as a fraction of the offered rate
BACKLOG_LIMIT_S = 1.0  # ... and a backlog beyond this many seconds of offered orders
DRAIN_TIMEOUT_S = 90.0
CONNECTIONS = 32
SCRIPT = os.path.abspath(__file__)
TARGETS = {
    "sustained_orders_per_s": ">= 200 work orders/s sustained",
    "p99_post_to_robot_accepted_ms_at_50": "p99 POST -> robot accepted <= 50 ms at 50 orders/s",
}


# -- measuring -----------------------------------------------------------------------------
def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def ms_stats(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples) * 1e3, 1),
        "p99_ms": round(pct(samples, 0.99) * 1e3, 1),
        "max_ms": round(max(samples) * 1e3, 1),
    }


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y)."""
    if len(points) < 2:
        return 0.0
    mt = statistics.fmean(t for t, _ in points)
    my = statistics.fmean(y for _, y in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / den if den else 0.0


def stamp_s(stamp: Any) -> float:
    return float(stamp.sec) + float(stamp.nanosec) / 1e9


# -- load generator (a child process) -----------------------------------------------------
async def _loadgen(
    url: str, rate: float, duration: float, prefix: str, connections: int, *, token: str | None = None
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    total = int(rate * duration)
    slots: asyncio.Queue[int | None] = asyncio.Queue()
    sent: dict[str, float] = {}
    answers: dict[str, tuple[int, float]] = {}
    errors: list[str] = []

    async def producer() -> None:
        start = time.perf_counter()
        for k in range(total):
            delay = start + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            slots.put_nowait(k)
        for _ in range(connections):
            slots.put_nowait(None)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while (k := await slots.get()) is not None:
                order_id = f"{prefix}-{k}"
                body = json.dumps({"area_id": "area-1", "task": "pick", "id": order_id}).encode()
                fields = f"Content-Type: application/json\r\n{auth}Content-Length: {len(body)}\r\n"
                head = (
                    f"POST /api/work-orders HTTP/1.1\r\nHost: {host}:{port}\r\n{fields}"
                    "Connection: keep-alive\r\n\r\n"
                ).encode()
                sent[order_id] = time.time()
                writer.write(head + body)
                await writer.drain()
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                await reader.readexactly(length)
                status = int(status_line.split()[1])
                answers[order_id] = (status, time.time())
        except Exception as exc:  # reported, not fatal: the figures show it
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            writer.close()

    t0 = time.time()
    await asyncio.gather(producer(), *(worker() for _ in range(connections)))
    return {"t0": t0, "t1": time.time(), "sent": sent, "answers": answers, "errors": errors[:5]}


async def run_loadgen(
    url: str, rate: float, duration: float, prefix: str, token: str | None = None
) -> dict[str, Any]:
    """Run the load generator in its own process; its JSON result."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        SCRIPT,
        "--loadgen",
        json.dumps({"url": url, "rate": rate, "duration": duration, "prefix": prefix, "token": token}),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    result: dict[str, Any] = json.loads(out)
    result["pid_cpu"] = result.pop("cpu", None)
    return result


# -- the fleet -------------------------------------------------------------------------------
class Secured:
    """A secured deployment of the composed fleet: the broker's configuration, the
    identities of the two connections, the CA and an operator API token."""

    def __init__(self, robots: int, root: str, directory: Path) -> None:
        zone_ids = [f"zone-{z + 1}" for z in range(ZONES)]
        owner = _owners(robots)
        topology = Topology(
            zone_robots={z: [r for r, zone in owner.items() if zone == z] for z in zone_ids},
            area_zones={"area-1": zone_ids},
            root=root,
        )
        summary = write_secrets(directory, topology, containers=1, zone_containers=1)
        self.secrets = summary.secrets
        self.server_config = summary.server_config
        # One connection carries the edges, zones and area: exactly their permissions together.
        tables = PermissionTables(topology)
        perms = Permissions.union(
            tables.robots_container("tiers", topology.robots),
            tables.zones_container("tiers", zone_ids),
            tables.area("area-1"),
        )
        store = IdentityStore(self.secrets).open()
        store.issue("tiers", "robots", perms)
        store.save()
        self.tiers_creds = self.secrets / "tiers.creds"
        self.fleet_creds = self.secrets / "fleet.creds"
        self.ca = self.secrets / "ca.pem"
        self.tokens_file = self.secrets / "api-tokens.json"
        self.token = create_token(self.tokens_file, "loadgen", "operator")


def _owners(robots: int) -> dict[str, str]:
    zone_ids = [f"zone-{z + 1}" for z in range(ZONES)]
    return {f"robot-{r + 1}": zone_ids[r % ZONES] for r in range(robots)}


class Fleet:
    """The composed fleet: contexts, nodes, the service and its HTTP server."""

    def __init__(
        self, url: str, robots: int, *, leases: bool = True, root: str, secured: Secured | None = None
    ) -> None:
        self.url = url
        self.root = root
        self.secured = secured
        self.robots = robots
        self.leases = leases
        self._journals = tempfile.TemporaryDirectory(prefix="rfos-journal-")
        self.nodes: list[Any] = []
        self.contexts: list[Context] = []
        self.service: FleetService | None = None
        self.server: HttpServer | None = None

    def _context(self, creds: Path | None = None) -> Context:
        security: dict[str, Any] = {}
        if self.secured is not None:
            security = {"credentials": str(creds), "tls_ca": str(self.secured.ca)}
        transport = NatsTransport(self.url, mapper=SubjectMapper(root=self.root), **security)
        context = Context(transport=transport, enable_rosout=False)
        self.contexts.append(context)
        return context

    async def start(self) -> None:
        zone_ids = [f"zone-{z + 1}" for z in range(ZONES)]
        owner = _owners(self.robots)
        sim = SimDriverConfig(
            speed=SPEED_M_S,
            work_time_s={"pick": WORK_S},
            default_work_time_s=WORK_S,
            area=(0.0, 0.0, CELL_M, CELL_M),
        )
        # The fleet first: it creates the order stream and bucket (secured zones may not).
        fleet_context = self._context(self.secured.fleet_creds if self.secured else None)
        await fleet_context.start()
        http = HttpConfig(tokens_file=str(self.secured.tokens_file)) if self.secured else HttpConfig()
        self.service = FleetService(FleetConfig(areas=["area-1"], http=http), fleet_context)
        await self.service.start()
        tiers = self._context(self.secured.tiers_creds if self.secured else None)
        await tiers.start()
        for i, (robot_id, zone_id) in enumerate(owner.items()):
            config = EdgeConfig(
                robot_id=robot_id,
                zone_id=zone_id,
                sim=sim.model_copy(update={"seed": i}),
                journal_dir=self._journals.name,
            )
            edge = EdgeNode(config, context=tiers)
            await edge.start()
            self.nodes.append(edge)
            if (i + 1) % max(1, self.robots // 5) == 0:
                progress(f"workorders: {i + 1}/{self.robots} edges up")
        for zone_id in zone_ids:
            robots = [r for r, z in owner.items() if z == zone_id]
            leases = LeaseConfig() if self.leases else LeaseConfig(robot_lease_s=0)
            zone = ZoneNode(
                ZoneConfig(zone_id=zone_id, area_id="area-1", robots=robots, leases=leases), context=tiers
            )
            await zone.start()
            self.nodes.append(zone)
        area = AreaNode(AreaConfig(area_id="area-1", zones=zone_ids), context=tiers)
        await area.start()
        self.nodes.append(area)
        self.server = HttpServer(
            build_app(self.service, static_dir=None), "127.0.0.1", 0, metrics=self.service.metrics
        )
        await self.server.__aenter__()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.__aexit__(None, None, None)
        if self.service is not None:
            await self.service.stop()
        for node in reversed(self.nodes):
            await node.destroy_node()
        for context in self.contexts:
            await context.close()
            await context.transport.close()
        self._journals.cleanup()

    def backlog(self) -> int:
        """Orders not yet on a robot: PENDING in the fleet plus DISPATCHED (queued in a zone)."""
        assert self.service is not None
        counts = self.service.counts()
        return counts["PENDING"] + counts["DISPATCHED"]

    def live(self) -> int:
        assert self.service is not None
        counts = self.service.counts()
        return sum(counts[name] for name in ("PENDING", "DISPATCHED", "ASSIGNED", "EXECUTING"))

    async def event_lag(self) -> int:
        """Order events stored in JetStream that the fleet's consumer has not applied yet."""
        assert self.service is not None
        events = self.service._events
        assert events is not None
        durable = f"fleet_{self.service.config.fleet_id}"
        try:
            info = await events.js.consumer_info(events.stream, durable)
        except Exception:
            return -1
        return int(info.num_pending) + int(info.num_ack_pending)

    def counts(self) -> dict[str, int]:
        assert self.service is not None
        return self.service.counts()

    def robots_online(self) -> int:
        assert self.service is not None
        return int(self.service.fleet()["robots_online"])


class GcPauses:
    """Stop-the-world time of the cyclic garbage collector (gc.callbacks), per generation 2."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif info.get("generation") == 2:
            self.pauses.append(time.perf_counter() - self._start)

    def take(self) -> dict[str, Any]:
        pauses, self.pauses = self.pauses, []
        return {
            "full_collections": len(pauses),
            "max_pause_ms": round(max(pauses, default=0.0) * 1e3, 1),
            "total_pause_ms": round(sum(pauses) * 1e3, 1),
            "gen2_objects": len(gc.get_objects(generation=2)),  # what a full collection walks
        }


_FINAL = {WorkOrder.STATE_COMPLETED, WorkOrder.STATE_FAILED, WorkOrder.STATE_CANCELLED}


async def wait_for(condition: Any, timeout: float, what: str) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            progress(f"workorders: gave up waiting for {what} after {timeout:.0f} s")
            return False
        await asyncio.sleep(0.25)
    return True


async def step(
    fleet: Fleet, broker_pid: int, rate: float, duration: float, n: int, *, gc_pauses: GcPauses
) -> dict[str, Any]:
    """Offer ``rate`` orders/s for ``duration`` s; the step's figures."""
    assert fleet.service is not None
    await wait_for(lambda: fleet.live() == 0, DRAIN_TIMEOUT_S, "the previous step to drain")
    prefix = f"s{n}r{int(rate)}"
    samples: list[tuple[float, float]] = []
    pending: list[int] = []
    lags: list[int] = []
    gc_pauses.take()
    cpu0, bcpu0, m0 = own_cpu(), cpu_seconds(broker_pid), time.monotonic()
    token = fleet.secured.token if fleet.secured is not None else None
    load = asyncio.ensure_future(run_loadgen(fleet.base_url, rate, duration, prefix, token))
    rss_peak = broker_rss_peak = 0.0
    while not load.done():
        samples.append((time.monotonic() - m0, float(fleet.backlog())))
        pending.append(fleet.counts()["PENDING"])
        lags.append(await fleet.event_lag())
        rss_peak = max(rss_peak, rss_mib())
        broker_rss_peak = max(broker_rss_peak, rss_mib(broker_pid))
        await asyncio.wait({load}, timeout=1.0)
    elapsed = time.monotonic() - m0
    cpu = (own_cpu() - cpu0) / elapsed
    broker_cpu = (cpu_seconds(broker_pid) - bcpu0) / elapsed
    result = load.result()
    t0, sent, answers = result["t0"], result["sent"], result["answers"]
    # give the last orders their ~3 s on a robot before counting (not part of the rates)
    await wait_for(lambda: fleet.live() == 0, min(DRAIN_TIMEOUT_S, 15.0), "this step's orders to finish")

    lo, hi = t0 + WARMUP_S, t0 + duration
    window = hi - lo
    accepted = sum(1 for s, at in answers.values() if s == 201 and lo <= at < hi)
    at: dict[str, list[float]] = {"DISPATCHED": [], "ASSIGNED": [], "EXECUTING": [], "COMPLETED": []}
    latency: dict[str, list[float]] = {k: [] for k in at}
    names = {WorkOrder.STATE_DISPATCHED: "DISPATCHED", WorkOrder.STATE_ASSIGNED: "ASSIGNED"}
    names |= {WorkOrder.STATE_EXECUTING: "EXECUTING", WorkOrder.STATE_COMPLETED: "COMPLETED"}
    not_completed = 0
    for order_id, t_sent in sent.items():
        order = fleet.service.get(order_id)
        if order is None:
            continue
        if order.state != WorkOrder.STATE_COMPLETED:
            not_completed += 1
        first: dict[str, float] = {}
        for event in order.history:
            name = names.get(event.state)
            if name is not None and name not in first:
                first[name] = stamp_s(event.stamp)
        for name, moment in first.items():
            at[name].append(moment)
            latency[name].append(moment - t_sent)
    steady = [(t, b) for t, b in samples if t >= WARMUP_S]
    growth = slope(steady)
    figures = {
        "offered_per_s": rate,
        "sent_per_s": round(sum(1 for t in sent.values() if lo <= t < hi) / window, 1),
        "accepted_per_s": round(accepted / window, 1),
        "dispatched_per_s": round(sum(1 for t in at["DISPATCHED"] if lo <= t < hi) / window, 1),
        "completed_per_s": round(sum(1 for t in at["COMPLETED"] if lo <= t < hi) / window, 1),
        "orders": len(sent),
        "http_not_201": sum(1 for s, _ in answers.values() if s != 201) + len(sent) - len(answers),
        "not_completed_15s_after": not_completed,
        "backlog_max": int(max((b for _, b in samples), default=0)),
        "backlog_end": int(samples[-1][1]) if samples else 0,
        "backlog_slope_per_s": round(growth, 2),
        "pending_max": max(pending, default=0),
        "pending_end": pending[-1] if pending else 0,
        "event_lag_max": max(lags, default=0),
        "event_lag_end": lags[-1] if lags else 0,
        "http_post_latency": ms_stats(
            [answers[i][1] - t for i, t in sent.items() if i in answers and lo <= t < hi]
        ),
        "gc": gc_pauses.take(),
        "cpu_fleet_process": round(cpu, 3),
        "cpu_broker": round(broker_cpu, 3),
        "rss_mib_peak": round(rss_peak, 1),
        "broker_rss_mib_peak": round(broker_rss_peak, 1),
        "loadgen_errors": result["errors"],
    }
    growing = growth > GROWTH_LIMIT * rate and figures["backlog_end"] > rate * BACKLOG_LIMIT_S
    figures["sustained"] = bool(
        not growing and figures["accepted_per_s"] >= 0.9 * rate and figures["completed_per_s"] >= 0.9 * rate
    )
    figures["_latency"] = {
        "post_to_dispatched": ms_stats(latency["DISPATCHED"]),
        "post_to_robot_accepted": ms_stats(latency["ASSIGNED"]),
        "post_to_executing": ms_stats(latency["EXECUTING"]),
        "post_to_completed": ms_stats(latency["COMPLETED"]),
    }
    return figures


async def _run_fleet(
    robots: int,
    rates: list[float],
    duration: float,
    *,
    leases: bool,
    secure: bool,
    gc_freeze: bool,
    gc_threshold0: int,
) -> tuple[float, list[dict[str, Any]]]:
    """Compose a fleet (leases on or off, secured or open) on a broker of its own, offer
    each rate until one is not sustained."""
    root = "bench" + uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="rfos-workorders-") as tmp:
        secured = Secured(robots, root, Path(tmp)) if secure else None
        config = secured.server_config if secured is not None else None
        with EmbeddedBroker(config_file=config, store_dir=Path(tmp) / "nats") as broker:
            fleet = Fleet(broker.url, robots, leases=leases, root=root, secured=secured)
            return await _offer(
                fleet, broker, rates, duration, gc_freeze=gc_freeze, gc_threshold0=gc_threshold0
            )


async def _offer(
    fleet: Fleet,
    broker: EmbeddedBroker,
    rates: list[float],
    duration: float,
    *,
    gc_freeze: bool,
    gc_threshold0: int,
) -> tuple[float, list[dict[str, Any]]]:
    assert broker.pid is not None
    leases, robots = fleet.leases, fleet.robots
    gc_pauses = GcPauses()
    started = time.perf_counter()
    await fleet.start()
    start_s = time.perf_counter() - started
    if gc_freeze:  # as the tiers' executables: the composed nodes leave the collector's reach
        freeze_startup_objects()
    if gc_threshold0:
        gc.set_threshold(gc_threshold0, 20, 10)
    secure = "on" if fleet.secured else "off"
    progress(
        f"workorders: {robots} robots composed in {start_s:.1f} s (leases {'on' if leases else 'off'}, "
        f"security {secure})"
    )
    await wait_for(lambda: fleet.robots_online() == robots, 30.0, "every robot online")
    steps: list[dict[str, Any]] = []
    try:
        for n, rate in enumerate(rates):
            progress(f"workorders: offering {rate:g} orders/s for {duration:g} s")
            figures = await step(fleet, broker.pid, rate, duration, n, gc_pauses=gc_pauses)
            progress(
                "workorders: {offered_per_s:g}/s offered: accepted {accepted_per_s}/s, dispatched "
                "{dispatched_per_s}/s, completed {completed_per_s}/s, backlog slope "
                "{backlog_slope_per_s}/s, cpu {cpu_fleet_process} + broker {cpu_broker}, "
                "sustained={sustained}".format(**figures)
            )
            steps.append(figures)
            if not figures["sustained"]:
                break
    finally:
        await fleet.stop()
    if gc_freeze:
        gc.unfreeze()
    return start_s, steps


def _comparison(runs: list[tuple[bool, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Per offered rate: the fleet process's CPU with a feature on and off (mean of the runs)."""
    by_rate: dict[float, dict[str, list[float]]] = {}
    for on_run, steps in runs:
        for figures in steps:
            entry = by_rate.setdefault(figures["offered_per_s"], {"on": [], "off": []})
            entry["on" if on_run else "off"].append(figures["cpu_fleet_process"])
    out: dict[str, Any] = {}
    for rate, cpu in sorted(by_rate.items()):
        on = statistics.fmean(cpu["on"]) if cpu["on"] else None
        off = statistics.fmean(cpu["off"]) if cpu["off"] else None
        out[f"{rate:g}"] = {
            "cpu_on": cpu["on"],
            "cpu_off": cpu["off"],
            "on_over_off": round(on / off, 3) if on and off else None,
        }
    return out


async def run(
    robots: int,
    rates: list[float],
    duration: float,
    *,
    gc_freeze: bool = True,
    gc_threshold0: int = 0,
    lease_runs: list[bool] | None = None,
    secure_runs: list[bool] | None = None,
) -> dict[str, Any]:
    """``lease_runs``: leases on (True) / off (False) per composed fleet, in turn (default:
    on); ``secure_runs`` likewise for security (default: on), each with every lease mode."""
    modes = lease_runs or [True]
    secure_modes = secure_runs or [True]
    runs: list[tuple[bool, list[dict[str, Any]]]] = []
    secure_steps: list[tuple[bool, list[dict[str, Any]]]] = []
    start_s = 0.0
    for leases in modes:
        for secure in secure_modes:
            took, run_steps = await _run_fleet(
                robots,
                rates,
                duration,
                leases=leases,
                secure=secure,
                gc_freeze=gc_freeze,
                gc_threshold0=gc_threshold0,
            )
            start_s = start_s or took
            runs.append((leases, run_steps))
            secure_steps.append((secure, run_steps))
    steps = runs[0][1]
    p99_by_run = [(secure, _p99_accepted(st)) for secure, st in secure_steps]
    latency = steps[0].pop("_latency") if steps else {}
    for _, run_steps in runs:
        for figures in run_steps:
            figures.pop("_latency", None)
    best = max((s for s in steps if s["sustained"]), key=lambda s: s["offered_per_s"], default=None)
    p99_accepted = latency.get("post_to_robot_accepted", {}).get("p99_ms")
    return {
        "benchmark": "workorders",
        "robots": robots,
        "zones": ZONES,
        "leases": "on" if modes[0] else "off",
        "security": "on" if secure_modes[0] else "off",
        "sim": {"speed_m_s": SPEED_M_S, "work_s": WORK_S, "cell_m": CELL_M, "order_on_robot_s": "~1-3"},
        "duration_s_per_rate": duration,
        "start_s": round(start_s, 1),
        "sustained_orders_per_s": best["offered_per_s"] if best else 0,
        "sustained": (
            {k: best[k] for k in ("accepted_per_s", "dispatched_per_s", "completed_per_s")} if best else None
        ),
        "latency_at_rate_per_s": rates[0] if rates else None,
        "latency": latency,
        "cpu_fraction_of_core": {
            "fleet_process": best["cpu_fleet_process"] if best else None,
            "broker": best["cpu_broker"] if best else None,
        },
        "rss_mib": {
            "fleet_process": max((s["rss_mib_peak"] for s in steps), default=None),
            "broker": max((s["broker_rss_mib_peak"] for s in steps), default=None),
        },
        "steps": steps,
        "other_runs": [
            {"leases": "on" if leases else "off", "security": "on" if secure else "off", "steps": run_steps}
            for (leases, run_steps), (secure, _) in list(zip(runs, secure_steps, strict=True))[1:]
        ],
        "lease_cpu": _comparison(runs) if len(set(modes)) > 1 else None,
        "security_cpu": _comparison(secure_steps) if len(set(secure_modes)) > 1 else None,
        "security_sustained": (
            {
                "on": [_sustained(st) for sec, st in secure_steps if sec],
                "off": [_sustained(st) for sec, st in secure_steps if not sec],
            }
            if len(set(secure_modes)) > 1
            else None
        ),
        "security_p99_post_to_robot_accepted_ms": (
            {
                "on": [p99 for sec, p99 in p99_by_run if sec],
                "off": [p99 for sec, p99 in p99_by_run if not sec],
            }
            if len(set(secure_modes)) > 1
            else None
        ),
        "targets": TARGETS,
        "meets": {
            "sustained_orders_per_s": bool(best and best["offered_per_s"] >= 200),
            "p99_post_to_robot_accepted_ms_at_50": bool(p99_accepted is not None and p99_accepted <= 50),
        },
        "gc_freeze": gc_freeze,
        "gc_threshold": list(gc.get_threshold()),
        "cores": os.cpu_count(),
        "load_average_at_end": round(os.getloadavg()[0], 2),
    }


def _sustained(steps: list[dict[str, Any]]) -> float:
    return max((s["offered_per_s"] for s in steps if s["sustained"]), default=0)


def _p99_accepted(steps: list[dict[str, Any]]) -> float | None:
    latency = steps[0].get("_latency") if steps else None
    p99: float | None = (latency or {}).get("post_to_robot_accepted", {}).get("p99_ms")
    return p99


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per offered rate")
    parser.add_argument("--rates", default="50,100,200,400", help="offered orders/s, comma-separated")
    parser.add_argument(
        "--gc-freeze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="gc.freeze() after composing, as the tiers' executables do (default: on)",
    )
    parser.add_argument(
        "--gc-threshold0",
        type=int,
        default=0,
        help="diagnostic: gc.set_threshold(N, 20, 10) after composing (default: leave Python's)",
    )
    parser.add_argument(
        "--leases",
        default="on",
        help="leases per composed fleet, in turn: e.g. on,off,on,off compares their cost (default: on)",
    )
    parser.add_argument(
        "--secure",
        default="on",
        help="security per composed fleet, in turn: on,off compares a secured fleet with an open one "
        "(default: on)",
    )
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)  # internal: run the load generator
    args = parser.parse_args()
    if args.loadgen:
        spec = json.loads(args.loadgen)
        result = asyncio.run(
            _loadgen(
                spec["url"],
                spec["rate"],
                spec["duration"],
                spec["prefix"],
                CONNECTIONS,
                token=spec.get("token"),
            )
        )
        result["cpu"] = own_cpu()
        print(json.dumps(result), flush=True)
        return 0
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    emit(
        asyncio.run(
            run(
                args.robots,
                rates,
                args.duration,
                gc_freeze=args.gc_freeze,
                gc_threshold0=args.gc_threshold0,
                lease_runs=[mode.strip() == "on" for mode in args.leases.split(",") if mode.strip()],
                secure_runs=[mode.strip() == "on" for mode in args.secure.split(",") if mode.strip()],
            )
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
