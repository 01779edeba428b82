"""``gen-config --site-zones``: edge sites behind leaf nats-servers (docs/fleet.md, "Edge sites")."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from robotfleet_nodes.broker import find_nats_server
from robotfleet_nodes.config import load_config
from robotfleet_nodes.config.generate import generate_deployment
from robotfleet_nodes.errors import ConfigError


def test_site_zones_get_a_leaf_server_and_point_their_robots_at_it(tmp_path: Path) -> None:
    out = tmp_path / "d"
    summary = generate_deployment(
        out,
        robots=6,
        zones=3,
        broker="nats://hub.example:4222",
        secure=False,
        site_zones=["zone-3", "zone-2"],
    )
    fleet = load_config("fleet", out / "fleet.yaml")
    assert fleet.site_domains == {"zone-3": "zone-3", "zone-2": "zone-2"}
    zone_1, zone_3 = load_config("zone", out / "zone-1.yaml"), load_config("zone", out / "zone-3.yaml")
    assert zone_1.site is None and zone_1.messaging.broker == "nats://hub.example:4222"
    assert zone_3.site is not None and zone_3.jetstream_domain == "zone-3"
    assert zone_3.messaging.broker == "nats://localhost:4223"  # the first site zone listed
    for robot in zone_3.robots:
        assert load_config("edge", out / "edge" / f"{robot}.yaml").messaging.broker == "nats://localhost:4223"
    assert load_config("edge", out / "edge" / "robot-1.yaml").messaging.broker == "nats://hub.example:4222"

    hub = (out / "sites" / "hub.conf").read_text()
    assert 'domain: "hub"' in hub and "leafnodes { port: 7422 }" in hub
    site = (out / "sites" / "zone-3.conf").read_text()
    assert 'domain: "zone-3"' in site and '"nats://hub.example:7422"' in site and "port: 4223" in site
    for conf in (out / "sites").glob("*.conf"):  # nats-server itself accepts each file
        checked = subprocess.run(
            [find_nats_server(), "-t", "-c", str(conf)],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert checked.returncode == 0, (conf.name, checked.stderr)
    assert "sites/" in summary.describe()

    generate_deployment(out, robots=6, zones=3, secure=False)  # no sites: their files go
    assert not list((out / "sites").glob("*.conf"))
    assert load_config("fleet", out / "fleet.yaml").site_domains == {}


@pytest.mark.parametrize(
    ("sites", "secure", "message"),
    [
        (["zone-9"], False, "zone-9 not in this deployment"),
        (["zone-1", "zone-1"], False, "twice"),
        (["zone-1"], True, "needs --insecure"),
    ],
)
def test_bad_site_zones_are_refused(tmp_path: Path, sites: list[str], secure: bool, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_deployment(tmp_path, robots=4, zones=2, secure=secure, site_zones=sites)
