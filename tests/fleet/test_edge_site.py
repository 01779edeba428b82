"""An edge site behind a NATS leaf node keeps working while its uplink is cut (docs/fleet.md, "Edge sites").

Real processes: a hub nats-server (JetStream domain ``hub``, a leaf-node listener) with the
fleet and the area, and a site nats-server (JetStream domain ``zone-1``) whose leaf link to
the hub runs through a :class:`~topology.CuttableLink` the test cuts and restores; the site
zone and its robots connect to the site's server only. Executions are counted from the
robots' own journals.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
import pytest
from shared_helpers import http_call, jetstream_domain_answers
from test_exactly_once import _sim, assert_executed_once, executions, orders, submit, wait_states
from topology import CuttableLink, Topology, eventually, fast_area_config, fast_fleet_config, nats_context

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config import AssignmentConfig, EdgeConfig, LeaseConfig, SiteConfig, ZoneConfig
from robotfleet_nodes.fleet.sites import site_stream_name
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.zone._leases import ZoneLeases, zone_lease_hold_s

ROBOTS = [f"robot-{i}" for i in range(1, 4)]
CUT_S = 5.0


@asynccontextmanager
async def site_topology(hub_url: str, site_url: str, root: str) -> AsyncIterator[Topology]:
    """Fleet + area-1 on the hub; zone-1 (a site zone) and three robots on the site's server."""
    leases = LeaseConfig(robot_lease_s=2.0, zone_lease_s=1.0, margin_s=0.5, renew_period_s=0.25)
    fleet_config = fast_fleet_config(["area-1"]).model_copy(update={"site_domains": {"zone-1": "zone-1"}})
    zone = ZoneConfig(
        zone_id="zone-1",
        area_id="area-1",
        robots=ROBOTS,
        heartbeat_timeout_s=1.0,
        summary_period_s=0.1,
        assignment=AssignmentConfig(min_battery_percent=5.0),
        leases=leases,
        site=SiteConfig(site_offline_grace_s=30.0),
    )
    edges = [EdgeConfig(robot_id=r, zone_id="zone-1", sim=_sim(0.6), status_rate_hz=10.0) for r in ROBOTS]
    urls = dict.fromkeys(["zone-1", *ROBOTS], site_url)
    topo = Topology(
        hub_url,
        root,
        fleet_config,
        [fast_area_config("area-1", ["zone-1"])],
        [zone],
        edges,
        isolate=True,
        urls=urls,
    )
    async with nats_context(hub_url, root) as context:
        topo._context = context
        try:
            for robot_id in ROBOTS:
                await topo.start_edge(robot_id)
            await topo.start_fleet()  # first: it creates the order bucket the zone opens
            await topo.start_zone("zone-1")
            await topo.start_area("area-1")
            yield topo
        finally:
            await topo.stop_fleet()
            for node in [*topo.areas.values(), *topo.zones.values(), *topo.edges.values()]:
                await node.destroy_node()
            for node_id in list(topo._own):
                await topo._close_own(node_id)


async def _leaf_link_up(site_url: str) -> None:
    """Return once a client of the site's server reaches the hub's JetStream over the leaf link."""
    nc = await nats.connect(site_url)
    try:
        await jetstream_domain_answers(nc, "hub", what="the leaf link to the hub")
    finally:
        await nc.close()


async def _zone_state(topo: Topology) -> str | None:
    status, body = await http_call(topo.base_url, "GET", "/api/zones")
    assert status == 200, (status, body)
    return next((z["state"] for z in body if z["id"] == "zone-1"), None)


async def _robots(topo: Topology) -> list[dict[str, Any]]:
    status, body = await http_call(topo.base_url, "GET", "/api/robots?zone_id=zone-1")
    assert status == 200, (status, body)
    rows: list[dict[str, Any]] = body
    return rows


