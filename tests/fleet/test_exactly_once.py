"""Exactly-once execution under faults (docs/fleet.md, "Leases"), counted on the robots.

Issue 13's failure stories, each on a real nats-server with the real tiers: a zone restarted
after its robot finished, a broker outage with every robot alive, a zone down longer than a
task, a zone cut off from the broker while it keeps running. Executions are counted from the
edges' own execution journals (``$RFOS_STATE_DIR/journal/<robot>.journal``, written by the
robots), never from the fleet's view, which is checked as well.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import http_call
from topology import CuttableLink, Topology, eventually, small_fleet

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config import LeaseConfig, SimDriverConfig
from robotfleet_nodes.msg import RobotStatus
from robotfleet_nodes.node import Node

FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def _sim(work_s: float) -> SimDriverConfig:
    """Robots that drive fast and work ``work_s`` per ``pick``; batteries stay full."""
    return SimDriverConfig(
        speed=50.0,
        work_time_s={"pick": work_s},
        default_work_time_s=work_s,
        idle_drain_per_s=0.0,
        battery_drain_per_s=0.0,
        seed=1,
    )


# -- the robots' journals ------------------------------------------------------------------
def journal_records() -> list[dict[str, Any]]:
    """Every record of every robot's journal, each with ``robot`` added."""
    folder = Path(os.environ["RFOS_STATE_DIR"]) / "journal"
    records: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.journal")):
        robot = path.name.removesuffix(".journal")
        for line in path.read_text().splitlines():
            if line.strip():
                records.append({**json.loads(line), "robot": robot})
    return records


def executions(order_id: str) -> list[dict[str, Any]]:
    """The executions of ``order_id`` on the robots: robot, attempt, start, end (None while
    running), end state, and ``active``: the spans the robot worked on it (not paused)."""
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    for record in journal_records():
        if record.get("o") != order_id:
            continue
        key = (record["robot"], int(record["a"]))
        kind, t = record["e"], record["t"]
        if kind == "start":
            runs[key] = {
                "robot": key[0],
                "attempt": key[1],
                "start": t,
                "end": None,
                "state": None,
                "active": [],
            }
            runs[key]["_from"] = t
            continue
        run = runs.get(key)
        if run is None:
            continue
        if kind == "pause" and run["_from"] is not None:
            run["active"].append((run.pop("_from"), t))
            run["_from"] = None
        elif kind == "resume":
            run["_from"] = t
        elif kind == "end":
            if run["_from"] is not None:
                run["active"].append((run["_from"], t))
            run.update(end=t, state=record["s"], _from=None)
    for run in runs.values():
        if run.pop("_from", None) is not None:
            run["active"].append((run["start"], float("inf")))
    return [run for run in runs.values() if run["state"] != "REFUSED"]


def assert_executed_once(order_ids: list[str]) -> None:
    """Each order SUCCEEDED on exactly one robot, and no two robots worked on it at once
    (a robot paused at its lease's end holds the order but does not work on it)."""
    for order_id in order_ids:
        runs = executions(order_id)
        succeeded = [r for r in runs if r["state"] == "SUCCEEDED"]
        assert len(succeeded) == 1, (order_id, runs)
        for one, other in itertools.combinations(runs, 2):
            for a0, a1 in one["active"]:
                for b0, b1 in other["active"]:
                    assert a1 <= b0 or b1 <= a0, (order_id, one, other)


async def succeeded_on_robot(order_id: str) -> bool:
    return any(r["state"] == "SUCCEEDED" for r in executions(order_id))


# -- HTTP ------------------------------------------------------------------------------------
async def submit(topo: Topology, order_id: str) -> None:
    status, order = await http_call(
        topo.base_url, "POST", "/api/work-orders", {"area_id": "area-1", "task": "pick", "id": order_id}
    )
    assert status == 201, (status, order)


async def orders(topo: Topology, ids: list[str]) -> dict[str, dict[str, Any]]:
    status, body = await http_call(topo.base_url, "GET", "/api/work-orders?limit=1000")
    assert status == 200, (status, body)
    return {o["id"]: o for o in body["items"] if o["id"] in ids}


async def wait_states(topo: Topology, ids: list[str], states: set[str], timeout: float) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        found = await orders(topo, ids)
        if len(found) == len(ids) and all(o["state"] in states for o in found.values()):
            return found
        return None

    result: dict[str, Any] = await eventually(reached, timeout=timeout, what=f"{ids} in {states}")
    return result


