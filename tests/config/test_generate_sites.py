"""``gen-config --site-zones``: edge sites behind leaf nats-servers (docs/fleet.md, "Edge sites")."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from robotfleet_nodes.broker import find_nats_server
from robotfleet_nodes.config import load_config
from robotfleet_nodes.config.generate import generate_deployment
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.security.identities import IdentityStore
from robotfleet_nodes.security.topology import Topology


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


def _nats_server_accepts(conf: Path) -> None:
    checked = subprocess.run(
        [find_nats_server(), "-t", "-c", str(conf)], check=False, capture_output=True, text=True, timeout=10
    )
    assert checked.returncode == 0, (conf.name, checked.stderr)


def test_secured_sites_include_the_server_config_and_link_with_their_own_identity(tmp_path: Path) -> None:
    out = tmp_path / "d"
    generate_deployment(out, robots=6, zones=3, broker="nats://hub.example:4222", site_zones=["zone-3"])
    secrets = (out / "secrets").resolve()
    account = IdentityStore(secrets).open().trust()[1].public_key
    hub = (out / "sites" / "hub.conf").read_text()
    assert 'include "../secrets/nats-server.conf"' in hub and 'domain: "hub"' in hub
    assert f'cert_file: "{secrets / "server-cert.pem"}"' in hub and f'ca_file: "{secrets / "ca.pem"}"' in hub
    site = (out / "sites" / "zone-3.conf").read_text()
    assert 'include "../secrets/nats-server.conf"' in site and 'domain: "zone-3"' in site
    assert '"tls://hub.example:7422"' in site and f'account: "{account}"' in site
    assert f'credentials: "{secrets / "site-zone-3.creds"}"' in site
    assert f'tls {{ ca_file: "{secrets / "ca.pem"}" }}' in site
    assert (secrets / "site-zone-3.creds").exists() and not (secrets / "site-zone-1.creds").exists()
    zone_3 = load_config("zone", out / "zone-3.yaml")
    assert zone_3.messaging.broker == "nats://localhost:4223" and zone_3.messaging.credentials is not None
    robot = load_config("edge", out / "edge" / f"{zone_3.robots[0]}.yaml")
    assert robot.messaging.credentials is not None and robot.messaging.tls_ca is not None
    for conf in (out / "sites").glob("*.conf"):
        _nats_server_accepts(conf)
    # `rfos security` re-reads the deployment: the site keeps its link identity
    assert Topology.from_deployment(out).site_zones == ("zone-3",)

    generate_deployment(out, robots=6, zones=3, broker="nats://hub.example:4222")  # no sites any more
    assert not (secrets / "site-zone-3.creds").exists() and not list((out / "sites").glob("*.conf"))


@pytest.mark.parametrize(
    ("sites", "message"),
    [(["zone-9"], "zone-9 not in this deployment"), (["zone-1", "zone-1"], "twice")],
)
def test_bad_site_zones_are_refused(tmp_path: Path, sites: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_deployment(tmp_path, robots=4, zones=2, secure=False, site_zones=sites)
