"""Failures of the fleet's tiers on real NATS (docs/fleet.md, "Failures" and "Durable state").

One area, two zones, ten simulated robots (fast periods, but tasks long enough that
"mid-task" is real). Every tier is killed the hard way where it matters: an edge or a zone
loses its socket without a goodbye (``Topology.crash_edge`` / ``crash_zone``), the fleet is
restarted, the broker is restarted under everyone. Each test then checks the invariants a
customer sees over HTTP: no order lost, every order COMPLETED, and COMPLETED exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import http_call
from topology import Topology, eventually, small_fleet

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config import SimDriverConfig
from robotfleet_nodes.zone.node import DEFAULT_MAX_ATTEMPTS

POLL_S = 0.1
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def _sim(**work_time_s: float) -> SimDriverConfig:
    """Robots that drive fast (short, bounded travel) and work 1.5 s per task by default."""
    return SimDriverConfig(
        speed=50.0,
        work_time_s=work_time_s,
        default_work_time_s=1.5,
        idle_drain_per_s=0.0,
        battery_drain_per_s=0.0,
        seed=1,
    )


#: What the fleet shows of an order handed to an area and not ended.
IN_FLIGHT = {"DISPATCHED", "ASSIGNED", "EXECUTING"}


# -- HTTP -------------------------------------------------------------------------------------


async def submit(topo: Topology, order_id: str, task: str = "pick") -> dict[str, Any]:
    status, order = await http_call(
        topo.base_url, "POST", "/api/work-orders", {"area_id": "area-1", "task": task, "id": order_id}
    )
    assert status == 201, (status, order)
    return dict(order)


async def get(topo: Topology, order_id: str) -> dict[str, Any]:
    status, order = await http_call(topo.base_url, "GET", f"/api/work-orders/{order_id}")
    assert status == 200, (status, order)
    return dict(order)


async def orders(topo: Topology, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The orders ``ids`` as GET shows them (every one must exist)."""
    status, body = await http_call(topo.base_url, "GET", "/api/work-orders?limit=1000")
    assert status == 200, (status, body)
    found = {o["id"]: o for o in body["items"] if o["id"] in ids}
    assert set(found) == set(ids), f"lost orders: {sorted(set(ids) - set(found))}"
    return found


