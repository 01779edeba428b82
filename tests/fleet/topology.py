"""Test helpers (not a test module): bring up fleet tiers in this process on the test broker.

- :class:`FakeZone`: a real node on real NATS serving ``/zones/<z>/assign`` and ``cancel``
  and publishing ``ZoneSummary`` with a capacity the test controls.
- :func:`fleet_service`: a FleetService (+ HTTP server) on a subject root.
- :func:`small_fleet`: fleet + areas + zones + edges, with handles to kill and restart tiers
  (needs ``robotfleet_nodes.zone.node.ZoneNode``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared_helpers import eventually

from robotfleet_nodes.action import ExecuteTask
from robotfleet_nodes.area.node import AreaNode
from robotfleet_nodes.config import (
    AreaConfig,
    EdgeConfig,
    FleetConfig,
    LeaseConfig,
    SchedulerConfig,
    ZoneConfig,
)
from robotfleet_nodes.fleet.http_api import build_app
from robotfleet_nodes.fleet.main import STATIC_DIR
from robotfleet_nodes.fleet.protocol import area_name, nats_transport_of, now_stamp, zone_name
from robotfleet_nodes.fleet.service import FleetService
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.msg import LeaseRenewal, ZoneSummary
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.web import HttpServer

AssignWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/AssignWorkOrder")
CancelWorkOrder: Any = default_registry().get_interface("robotfleet_nodes/srv/CancelWorkOrder")

TIMEOUT = 10.0
#: Leases of the fast zones: a lost robot's order moves 2.5 s after its last renewal, a silent
#: zone's orders 3.5 s after the area's last grant to it.
FAST_LEASES = LeaseConfig(robot_lease_s=2.0, zone_lease_s=1.0, margin_s=0.5, renew_period_s=0.25)
_LEASE_LOSS = {
    "pause": ExecuteTask.Goal.LEASE_LOSS_PAUSE,
    "stop": ExecuteTask.Goal.LEASE_LOSS_STOP,
    "finish": ExecuteTask.Goal.LEASE_LOSS_FINISH,
}


@asynccontextmanager
async def nats_context(nats_url: str, root: str) -> AsyncIterator[Context]:
    """A context on its own NATS connection (like a separate process) on subject ``root``."""
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=root))
    context = Context(transport=transport, enable_rosout=False)
    try:
        async with context:
            yield context
    finally:
        await transport.close()


class FakeZone(Node):
    """A zone stand-in: accepts while ``capacity`` > 0 (or ``accept_always``), records calls.

    Its summaries announce ``leases`` (none: all lease fields 0, like a zone from before
    leases); it records the area's grants on ``/areas/<area_id>/leases`` in ``grants``. With
    ``refuse_order`` set it refuses every order because of the order itself (``order_refused``).
    """

    def __init__(
        self,
        zone_id: str,
        *,
        context: Context,
        area_id: str = "area-1",
        capacity: int = 5,
        period: float = 0.05,
        leases: LeaseConfig | None = None,
    ) -> None:
        super().__init__("zone", context=context, namespace=zone_name(zone_id))
        self.zone_id = zone_id
        self.area_id = area_id
        self.capacity = capacity
        self.accept_always = False
        self.refuse_order = ""  # set: refuse every order with order_refused and this reason
        self.period = period
        self.leases = leases
        self.assigned: list[Any] = []  # requests accepted (first answers only)
        self.calls: list[Any] = []  # every request
        self.cancels: list[str] = []
        self.answers: dict[str, Any] = {}
        self.grants: list[LeaseRenewal] = []  # the area's grants, as received
        self.publishing = True

    async def on_start(self) -> None:
        self.pub = await self.create_publisher(ZoneSummary, zone_name(self.zone_id, "summary"), 10)
        await self.create_subscription(
            LeaseRenewal, area_name(self.area_id, "leases"), self.grants.append, 10
        )
        await self.create_service(AssignWorkOrder, zone_name(self.zone_id, "assign"), self._assign)
        await self.create_service(CancelWorkOrder, zone_name(self.zone_id, "cancel"), self._cancel)
        self.create_timer(self.period, self._tick)

    def _lease_fields(self) -> dict[str, Any]:
        if self.leases is None:
            return {}
        return {
            "zone_lease_s": self.leases.zone_lease_s,
            "robot_lease_s": self.leases.robot_lease_s,
            "lease_margin_s": self.leases.margin_s,
            "on_lease_loss": _LEASE_LOSS[self.leases.on_lease_loss],
        }

    async def _tick(self) -> None:
        if self.publishing:
            await self.pub.publish(
                ZoneSummary(
                    zone_id=self.zone_id,
                    area_id=self.area_id,
                    stamp=now_stamp(),
                    robots_total=10,
                    robots_online=10,
                    robots_idle=self.capacity,
                    orders_queued=0,
                    orders_active=len(self.assigned),
                    capacity=self.capacity,
                    **self._lease_fields(),
                )
            )

    def _assign(self, request: Any) -> Any:
        self.calls.append(request)
        if request.idempotency_key in self.answers:
            return self.answers[request.idempotency_key].model_copy(update={"duplicate": True})
        if self.refuse_order:
            return AssignWorkOrder.Response(accepted=False, order_refused=True, error=self.refuse_order)
        if self.capacity <= 0 and not self.accept_always:
            return AssignWorkOrder.Response(accepted=False, error="no capacity")
        self.capacity = max(0, self.capacity - 1)
        self.assigned.append(request)
        answer = AssignWorkOrder.Response(accepted=True, zone_id=self.zone_id)
        self.answers[request.idempotency_key] = answer
        return answer

    def _cancel(self, request: Any) -> Any:
        self.cancels.append(request.id)
        return CancelWorkOrder.Response(accepted=True)


def fast_fleet_config(areas: list[str] | None = None) -> FleetConfig:
    """A fleet config with short periods for tests."""
    return FleetConfig(
        areas=areas or ["area-1"],
        summary_period_s=0.2,
        scheduler=SchedulerConfig(
            dispatch_interval_s=0.05, dispatch_timeout_s=2.0, area_silence_timeout_s=2.0
        ),
    )


def fast_area_config(area_id: str = "area-1", zones: list[str] | None = None) -> AreaConfig:
    """An area config with short periods for tests."""
    return AreaConfig(
        area_id=area_id,
        zones=zones or ["zone-1"],
        zone_silence_timeout_s=0.6,
        assign_timeout_s=2.0,
        summary_period_s=0.1,
    )


@dataclass
class FleetHandle:
    """A running FleetService with its HTTP server."""

    service: FleetService
    server: HttpServer

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@asynccontextmanager
async def fleet_service(
    nats_url: str,
    root: str,
    config: FleetConfig | None = None,
    *,
    static_dir: Any = STATIC_DIR,
    max_in_flight: int = 8,
) -> AsyncIterator[FleetHandle]:
    """A started FleetService and its HTTP server on port 0 (own NATS connection)."""
    async with nats_context(nats_url, root) as context:
        service = FleetService(config or fast_fleet_config(), context, max_in_flight=max_in_flight)
        await service.start()
        try:
            app = build_app(service, static_dir=static_dir, check_responses=True)
            async with HttpServer(app, "127.0.0.1", 0, metrics=service.metrics) as server:
                yield FleetHandle(service, server)
        finally:
            await service.stop()


@dataclass
class Topology:
    """What :func:`small_fleet` brought up, with handles to stop and restart tiers."""

    nats_url: str
    root: str
    fleet_config: FleetConfig
    area_configs: list[AreaConfig]
    zone_configs: list[ZoneConfig]
    edge_configs: list[EdgeConfig]
    fleet: FleetHandle | None = None
    areas: dict[str, Any] = field(default_factory=dict)
    zones: dict[str, Any] = field(default_factory=dict)
    edges: dict[str, Any] = field(default_factory=dict)
    _context: Context | None = None
    _fleet_stack: AsyncExitStack | None = None
    isolate: bool = False  # every edge and zone on a connection of its own (see crash_edge)
    _own: dict[str, Context] = field(default_factory=dict)  # node id -> its own context
    _crashed: list[tuple[Any, Context]] = field(default_factory=list)
    #: node id -> the broker URL its own connection uses (a :class:`CuttableLink`'s, say)
    urls: dict[str, str] = field(default_factory=dict)
    #: robot id -> makes its driver from its EdgeConfig (default: the config's, the simulator)
    drivers: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        assert self.fleet is not None
        return self.fleet.base_url

    @property
    def service(self) -> FleetService:
        assert self.fleet is not None
        return self.fleet.service

    @property
    def context(self) -> Context:
        assert self._context is not None
        return self._context

    async def start_fleet(self) -> None:
        stack = AsyncExitStack()
        self.fleet = await stack.enter_async_context(
            fleet_service(self.nats_url, self.root, self.fleet_config)
        )
        self._fleet_stack = stack

    async def stop_fleet(self) -> None:
        if self._fleet_stack is not None:
            await self._fleet_stack.aclose()
        self._fleet_stack = None
        self.fleet = None

    async def restart_fleet(self) -> None:
        await self.stop_fleet()
        await self.start_fleet()

    async def start_zone(self, zone_id: str) -> None:
        from robotfleet_nodes.zone.node import ZoneNode

        config = next(c for c in self.zone_configs if c.zone_id == zone_id)
        node = ZoneNode(config, context=await self._context_for(zone_id))
        await node.start()
        self.zones[zone_id] = node

    async def kill_zone(self, zone_id: str) -> None:
        await self.zones.pop(zone_id).destroy_node()
        await self._close_own(zone_id)

    async def restart_zone(self, zone_id: str) -> None:
        await self.kill_zone(zone_id)
        await self.start_zone(zone_id)

    async def start_edge(self, robot_id: str) -> None:
        from robotfleet_nodes.edge.node import EdgeNode

        config = next(c for c in self.edge_configs if c.robot_id == robot_id)
        make = self.drivers.get(robot_id)
        driver = make(config) if make is not None else None
        node = EdgeNode(config, context=await self._context_for(robot_id), driver=driver)
        await node.start()
        self.edges[robot_id] = node

    async def kill_edge(self, robot_id: str) -> None:
        await self.edges.pop(robot_id).destroy_node()
        await self._close_own(robot_id)

    async def restart_edge(self, robot_id: str) -> None:
        await self.kill_edge(robot_id)
        await self.start_edge(robot_id)

    async def start_area(self, area_id: str) -> None:
        config = next(c for c in self.area_configs if c.area_id == area_id)
        node = AreaNode(config, context=self.context)
        await node.start()
        self.areas[area_id] = node

    async def kill_area(self, area_id: str) -> None:
        await self.areas.pop(area_id).destroy_node()

    async def restart_area(self, area_id: str) -> None:
        await self.kill_area(area_id)
        await self.start_area(area_id)

    # -- abrupt failures (``isolate=True``): like ``kill -9`` of the tier's process ---------
    async def _context_for(self, node_id: str) -> Context:
        if not self.isolate:
            return self.context
        url = self.urls.get(node_id, self.nats_url)
        transport = NatsTransport(url, mapper=SubjectMapper(root=self.root))
        context = Context(transport=transport, enable_rosout=False)
        await context.start()
        self._own[node_id] = context
        return context

    async def _close_own(self, node_id: str) -> None:
        context = self._own.pop(node_id, None)
        if context is not None:
            await context.close()
            await context.transport.close()

    async def crash_edge(self, robot_id: str) -> None:
        """Kill ``robot_id``'s edge abruptly: no result, no goodbye, its socket just drops."""
        await self._crash(robot_id, self.edges.pop(robot_id))

    async def crash_zone(self, zone_id: str) -> None:
        """Kill ``zone_id`` abruptly: queued orders, pending events and its socket just vanish."""
        node = self.zones.pop(zone_id)
        publisher = getattr(node, "_events_out", None)
        if publisher is not None:
            publisher.abort()  # events not yet published die with the process
        await self._crash(zone_id, node)

    async def _crash(self, node_id: str, node: Any) -> None:
        context = self._own.pop(node_id, None)
        if context is None:
            raise RuntimeError(f"{node_id} shares a connection: start the topology with isolate=True")
        for timer in list(node._timers):  # the process stops: nothing runs any more
            timer.cancel()
        for task in list(getattr(node, "_tasks", ())):
            task.cancel()
        nc = nats_transport_of(context.transport).client
        nc.options["allow_reconnect"] = False
        writer = nc._transport._io_writer  # type: ignore[union-attr]
        writer.transport.abort()  # RST: the server sees the connection die, nothing is flushed
        await eventually(lambda: nc.is_closed, timeout=5.0, what=f"{node_id}'s connection closed")
        self._crashed.append((node, context))

    async def _bury(self) -> None:
        """Release what crashed nodes left in this process (nothing reaches the broker)."""
        for _node, context in self._crashed:
            with contextlib.suppress(Exception):
                await context.close()  # destroys the node; no graph announcement is left pending
        self._crashed.clear()