async def _hub_msg_ids(hub_url: str, stream: str) -> Counter[str]:
    """``Nats-Msg-Id`` -> how often the hub's order-event stream stores it."""
    nc = await nats.connect(hub_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        ids: Counter[str] = Counter()
        for seq in range(int(info.state.first_seq), int(info.state.last_seq) + 1):
            msg = await js.get_msg(stream, seq)
            ids[(msg.headers or {}).get("Nats-Msg-Id", f"seq-{seq}")] += 1
        return ids
    finally:
        await nc.close()


@pytest.mark.timeout(90)
async def test_site_zone_completes_its_orders_during_a_cut_and_converges(unique: str) -> None:
    # no_advertise: the site must not learn the hub's own leaf-node port and dial around the proxy.
    hub = EmbeddedBroker(jetstream_domain="hub", leafnode_port=-1, leafnode_no_advertise=True)
    await asyncio.to_thread(hub.start)
    link = CuttableLink(str(hub.leafnode_url))
    await link.heal()
    site = EmbeddedBroker(jetstream_domain="zone-1", leaf_remotes=[link.url])
    await asyncio.to_thread(site.start)
    try:
        await _leaf_link_up(site.url)
        ids = [f"site-{i}" for i in range(9)]
        async with site_topology(hub.url, site.url, unique) as topo:
            await eventually(lambda: _zone_state(topo), timeout=15, what="zone-1 reported")
            for order_id in ids:
                await submit(topo, order_id)

            async def held_by_zone_1() -> dict[str, Any] | None:
                found = await orders(topo, ids)
                held = len(found) == len(ids) and all(o["zone_id"] == "zone-1" for o in found.values())
                return found if held else None

            before = await eventually(held_by_zone_1, timeout=15, what="zone-1 holds every order")
            await link.cut()
            cut_at = time.monotonic()
            completed_before = {i for i, o in before.items() if o["state"] == "COMPLETED"}

            # During the cut: the site runs on, the fleet shows the zone DISCONNECTED.
            await eventually(
                lambda: all(any(r["state"] == "SUCCEEDED" for r in executions(i)) for i in ids),
                timeout=CUT_S,
                what="every order done on the site's robots during the cut",
            )
            await eventually(lambda: _disconnected(topo), timeout=CUT_S, what="zone-1 DISCONNECTED")
            rows = await _robots(topo)
            assert {r["id"] for r in rows} == set(ROBOTS), rows
            assert all(r["stale"] and r["state"] != "OFFLINE" for r in rows), rows
            during = await orders(topo, ids)
            completed_during = {i for i, o in during.items() if o["state"] == "COMPLETED"}
            assert completed_during <= completed_before, "no event crossed the cut link"
            assert topo.zones["zone-1"].holds_lease(), "the site zone holds its lease through the cut"
            await asyncio.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))  # the cut lasts CUT_S

            await link.heal()
            healed_at = time.monotonic()
            done = await wait_states(topo, ids, {"COMPLETED"}, timeout=20)
            converged_s = time.monotonic() - healed_at
            print(f"edge site: converged {converged_s:.2f} s after the link was restored")
            for order in done.values():
                states = [e["state"] for e in order["history"]]
                assert states.count("COMPLETED") == 1 and order["attempts"] == 1, (order["id"], states)
            assert_executed_once(ids)
            await eventually(lambda: _connected(topo), timeout=10, what="zone-1 CONNECTED again")
            rows = await _robots(topo)
            assert not any(r["stale"] for r in rows), rows

            events = topo.service._events
            assert events is not None
            stored = await _hub_msg_ids(hub.url, events.stream)
            zone_events = {k: n for k, n in stored.items() if k.startswith("zone-1/")}
            assert zone_events, stored
            assert all(n == 1 for n in zone_events.values()), zone_events  # each event stored once
            assert {f"zone-1/{i}/1/{_COMPLETED}" for i in ids} <= set(zone_events)
    finally:
        await link.cut()
        await asyncio.to_thread(site.stop)
        await asyncio.to_thread(hub.stop)


_COMPLETED = 4


async def _disconnected(topo: Topology) -> bool:
    return await _zone_state(topo) == "DISCONNECTED"


async def _connected(topo: Topology) -> bool:
    return await _zone_state(topo) == "CONNECTED"


def test_site_zone_holds_its_lease_for_the_offline_grace() -> None:
    leases = LeaseConfig(robot_lease_s=2.0, zone_lease_s=1.0, margin_s=0.5, renew_period_s=0.25)
    plain = ZoneConfig(leases=leases)
    at_site = ZoneConfig(leases=leases, site=SiteConfig(site_offline_grace_s=30.0))
    no_lease = ZoneConfig(leases=leases.model_copy(update={"zone_lease_s": 0.0}), site=SiteConfig())
    assert zone_lease_hold_s(plain) == 1.0
    assert zone_lease_hold_s(at_site) == 30.0
    assert zone_lease_hold_s(no_lease) == 0.0
    assert SiteConfig().site_offline_grace_s == 120.0
    assert at_site.jetstream_domain == "zone-1" and plain.jetstream_domain is None

    from robotfleet_nodes.msg import LeaseRenewal

    zl = ZoneLeases("zone-1", leases, hold_s=zone_lease_hold_s(at_site))
    zl.on_area_grant(LeaseRenewal(granter="area-1", holders=["zone-1"]), now=100.0)
    assert zl.holds(129.9) and not zl.holds(130.0)


def test_site_stream_name_is_per_zone() -> None:
    mapper = SubjectMapper(root="rfos")
    assert site_stream_name(mapper, "zone-1") != site_stream_name(mapper, "zone-2")


def test_silent_zone_is_disconnected_and_its_robots_stale() -> None:
    from robotfleet_nodes.fleet.views import robots_view, zones_view
    from robotfleet_nodes.idl import default_registry
    from robotfleet_nodes.msg import ZoneSummary

    table_cls: Any = default_registry().get_class("robotfleet_nodes/msg/RobotTable")
    tables = {
        z: table_cls(
            zone_id=z, robot_ids=[f"{z}-r"], x=[1.0], y=[2.0], theta=[0.0], battery_percent=[80.0], states=[1]
        )
        for z in ("zone-1", "zone-2")
    }
    zones = {z: ZoneSummary(zone_id=z, area_id="area-1") for z in ("zone-1", "zone-2")}
    view = {z["id"]: z["state"] for z in zones_view(zones, {}, silent={"zone-2"})}
    assert view == {"zone-1": "CONNECTED", "zone-2": "DISCONNECTED"}
    rows = {r["id"]: r for r in robots_view(tables, stale_zones={"zone-2"})}
    assert rows["zone-1-r"]["stale"] is False
    assert rows["zone-2-r"]["stale"] is True and rows["zone-2-r"]["state"] == "EXECUTING"  # last known