async def wait_order(topo: Topology, order_id: str, states: set[str], timeout: float) -> dict[str, Any]:
    """Poll GET until the order is in one of ``states``; fail early if it ends otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        order = await get(topo, order_id)
        if order["state"] in states:
            return order
        assert order["state"] not in FINAL, f"{order_id} ended {order['state']}: {order}"
        if time.monotonic() > deadline:
            raise AssertionError(f"{order_id} not {states} within {timeout} s: {order}")
        await asyncio.sleep(POLL_S)


async def wait_all_completed(topo: Topology, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll until every order of ``ids`` is COMPLETED; fail at once if one ends otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        found = await orders(topo, ids)
        ended = {i: o for i, o in found.items() if o["state"] in FINAL - {"COMPLETED"}}
        assert not ended, f"orders ended without completing: {ended}"
        if all(o["state"] == "COMPLETED" for o in found.values()):
            return found
        if time.monotonic() > deadline:
            late = {i: o["state"] for i, o in found.items() if o["state"] != "COMPLETED"}
            raise AssertionError(f"not COMPLETED within {timeout} s: {late}")
        await asyncio.sleep(POLL_S)


def takeback_s(topo: Topology, zone_id: str) -> float:
    """Seconds after which the area takes a silent zone's orders back (docs/fleet.md, "Failures").

    The zone's lease + its robots' lease + the margin, counted from the area's last grant,
    which came at most ``zone_silence_timeout_s`` after the zone's last summary.
    """
    leases = next(c.leases for c in topo.zone_configs if c.zone_id == zone_id)
    area = next(a for a in topo.area_configs if zone_id in a.zones)
    return area.zone_silence_timeout_s + leases.zone_lease_s + leases.robot_lease_s + leases.margin_s


def completed_once(order: dict[str, Any]) -> None:
    """COMPLETED exactly once in the history, and nothing after it."""
    states = [e["state"] for e in order["history"]]
    assert states.count("COMPLETED") == 1, (order["id"], states)
    assert states[-1] == "COMPLETED", (order["id"], states)


# -- tests ------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
async def test_edge_killed_mid_task_reassigns_the_order(nats_url: str, unique: str) -> None:
    async with small_fleet(nats_url, unique, robots=10, isolate=True, sim=_sim(pick=2.0)) as topo:
        await submit(topo, "edge-kill-1")
        running = await wait_order(topo, "edge-kill-1", {"EXECUTING"}, timeout=30)
        first_robot = running["robot_id"]
        assert first_robot and running["attempts"] == 1

        await topo.crash_edge(first_robot)  # mid-task: the task takes >= 2 s
        done = await wait_order(topo, "edge-kill-1", {"COMPLETED"}, timeout=45)

        assert done["attempts"] >= 2
        assert done["robot_id"] and done["robot_id"] != first_robot
        completed_once(done)
        assigned = [e for e in done["history"] if e["state"] == "ASSIGNED"]
        assert len(assigned) >= 2  # the first robot, then another one
        # its zone saw the robot go silent (no result, no goodbye ever came from it)
        zone_id = next(c.zone_id for c in topo.edge_configs if c.robot_id == first_robot)
        assert done["zone_id"] == zone_id  # the zone reassigned it to one of its own robots

        async def robot_offline() -> bool:
            status, robots = await http_call(topo.base_url, "GET", f"/api/robots?zone_id={zone_id}")
            return status == 200 and any(r["id"] == first_robot and r["state"] == "OFFLINE" for r in robots)

        await eventually(robot_offline, timeout=10, what=f"{first_robot} OFFLINE in /api/robots")


@pytest.mark.timeout(180)
async def test_zone_killed_its_orders_recover_and_new_orders_go_elsewhere(nats_url: str, unique: str) -> None:
    async with small_fleet(nats_url, unique, robots=10, isolate=True, sim=_sim()) as topo:
        # zone-1's robots look available to their zone (battery above its 5 % minimum) but
        # refuse every goal (below the 15 % they need): the orders zone-1 takes stay queued
        await _weaken_zone_1(topo)

        queued = [f"queued-{i}" for i in range(6)]
        for order_id in queued:
            await submit(topo, order_id)

        async def zone_1_holds_orders() -> list[str]:
            held = topo.zones["zone-1"].queued
            found = await orders(topo, held) if held else {}
            return [i for i, o in found.items() if o["state"] == "DISPATCHED" and o["zone_id"] == "zone-1"]

        on_zone_1 = await eventually(zone_1_holds_orders, timeout=30, what="orders queued in zone-1")

        await topo.crash_zone("zone-1")

        async def zone_1_silent() -> bool:
            status, areas = await http_call(topo.base_url, "GET", "/api/areas")
            return status == 200 and "zone-1" in areas[0]["silent_zones"]

        await eventually(zone_1_silent, timeout=30, what="the area marking zone-1 silent")
        fresh = [f"fresh-{i}" for i in range(4)]
        for order_id in fresh:
            await submit(topo, order_id)
        everything = [*queued, *fresh]  # zone-1's move only after its leases ran out
        done = await wait_all_completed(topo, everything, timeout=takeback_s(topo, "zone-1") + 60)
        for order in done.values():
            completed_once(order)
            assert order["zone_id"] == "zone-2", order  # zone-1 never completed anything
            assert order["history"][-1]["by"] == "zone-2", order
            assert order["attempts"] <= DEFAULT_MAX_ATTEMPTS, order
        for order_id in fresh:  # new orders went to the live zone only
            dispatched = [e for e in done[order_id]["history"] if e["state"] == "DISPATCHED"]
            assert dispatched, done[order_id]
            assert all(e["by"] != "zone-1" and "zone-1" not in e["note"] for e in dispatched), done[order_id]
        assert set(on_zone_1) <= set(queued)

        # zone-1 comes back: nothing of its old queue is live any more, so it adopts nothing
        await topo.start_zone("zone-1")
        assert topo.zones["zone-1"].queued == [] and topo.zones["zone-1"].active == {}
        await eventually(_no_silent_zone(topo), timeout=30, what="zone-1 live again")
        after = await orders(topo, everything)
        assert all(o["state"] == "COMPLETED" and o == done[o["id"]] for o in after.values())


@pytest.mark.timeout(180)
async def test_zone_restarted_during_reroute_does_not_hold_the_order_twice(
    nats_url: str, unique: str
) -> None:
    async with small_fleet(nats_url, unique, robots=10, isolate=True, sim=_sim(long=8.0)) as topo:
        healthy = {c.robot_id: c for c in topo.edge_configs}
        await _weaken_zone_1(topo)
        ids = [f"race-{i}" for i in range(12)]  # > 10: every zone-2 robot busy
        for order_id in ids:
            await submit(topo, order_id, task="long")

        def zone_2_busy_zone_1_holding() -> bool:
            return len(topo.zones["zone-2"].active) == 5 and bool(topo.zones["zone-1"].queued)

        await eventually(zone_2_busy_zone_1_holding, timeout=30, what="zone-2 busy, zone-1 holding orders")
        held = set(topo.zones["zone-1"].queued)
        await topo.crash_zone("zone-1")
        await eventually(  # queued, or running already if zone-2's robots are free by then
            lambda: held & (set(topo.zones["zone-2"].queued) | set(topo.zones["zone-2"].active)),
            timeout=takeback_s(topo, "zone-1") + 30,
            what="zone-2 holding orders taken back from zone-1",
        )
        for i, config in enumerate(topo.edge_configs):  # zone-1's robots come back healthy
            if config.robot_id in healthy and config != healthy[config.robot_id]:
                topo.edge_configs[i] = healthy[config.robot_id]
                await topo.restart_edge(config.robot_id)
        await topo.start_zone("zone-1")
        zone_1 = set(topo.zones["zone-1"].queued) | set(topo.zones["zone-1"].active)
        zone_2 = set(topo.zones["zone-2"].queued) | set(topo.zones["zone-2"].active)
        assert not zone_1 & zone_2, f"held by zone-1 and zone-2 at once: {sorted(zone_1 & zone_2)}"
        done = await wait_all_completed(topo, ids, timeout=60)
        for order in done.values():
            completed_once(order)


async def _weaken_zone_1(topo: Topology) -> None:
    """zone-1's robots look available to their zone but refuse every goal (battery 10 % < 15 %)."""
    zone_1 = next(c for c in topo.zone_configs if c.zone_id == "zone-1")
    weak = _sim().model_copy(update={"battery_start_percent": 10.0, "recharge_below_percent": 0.0})
    for i, config in enumerate(topo.edge_configs):
        if config.robot_id in zone_1.robots:
            topo.edge_configs[i] = config.model_copy(
                update={"sim": weak.model_copy(update={"work_time_s": config.sim.work_time_s})}
            )
            await topo.restart_edge(config.robot_id)