@asynccontextmanager
async def small_fleet(
    nats_url: str,
    root: str,
    *,
    areas: int = 1,
    zones: int = 2,
    robots: int = 10,
    fast: bool = True,
    isolate: bool = False,
    sim: Any = None,
    leases: LeaseConfig | None = None,
    urls: dict[str, str] | None = None,
    fleet: bool = True,
    drivers: dict[str, Any] | None = None,
) -> AsyncIterator[Topology]:
    """Fleet (+HTTP on port 0), ``areas`` areas of ``zones`` zones each, ``robots`` edges in all.

    Robots are spread evenly over all zones (``robot-1`` ...); with ``fast`` the simulated
    robots drive at 20 m/s and work 0.05 s per task, and every period is short.
    ``isolate``: every edge and zone gets a NATS connection of its own, so
    :meth:`Topology.crash_edge` / :meth:`Topology.crash_zone` can drop it abruptly.
    ``sim``: a ``SimDriverConfig`` for every robot instead of the one ``fast`` implies.
    ``leases``: every zone's ``leases:`` (default :data:`FAST_LEASES` with ``fast``).
    ``urls``: node id -> the broker URL of its own connection (with ``isolate``).
    ``fleet``: False leaves the fleet out (a test runs its own, e.g. as processes).
    ``drivers``: robot id -> a function of its ``EdgeConfig`` making its driver (another kind).
    """
    from robotfleet_nodes.config import AssignmentConfig, SimDriverConfig

    area_ids = [f"area-{a + 1}" for a in range(areas)]
    zone_ids = [f"zone-{z + 1}" for z in range(areas * zones)]
    area_configs = [
        fast_area_config(a, zone_ids[i * zones : (i + 1) * zones])
        if fast
        else AreaConfig(area_id=a, zones=zone_ids[i * zones : (i + 1) * zones])
        for i, a in enumerate(area_ids)
    ]
    robot_zone = {f"robot-{r + 1}": zone_ids[r % len(zone_ids)] for r in range(robots)}
    zone_configs = []
    for i, zone_id in enumerate(zone_ids):
        owned = [r for r, z in robot_zone.items() if z == zone_id]
        options: dict[str, Any] = {}
        if fast:
            options = {
                "heartbeat_timeout_s": 1.0,
                "summary_period_s": 0.1,
                "assignment": AssignmentConfig(min_battery_percent=5.0),
                "leases": FAST_LEASES,
            }
        if leases is not None:
            options["leases"] = leases
        zone_configs.append(
            ZoneConfig(zone_id=zone_id, area_id=area_ids[i // zones], robots=owned, **options)
        )
    sim = sim or (
        SimDriverConfig(speed=20.0, work_time_s={}, default_work_time_s=0.05, seed=1)
        if fast
        else SimDriverConfig()
    )
    edge_configs = [
        EdgeConfig(robot_id=r, zone_id=z, sim=sim, status_rate_hz=10.0 if fast else 1.0)
        for r, z in robot_zone.items()
    ]
    fleet_config = fast_fleet_config(area_ids) if fast else FleetConfig(areas=area_ids)
    topo = Topology(
        nats_url,
        root,
        fleet_config,
        area_configs,
        zone_configs,
        edge_configs,
        isolate=isolate,
        urls=urls or {},
        drivers=drivers or {},
    )
    async with nats_context(nats_url, root) as context:
        topo._context = context
        try:
            for config in edge_configs:
                await topo.start_edge(config.robot_id)
            for zone_id in zone_ids:
                await topo.start_zone(zone_id)
            for area_id in area_ids:
                await topo.start_area(area_id)
            if fleet:
                await topo.start_fleet()
            yield topo
        finally:
            await topo.stop_fleet()
            for node in [*topo.areas.values(), *topo.zones.values(), *topo.edges.values()]:
                await node.destroy_node()
            for node_id in list(topo._own):
                await topo._close_own(node_id)
            await topo._bury()


class CuttableLink:
    """A TCP relay to the broker that a test can cut and heal: a network partition of the
    nodes connected through it (they keep running; their connection drops and every
    reconnection is refused until :meth:`heal`)."""

    def __init__(self, broker_url: str) -> None:
        host_port = broker_url.rsplit("//", 1)[-1]
        self._target_host, port = host_port.rsplit(":", 1)
        self._target_port = int(port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def heal(self) -> None:
        """Accept connections (again) on the same port."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every relayed connection and refuse new ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self._target_host, self._target_port)
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(dst)
            dst.transport.abort()


def tiers_use_their_identities(monkeypatch: Any, secrets: Path) -> None:
    """Make every tier's transport while ``MESSAGING_CREDS`` names that tier's identity in
    ``secrets`` (the transport reads it, and takes ``_INBOX.<name>`` as its inbox prefix),
    the fleet's as ``fleet``; the TLS CA is ``secrets/ca.pem``. Between tiers it names the
    area's (``area-1``), which small_fleet's shared connection, made first, is."""
    monkeypatch.setenv("MESSAGING_TLS_CA", str(secrets / "ca.pem"))
    shared = str(secrets / "area-1.creds")

    @contextlib.contextmanager
    def identity(name: str) -> Iterator[None]:
        monkeypatch.setenv("MESSAGING_CREDS", str(secrets / f"{name}.creds"))
        try:
            yield
        finally:
            monkeypatch.setenv("MESSAGING_CREDS", shared)

    context_for, start_fleet = Topology._context_for, Topology.start_fleet

    async def own_context(self: Topology, node_id: str) -> Any:
        with identity(node_id):
            return await context_for(self, node_id)

    async def fleet(self: Topology) -> None:
        with identity("fleet"):
            await start_fleet(self)

    monkeypatch.setattr(Topology, "_context_for", own_context)
    monkeypatch.setattr(Topology, "start_fleet", fleet)
    monkeypatch.setenv("MESSAGING_CREDS", shared)
