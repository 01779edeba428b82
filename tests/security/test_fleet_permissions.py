"""The permission tables hold for a running fleet: every tier on its own identity (fleet,
area, zones, robots) against a nats-server started from the generated configuration runs
orders to completion, cancels one, survives a zone restart, and the server logs not one
permission violation.

Each tier's transport gets its identity from ``MESSAGING_CREDS`` / ``MESSAGING_TLS_CA``, set
while that tier is brought up.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from secured_server import SecuredServer
from shared_helpers import http_call

from robotfleet_nodes.config import SimDriverConfig
from robotfleet_nodes.security.deployment import write_secrets
from robotfleet_nodes.security.topology import Topology as Secured

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fleet"))  # tests/fleet/topology.py
from topology import Topology, eventually, small_fleet, tiers_use_their_identities
from vda_like import FACTSHEET, vda_like

ROBOTS, ZONES = 6, 2
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


@pytest.fixture
def secured_server(tmp_path: Path) -> Iterator[SecuredServer]:
    # small_fleet spreads robots round-robin: robot-1 -> zone-1, robot-2 -> zone-2, ...
    zones = [f"zone-{z + 1}" for z in range(ZONES)]
    zone_robots = {
        z: [f"robot-{r + 1}" for r in range(ROBOTS) if r % ZONES == i] for i, z in enumerate(zones)
    }
    write_secrets(tmp_path, Secured(zone_robots=zone_robots, area_zones={"area-1": zones}))
    server = SecuredServer(tmp_path / "secrets" / "nats-server.conf")
    server.start()
    try:
        asyncio.run(_set_up(server))
        yield server
    finally:
        server.close()


@pytest.fixture
def identities(secured_server: SecuredServer, monkeypatch: pytest.MonkeyPatch) -> SecuredServer:
    """Every tier's transport is made while ``MESSAGING_CREDS`` names its identity (the
    transport reads it, and takes ``_INBOX.<name>`` as its inbox prefix)."""
    tiers_use_their_identities(monkeypatch, secured_server.secrets)
    return secured_server


async def _set_up(server: SecuredServer) -> None:
    """What the deployment's set-up does as the fleet before zones and the area start: the
    order-events stream and the order bucket (zones and areas may not create them)."""
    from nats.js import api

    fleet = await server.connect("fleet")
    try:
        js = fleet.jetstream()
        await js.add_stream(
            api.StreamConfig(
                name="RFOS_rfos_0_ORDER_EVENTS", subjects=["rfos.0.w.orders.>"], duplicate_window=120
            )
        )
        await js.create_key_value(api.KeyValueConfig(bucket="RFOS_rfos_0_ORDERS", history=1))
    finally:
        await fleet.close()


async def _submit(topo: Topology, order_id: str, task: str = "pick") -> None:
    body = {"area_id": "area-1", "task": task, "id": order_id}
    status, order = await http_call(topo.base_url, "POST", "/api/work-orders", body)
    assert status == 201, (status, order)


async def _state(topo: Topology, order_id: str) -> str:
    status, order = await http_call(topo.base_url, "GET", f"/api/work-orders/{order_id}")
    assert status == 200, (status, order)
    return str(order["state"])


async def _all_in(topo: Topology, ids: list[str], state: str) -> bool:
    states = [await _state(topo, i) for i in ids]
    assert not [s for s in states if s in FINAL - {state}], states
    return all(s == state for s in states)


@pytest.mark.timeout(120)
async def test_a_fleet_runs_without_one_permission_violation(identities: SecuredServer) -> None:
    server = identities
    sim = SimDriverConfig(speed=50.0, work_time_s={"long": 60.0}, default_work_time_s=0.05, seed=1)
    async with small_fleet(server.url, "rfos", robots=ROBOTS, zones=ZONES, isolate=True, sim=sim) as topo:
        first = [f"wo-{i}" for i in range(ROBOTS)]
        for order_id in first:
            await _submit(topo, order_id)
        await eventually(lambda: _all_in(topo, first, "COMPLETED"), timeout=30, what="first orders done")

        await _submit(topo, "long-1", task="long")
        await eventually(lambda: _all_in(topo, ["long-1"], "EXECUTING"), timeout=30, what="long-1 running")
        status, _ = await http_call(topo.base_url, "POST", "/api/work-orders/long-1/cancel", {})
        assert status in (200, 202), status
        await eventually(lambda: _all_in(topo, ["long-1"], "CANCELLED"), timeout=30, what="long-1 cancelled")

        await topo.restart_zone("zone-1")
        again = [f"wo-after-{i}" for i in range(ROBOTS)]
        for order_id in again:
            await _submit(topo, order_id)
        await eventually(lambda: _all_in(topo, again, "COMPLETED"), timeout=60, what="orders after restart")
        await asyncio.sleep(0)  # let the last replies go out before reading the log
    found = sorted({line.split(" - ", 3)[-1] for line in server.violations()})
    assert found == []
    assert "authentication error" not in server.log()


@pytest.mark.timeout(60)
async def test_a_robot_stores_its_own_factsheet_and_no_other(identities: SecuredServer) -> None:
    """robot-1 (a VDA 5050 vehicle) stores its factsheet on its own identity and the API shows
    it; robot-2's identity may store its own key but is refused robot-1's, which stays as it was."""
    server = identities
    bucket = "RFOS_rfos_0_FACTSHEETS"
    async with small_fleet(
        server.url, "rfos", robots=ROBOTS, zones=ZONES, isolate=True, drivers={"robot-1": vda_like()}
    ) as topo:

        async def shown() -> Any:
            status, body = await http_call(topo.base_url, "GET", "/api/robots/robot-1/factsheet")
            return body if status == 200 else None

        body = await eventually(shown, timeout=30, what="robot-1's factsheet in the API")
        assert body["factsheet"] == FACTSHEET

        async def kind() -> Any:
            status, rows = await http_call(topo.base_url, "GET", "/api/robots?zone_id=zone-1")
            return status == 200 and {r["id"]: r["kind"] for r in rows}.get("robot-1")

        assert await eventually(kind, timeout=30, what="robot-1 in /api/robots") == "vda5050"
        assert server.violations() == []  # the edge's put needed no more

        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        robot2 = await server.connect("robot-2", error_cb=on_error)
        try:
            ack = await robot2.request(f"$KV.{bucket}.robot-2", b'{"robot_id": "robot-2"}', timeout=5)
            assert b'"seq"' in ack.data  # its own key: stored
            forged = b'{"robot_id": "robot-1", "factsheet": {"forged": true}}'
            with pytest.raises(nats.errors.TimeoutError):  # dropped by the server: no answer
                await robot2.request(f"$KV.{bucket}.robot-1", forged, timeout=1)
            violation = f'permissions violation for publish to "$kv.{bucket}.robot-1"'.lower()
            await eventually(lambda: any(violation in e.lower() for e in errors), what="the violation")
        finally:
            await robot2.close()
        assert (await shown())["factsheet"] == FACTSHEET
    found = sorted({line.split(" - ", 3)[-1] for line in server.violations()})
    assert len(found) == 1 and f"$KV.{bucket}.robot-1" in found[0], found