def _no_silent_zone(topo: Topology) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        status, areas = await http_call(topo.base_url, "GET", "/api/areas")
        return status == 200 and not areas[0]["silent_zones"]

    return check


async def _all_in(topo: Topology, ids: list[str], states: set[str]) -> dict[str, dict[str, Any]] | None:
    found = await orders(topo, ids)
    ended = {i: o for i, o in found.items() if o["state"] in FINAL and o["state"] not in states}
    assert not ended, f"orders ended early: {ended}"
    return found if all(o["state"] in states for o in found.values()) else None


@pytest.mark.timeout(120)
async def test_fleet_restart_loses_nothing(nats_url: str, unique: str) -> None:
    ids = [f"fr-{i}" for i in range(20)]
    async with small_fleet(nats_url, unique, robots=10, sim=_sim(pick=1.0)) as topo:
        for order_id in ids:
            await submit(topo, order_id)

        seen: dict[str, int] = {}

        async def some_in_flight() -> bool:
            states = [o["state"] for o in (await orders(topo, ids)).values()]
            seen.clear()
            seen.update({s: states.count(s) for s in set(states)})
            return bool(IN_FLIGHT & set(states)) and "PENDING" in states

        try:
            await eventually(some_in_flight, timeout=30, what="orders in flight and pending")
        except AssertionError as exc:  # say where the orders were
            raise AssertionError(f"{exc}; the orders last seen: {seen}") from None
        await topo.restart_fleet()  # a new HTTP port: topo.base_url follows it

        # right after the restart: every order is there, nothing lost, nothing ended badly
        before = await orders(topo, ids)
        assert not [o for o in before.values() if o["state"] in ("FAILED", "CANCELLED")]

        done = await wait_all_completed(topo, ids, timeout=60)
        for order in done.values():
            completed_once(order)
            assert order["attempts"] >= 1

        # submitting an existing id answers the stored order (200, not a new one)
        status, again = await http_call(
            topo.base_url, "POST", "/api/work-orders", {"area_id": "area-1", "task": "other", "id": ids[0]}
        )
        assert status == 200, (status, again)
        assert again["id"] == ids[0] and again["task"] == "pick" and again["state"] == "COMPLETED"
        assert again["created"] == done[ids[0]]["created"]
        status, fleet = await http_call(topo.base_url, "GET", "/api/fleet")
        assert status == 200 and fleet["work_orders"]["COMPLETED"] == len(ids), fleet


@pytest.mark.timeout(150)
async def test_broker_restart_loses_and_duplicates_nothing(tmp_path: Path, unique: str) -> None:
    ids = [f"br-{i}" for i in range(20)]
    broker = EmbeddedBroker(store_dir=tmp_path / "js")
    await asyncio.to_thread(broker.start)
    try:
        async with small_fleet(broker.url, unique, robots=10, sim=_sim(pick=1.0)) as topo:
            for order_id in ids[:10]:
                await submit(topo, order_id)

            async def some_executing() -> bool:
                states = [o["state"] for o in (await orders(topo, ids[:10])).values()]
                return "EXECUTING" in states

            await eventually(some_executing, timeout=30, what="orders executing")
            port = broker.url
            await asyncio.to_thread(broker.restart)
            assert broker.url == port

            async def healthy() -> bool:
                status, body = await http_call(topo.base_url, "GET", "/healthz")
                return status == 200 and body.get("broker") == "connected"

            await eventually(healthy, timeout=30, what="the fleet reconnected to the broker")
            for order_id in ids[10:]:  # submissions work again after the restart
                await submit(topo, order_id)

            done = await wait_all_completed(topo, ids, timeout=90)
            for order in done.values():
                completed_once(order)
                assert 1 <= order["attempts"] <= DEFAULT_MAX_ATTEMPTS, order
            status, fleet = await http_call(topo.base_url, "GET", "/api/fleet")
            assert status == 200 and fleet["robots_online"] == 10, fleet
    finally:
        await asyncio.to_thread(broker.stop)
