"""A secured edge site from gen-config's own files (docs/fleet.md, "Edge sites").

``generate_deployment(..., site_zones=["zone-1"])`` writes ``secrets/`` (with the leaf link's
identity ``site-zone-1``), ``sites/hub.conf`` and ``sites/zone-1.conf``. The test starts a hub
and a site nats-server from those two files (only the ports changed: free ones, and the
site's remote dialling the hub through a :class:`~topology.CuttableLink`); the fleet and the
area run on the hub with their credentials, zone-1 and its three robots on the site with
theirs, everything over TLS checked against the deployment's CA. Orders complete, a cut and
a restore converge, and a robot's identity at the site may not publish another zone's site
order events.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from pathlib import Path
from typing import Any

import nats
import pytest
from shared_helpers import jetstream_domain_answers
from test_edge_site import ROBOTS, _connected, _disconnected, _robots, site_topology
from test_exactly_once import assert_executed_once, executions, orders, submit, wait_states
from topology import CuttableLink, eventually, tiers_use_their_identities

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config.generate import generate_deployment

_ZONE = "zone-1"


def _serve_from(path: Path, edits: dict[str, str]) -> Path:
    """``path`` with ``edits`` (regular expression -> replacement) applied, next to it."""
    text = path.read_text(encoding="utf-8")
    for pattern, replacement in edits.items():
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, (pattern, text)
    out = path.with_name(f"test-{path.name}")
    out.write_text(text, encoding="utf-8")
    return out


@pytest.fixture
def deployment(tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """6 robots in 2 zones (zone-1: robot-1..3 at a site), secured, subject root ``unique``."""
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    monkeypatch.delenv("ROS_DOMAIN_ID", raising=False)
    generate_deployment(tmp_path / "deploy", robots=6, zones=2, site_zones=[_ZONE])
    return tmp_path / "deploy"


@pytest.fixture
def identities(deployment: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each tier's transport is made while ``MESSAGING_CREDS`` names its own identity."""
    secrets = deployment / "secrets"
    tiers_use_their_identities(monkeypatch, secrets)
    return secrets


async def _connect(url: str, secrets: Path, name: str, errors: list[str] | None = None) -> Any:
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))

    return await nats.connect(
        url,
        user_credentials=str(secrets / f"{name}.creds"),
        inbox_prefix=f"_INBOX.{name}",
        tls=ssl.create_default_context(cafile=str(secrets / "ca.pem")),
        tls_hostname="localhost",
        error_cb=on_error,
        allow_reconnect=False,
        connect_timeout=5,
    )


async def _leaf_link_up(site_url: str, secrets: Path) -> None:
    """Return once the site zone reaches the hub's JetStream over the leaf link."""
    nc = await _connect(site_url, secrets, _ZONE)
    try:
        await jetstream_domain_answers(nc, "hub", what="the secured leaf link to the hub")
    finally:
        await nc.close()


@pytest.mark.timeout(90)
async def test_secured_site_from_gen_config(
    deployment: Path, identities: Path, unique: str, tmp_path: Path
) -> None:
    secrets = identities
    hub_conf = _serve_from(
        deployment / "sites" / "hub.conf",
        # a free leaf-node port; no_advertise: the site must not learn the hub's own port and
        # dial around the proxy
        {r"leafnodes \{ port: 7422,": "leafnodes { port: -1, no_advertise: true,"},
    )
    hub = EmbeddedBroker(config_file=hub_conf, host="127.0.0.1", port=0, store_dir=tmp_path / "hub")
    await asyncio.to_thread(hub.start)
    link = CuttableLink(str(hub.leafnode_url))
    await link.heal()
    site_conf = _serve_from(
        deployment / "sites" / f"{_ZONE}.conf",
        {r"tls://localhost:7422": f"tls://localhost:{link.port}", r"\nport: \d+\n": "\n"},
    )
    site = EmbeddedBroker(config_file=site_conf, host="127.0.0.1", port=0, store_dir=tmp_path / "site")
    await asyncio.to_thread(site.start)
    try:
        await _leaf_link_up(site.url, secrets)
        ids = [f"sec-{i}" for i in range(6)]
        async with site_topology(hub.url, site.url, unique) as topo:
            await eventually(lambda: _connected(topo), timeout=15, what="zone-1 reported through the link")
            for order_id in ids[:3]:
                await submit(topo, order_id)
            await wait_states(topo, ids[:3], {"COMPLETED"}, timeout=20)  # linked: as any zone

            for order_id in ids[3:]:
                await submit(topo, order_id)

            async def held_by_zone_1() -> bool:
                found = await orders(topo, ids[3:])
                return len(found) == 3 and all(o["zone_id"] == _ZONE for o in found.values())

            await eventually(held_by_zone_1, timeout=15, what="zone-1 holds the last orders")
            await link.cut()
            await eventually(
                lambda: all(any(r["state"] == "SUCCEEDED" for r in executions(i)) for i in ids[3:]),
                timeout=10,
                what="the held orders done at the site during the cut",
            )
            await eventually(lambda: _disconnected(topo), timeout=10, what="zone-1 DISCONNECTED")
            rows = await _robots(topo)
            assert {r["id"] for r in rows} == set(ROBOTS) and all(r["stale"] for r in rows), rows
            assert topo.zones[_ZONE].holds_lease()

            await link.heal()
            healed_at = time.monotonic()
            done = await wait_states(topo, ids, {"COMPLETED"}, timeout=20)
            print(f"secured edge site: converged {time.monotonic() - healed_at:.2f} s after the restore")
            for order in done.values():
                states = [e["state"] for e in order["history"]]
                assert states.count("COMPLETED") == 1 and order["attempts"] == 1, (order["id"], states)
            assert_executed_once(ids)
            await eventually(lambda: _connected(topo), timeout=10, what="zone-1 CONNECTED again")

            # A robot at the site may not speak for another zone (nor for its own zone).
            errors: list[str] = []
            robot = await _connect(site.url, secrets, "robot-1", errors)
            try:
                for zone in ("zone-2", _ZONE):
                    await robot.publish(f"{unique}.0.w.siteorders.{zone}.forged", b"{}")
                await robot.flush(timeout=5)
                await eventually(
                    lambda: sum("permissions violation" in e.lower() for e in errors) >= 2,
                    timeout=5,
                    what="robot-1's forged site order events refused",
                )
            finally:
                await robot.close()
            assert any("siteorders.zone-2.forged" in e for e in errors), errors
    finally:
        await link.cut()
        await asyncio.to_thread(site.stop)
        await asyncio.to_thread(hub.stop)
