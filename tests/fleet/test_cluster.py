"""The fleet on a 3-node NATS cluster (issue 18, "Cluster"): JetStream at R3, client failover.

Real nats-server processes (an :class:`EmbeddedCluster` on free loopback ports), the real
tiers in this process connected with all three URLs. The server the fleet is connected to is
killed with SIGKILL while orders execute: every order still completes, and each ran exactly
once, counted from the robots' own journals.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import http_call
from test_exactly_once import assert_executed_once
from topology import Topology, eventually, small_fleet

from robotfleet_nodes.broker import EmbeddedCluster
from robotfleet_nodes.config import SimDriverConfig
from robotfleet_nodes.fleet.protocol import nats_transport_of

FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def _sim() -> SimDriverConfig:
    """Robots that drive fast and work 1 s per task; batteries stay full."""
    return SimDriverConfig(
        speed=50.0,
        work_time_s={},
        default_work_time_s=1.0,
        idle_drain_per_s=0.0,
        battery_drain_per_s=0.0,
        seed=1,
    )


async def _submit(topo: Topology, order_id: str, deadline: float) -> int:
    """POST the order, retrying while the API answers 503 (with Retry-After); the 503 count."""
    unavailable = 0
    while True:
        status, body = await http_call(
            topo.base_url, "POST", "/api/work-orders", {"area_id": "area-1", "task": "pick", "id": order_id}
        )
        if status in (200, 201):
            return unavailable
        assert status == 503, (status, body)
        unavailable += 1
        assert time.monotonic() < deadline, f"{order_id}: still 503 after the deadline: {body}"
        await asyncio.sleep(0.2)


async def _orders(topo: Topology, ids: list[str]) -> dict[str, dict[str, Any]]:
    status, body = await http_call(topo.base_url, "GET", "/api/work-orders?limit=1000")
    assert status == 200, (status, body)
    found = {o["id"]: o for o in body["items"] if o["id"] in ids}
    assert set(found) == set(ids), f"lost orders: {sorted(set(ids) - set(found))}"
    return found


async def _stream_replicas(topo: Topology) -> dict[str, int]:
    js = nats_transport_of(topo.service.context.transport).jetstream()
    return {info.config.name: int(info.config.num_replicas or 1) for info in await js.streams_info()}


@pytest.mark.timeout(120)
async def test_fleet_survives_the_loss_of_its_nats_server(tmp_path: Path, unique: str) -> None:
    ids = [f"cl-{i}" for i in range(16)]
    cluster = EmbeddedCluster(3, store_dir=tmp_path / "nats")
    async with cluster, small_fleet(cluster.url, unique, zones=2, robots=4, sim=_sim()) as topo:
        # every stream and bucket the tiers created is replicated on the three servers
        replicas = await _stream_replicas(topo)
        assert any(name.startswith("KV_") for name in replicas), replicas
        assert any(name.endswith("_ORDER_EVENTS") for name in replicas), replicas
        assert any(name.endswith("_FLEET_LEADER") for name in replicas), replicas  # the leader lease
        assert set(replicas.values()) == {3}, replicas

        deadline = time.monotonic() + 30
        for order_id in ids[:8]:
            await _submit(topo, order_id, deadline)

        async def executing() -> bool:
            return any(o["state"] == "EXECUTING" for o in (await _orders(topo, ids[:8])).values())

        await eventually(executing, timeout=30, what="orders executing")
        fleet_nc = nats_transport_of(topo.service.context.transport).client
        assert fleet_nc.connected_url is not None
        victim = cluster.index_of(f"nats://{fleet_nc.connected_url.netloc}")
        await asyncio.to_thread(cluster.kill, victim)

        # writes come back on the other servers (503 + Retry-After meanwhile is allowed)
        deadline = time.monotonic() + 30
        for order_id in ids[8:]:
            await _submit(topo, order_id, deadline)
        assert fleet_nc.connected_url is not None
        assert f"nats://{fleet_nc.connected_url.netloc}" != cluster.urls[victim]

        async def all_completed() -> bool:
            found = await _orders(topo, ids)
            ended = {i: o["state"] for i, o in found.items() if o["state"] in FINAL - {"COMPLETED"}}
            assert not ended, f"orders ended without completing: {ended}"
            return all(o["state"] == "COMPLETED" for o in found.values())

        await eventually(all_completed, timeout=60, what="every order COMPLETED")
        for order in (await _orders(topo, ids)).values():
            states = [e["state"] for e in order["history"]]
            assert states.count("COMPLETED") == 1 and states[-1] == "COMPLETED", (order["id"], states)
        assert_executed_once(ids)

        # the killed server rejoins with its store; the streams are still at R3
        await asyncio.to_thread(cluster.restart, victim)
        assert set((await _stream_replicas(topo)).values()) == {3}
