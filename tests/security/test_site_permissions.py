"""Edge sites' permissions (docs/fleet.md, "Edge sites"): the site zone's extra subjects and
the leaf link's identity ``site-<zone>``, table-driven; names agree with the fleet's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robotfleet_nodes.config import SiteConfig
from robotfleet_nodes.config._sites import HUB_DOMAIN as GENERATED_HUB_DOMAIN
from robotfleet_nodes.fleet.sites import site_stream_name
from robotfleet_nodes.security.identities import IdentityStore
from robotfleet_nodes.security.permissions import HUB_DOMAIN, Permissions, PermissionTables, site_stream
from robotfleet_nodes.security.topology import Topology
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

TOPOLOGY = Topology(
    zone_robots={"zone-1": ["robot-1", "robot-2"], "zone-2": ["robot-3"]},
    area_zones={"area-1": ["zone-1", "zone-2"]},
    site_zones=("zone-2",),
)
T = PermissionTables(TOPOLOGY)
SITE_STREAM = "RFOS_rfos_0_SITE_zone-2_EVENTS"


def _lists(perms: Permissions) -> tuple[str, str]:
    claims = perms.claims()
    return json.dumps(claims["pub"]["allow"]), json.dumps(claims["sub"]["allow"])


@pytest.mark.parametrize(
    ("perms", "pub", "not_pub", "sub", "not_sub"),
    [
        (
            T.zone("zone-2"),
            [
                "rfos.0.w.siteorders.zone-2.>",
                f"$JS.API.STREAM.CREATE.{SITE_STREAM}",
                "$JS.hub.API.DIRECT.GET.KV_RFOS_rfos_0_ORDERS",
                "$JS.hub.API.CONSUMER.CREATE.KV_RFOS_rfos_0_ORDERS",
            ],
            ["zone-1", "robot-1", "STREAM.UPDATE", "STREAM.DELETE", "STREAM.CREATE.RFOS_rfos_0_ORDER"],
            ["_INBOX.zone-2.>"],
            ["_INBOX.>"],
        ),
        (T.zone("zone-1"), ["rfos.0.w.orders.zone-1.>"], ["siteorders", "STREAM.CREATE", "$JS.hub"], [], []),
        (
            T.site_link("zone-2"),
            # what the site may send the hub: its zone's and robots' subjects, replies, the
            # zone's calls into the hub's domain, the source's deliveries and answers
            [
                "rfos.0.t.zones.zone-2.>",
                "rfos.0.t.robots.robot-3.>",
                "_INBOX.>",
                "$JS.hub.API.DIRECT.GET.KV_RFOS_rfos_0_ORDERS",
                "$JS.S.>",
                "$JSC.R.>",
                "$KV.RFOS_rfos_0_FACTSHEETS.robot-3",  # its robots' factsheets, into the hub's bucket
            ],
            [
                "zone-1",
                "robot-1",
                "$JS.API.",
                "$KV.RFOS_rfos_0_ORDERS",
                "FACTSHEETS.>",
                "rfos.0.s.fleet",
                "rfos.0.w.>",
            ],
            # what the hub may send the site: what its zone and robots subscribe, the hub's
            # calls into the site's JetStream domain, the source's flow control
            [
                "rfos.0.*.zones.zone-2.>",
                "_INBOX.zone-2.>",
                "_INBOX.robot-3.>",
                "$JS.zone-2.API.>",
                f"$JS.FC.{SITE_STREAM}.>",
            ],
            ["zone-1", "robot-1", '"_INBOX.>"', "$JS.API.>", "$JS.hub.API", "rfos.0.t.>"],
        ),
    ],
    ids=["site-zone", "hub-zone", "site-link"],
)
def test_site_table(
    perms: Permissions, pub: list[str], not_pub: list[str], sub: list[str], not_sub: list[str]
) -> None:
    pubs, subs = _lists(perms)
    assert all(s in pubs for s in pub), [s for s in pub if s not in pubs]
    assert not [s for s in not_pub if s in pubs]
    assert all(s in subs for s in sub), [s for s in sub if s not in subs]
    assert not [s for s in not_sub if s in subs]


def test_names_agree_with_the_fleet_and_the_config() -> None:
    for root, domain, zone in [("rfos", "0", "zone-2"), ("site.rf", "7", "zone/x")]:
        assert site_stream(root, domain, zone) == site_stream_name(
            SubjectMapper(root=root, domain=domain), zone
        )
    assert HUB_DOMAIN == SiteConfig().hub_domain == GENERATED_HUB_DOMAIN


def test_sync_issues_one_leaf_identity_per_site_and_forgets_it_with_the_site(tmp_path: Path) -> None:
    store = IdentityStore(tmp_path / "secrets").open()
    store.sync(TOPOLOGY, containers=1)
    assert store.identities["site-zone-2"]["kind"] == "site"
    assert "site-zone-1" not in store.identities
    assert store.creds_path("site-zone-2").exists()
    plain = Topology(zone_robots=TOPOLOGY.zone_robots, area_zones=TOPOLOGY.area_zones)
    store.sync(plain, containers=1)
    assert "site-zone-2" not in store.identities and not store.creds_path("site-zone-2").exists()