def completed_once(order: dict[str, Any]) -> None:
    states = [e["state"] for e in order["history"]]
    assert order["state"] == "COMPLETED" and states.count("COMPLETED") == 1, (order["id"], states)


async def zone_of_running(topo: Topology, ids: list[str]) -> dict[str, list[str]]:
    """zone id -> the orders of ``ids`` its robots are executing now."""
    found = await orders(topo, ids)
    by_zone: dict[str, list[str]] = {}
    for order in found.values():
        if order["state"] == "EXECUTING":
            by_zone.setdefault(order["zone_id"], []).append(order["id"])
    return by_zone


class StatusWatch:
    """The latest RobotStatus of every robot, as published on the bus."""

    def __init__(self) -> None:
        self.latest: dict[str, Any] = {}

    async def attach(self, topo: Topology) -> None:
        node = Node("status_watch", context=topo.context)
        await node.start()
        for config in topo.edge_configs:
            await node.create_subscription(
                RobotStatus,
                f"/robots/{config.robot_id}/status",
                lambda msg: self.latest.__setitem__(msg.robot_id, msg),
                10,
            )


# -- the stories -----------------------------------------------------------------------------
@pytest.mark.timeout(120)
async def test_zone_restarted_after_its_robot_finished_does_not_run_the_order_again(
    nats_url: str, unique: str
) -> None:
    """Today's main: the restarted zone did not see the order running, requeued it, and the
    same robot ran it a second time."""
    leases = LeaseConfig(robot_lease_s=8.0, zone_lease_s=4.0, margin_s=0.5, renew_period_s=0.25)
    ids = [f"zr-{i}" for i in range(4)]
    async with small_fleet(nats_url, unique, robots=4, isolate=True, sim=_sim(2.0), leases=leases) as topo:
        for order_id in ids:
            await submit(topo, order_id)
        running = await eventually(lambda: zone_of_running(topo, ids), timeout=30, what="orders executing")
        zone_id, on_zone = next(iter(running.items()))
        await topo.crash_zone(zone_id)
        for order_id in on_zone:  # the robots finish while their zone is down
            await eventually(
                lambda oid=order_id: succeeded_on_robot(oid), timeout=30, what=f"{order_id} done on its robot"
            )
        await topo.start_zone(zone_id)
        done = await wait_states(topo, ids, FINAL, timeout=60)
        for order in done.values():
            completed_once(order)
        assert all(done[i]["attempts"] == 1 for i in on_zone), {i: done[i]["attempts"] for i in on_zone}
        assert_executed_once(ids)


@pytest.mark.timeout(150)
async def test_broker_outage_is_not_a_robot_outage(tmp_path: Path, unique: str) -> None:
    """Today's main: after ~3 s without heartbeats the zones declared their (running) robots
    OFFLINE and gave their orders to other robots while the first ones also finished them."""
    leases = LeaseConfig(robot_lease_s=2.0, zone_lease_s=4.0, margin_s=0.5, renew_period_s=0.25)
    ids = [f"bo-{i}" for i in range(6)]
    broker = EmbeddedBroker(store_dir=tmp_path / "js")
    await asyncio.to_thread(broker.start)
    try:
        async with small_fleet(broker.url, unique, robots=8, sim=_sim(3.0), leases=leases) as topo:
            for order_id in ids:
                await submit(topo, order_id)
            await eventually(lambda: zone_of_running(topo, ids), timeout=30, what="orders executing")
            await asyncio.to_thread(broker.kill)
            await asyncio.sleep(4.0)  # the outage: longer than the heartbeat timeout and the lease
            await asyncio.to_thread(broker.restart)
            done = await wait_states(topo, ids, FINAL, timeout=90)
            for order in done.values():
                completed_once(order)
            assert_executed_once(ids)
            ran_on = {i: {r["robot"] for r in executions(i)} for i in ids}
            assert all(len(robots) == 1 for robots in ran_on.values()), ran_on
    finally:
        await asyncio.to_thread(broker.stop)


@pytest.mark.timeout(150)
async def test_zone_down_longer_than_a_task_moves_its_orders_once(nats_url: str, unique: str) -> None:
    """Today's main: the orders of a zone down 50 s stayed EXECUTING the whole time, and its
    restart ran every one of them a second time."""
    leases = LeaseConfig(robot_lease_s=1.5, zone_lease_s=1.0, margin_s=0.5, renew_period_s=0.25)
    ids = [f"zd-{i}" for i in range(4)]
    async with small_fleet(nats_url, unique, robots=6, isolate=True, sim=_sim(5.0), leases=leases) as topo:
        watch = StatusWatch()
        await watch.attach(topo)
        for order_id in ids:
            await submit(topo, order_id)
        running = await eventually(lambda: zone_of_running(topo, ids), timeout=30, what="orders executing")
        zone_id, on_zone = next(iter(running.items()))
        await topo.crash_zone(zone_id)
        done = await wait_states(topo, ids, FINAL, timeout=90)  # taken back, run elsewhere
        for order_id in on_zone:
            assert done[order_id]["zone_id"] != zone_id, done[order_id]
        await topo.start_zone(zone_id)  # back after longer than a task: nothing runs twice

        def idle() -> bool:
            robots = [c.robot_id for c in topo.edge_configs if c.zone_id == zone_id]
            return all(r in watch.latest and not watch.latest[r].current_order_id for r in robots)

        await eventually(idle, timeout=30, what=f"{zone_id}'s robots dropped the orders taken back")
        for order in (await orders(topo, ids)).values():
            completed_once(order)
        assert_executed_once(ids)


@pytest.mark.timeout(150)
async def test_orders_a_robot_finished_while_its_zone_was_down_long_are_completed_not_moved(
    nats_url: str, unique: str
) -> None:
    """The robots finish within their leases while their zone is down; the area asks them
    before it takes the orders back, so it completes them instead of running them again."""
    leases = LeaseConfig(robot_lease_s=5.0, zone_lease_s=1.0, margin_s=0.5, renew_period_s=0.25)
    ids = [f"zf-{i}" for i in range(4)]
    async with small_fleet(nats_url, unique, robots=6, isolate=True, sim=_sim(1.5), leases=leases) as topo:
        for order_id in ids:
            await submit(topo, order_id)
        running = await eventually(lambda: zone_of_running(topo, ids), timeout=30, what="orders executing")
        zone_id, on_zone = next(iter(running.items()))
        await topo.crash_zone(zone_id)
        done = await wait_states(topo, ids, FINAL, timeout=90)
        for order_id in on_zone:
            notes = [e["note"] for e in done[order_id]["history"] if e["state"] == "COMPLETED"]
            assert notes and "was silent" in notes[0], done[order_id]
        for order in done.values():
            completed_once(order)
        assert_executed_once(ids)


@pytest.mark.timeout(150)
async def test_zone_cut_off_but_running_stops_its_robots_before_its_orders_move(
    nats_url: str, unique: str
) -> None:
    """A zone that runs on but cannot reach the broker: its robots pause at their lease's end,
    the area moves the orders only after that, and when the link heals the zone does not
    resume them."""
    leases = LeaseConfig(robot_lease_s=1.5, zone_lease_s=1.0, margin_s=0.5, renew_period_s=0.25)
    link = CuttableLink(nats_url)
    await link.heal()
    ids = [f"zc-{i}" for i in range(4)]
    async with small_fleet(
        nats_url, unique, robots=6, isolate=True, sim=_sim(6.0), leases=leases, urls={"zone-1": link.url}
    ) as topo:
        watch = StatusWatch()
        await watch.attach(topo)
        for order_id in ids:
            await submit(topo, order_id)

        async def zone_1_running() -> list[str]:
            return (await zone_of_running(topo, ids)).get("zone-1", [])

        on_zone_1 = await eventually(zone_1_running, timeout=30, what="orders executing on zone-1")
        await link.cut()
        robots = {r["robot"] for i in on_zone_1 for r in executions(i)}

        def paused() -> bool:
            return all(r in watch.latest and watch.latest[r].paused for r in robots)

        await eventually(paused, timeout=30, what=f"{robots} paused at their lease's end")
        done = await wait_states(topo, ids, FINAL, timeout=90)
        for order_id in on_zone_1:
            assert done[order_id]["zone_id"] != "zone-1", done[order_id]
        await link.heal()

        def dropped() -> bool:
            return all(r in watch.latest and not watch.latest[r].current_order_id for r in robots)

        await eventually(dropped, timeout=30, what="zone-1's robots dropped the orders moved away")
        for order in (await orders(topo, ids)).values():
            completed_once(order)
        assert_executed_once(ids)
        for order_id in on_zone_1:
            first = min(executions(order_id), key=lambda r: r["start"])
            assert first["robot"] in robots and first["state"] == "CANCELLED", first
    await link.cut()
