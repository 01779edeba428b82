"""Leaf-node and JetStream-domain options of the embedded broker (docs/fleet.md, "Edge sites")."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import nats
import pytest
from shared_helpers import jetstream_domain_answers

from robotfleet_nodes.broker import EmbeddedBroker, LeafOptions
from robotfleet_nodes.cli.main import main
from robotfleet_nodes.errors import BrokerError


def test_no_options_write_nothing() -> None:
    assert LeafOptions().config_text("127.0.0.1") == ""
    assert not LeafOptions().any


def test_hub_and_site_blocks() -> None:
    hub = LeafOptions(jetstream_domain="hub", leafnode_port=-1, no_advertise=True).config_text("127.0.0.1")
    assert 'jetstream { domain: "hub" }' in hub
    assert 'host: "127.0.0.1"' in hub and "port: -1" in hub and "no_advertise: true" in hub
    site = LeafOptions(
        jetstream_domain="zone-3",
        remotes=("nats://hub:7422",),
        credentials="/s/zone-3.creds",
        tls_ca="/s/ca.pem",
    ).config_text("0.0.0.0")
    assert 'urls: ["nats://hub:7422"]' in site
    assert 'credentials: "/s/zone-3.creds"' in site and 'tls { ca_file: "/s/ca.pem" }' in site
    assert "port:" not in site  # a site listens for no leaf node itself


def test_options_beside_a_config_file_are_refused(tmp_path: Path) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text("port: 4222\n")
    with pytest.raises(BrokerError, match="gen-config --site-zones"):
        EmbeddedBroker(config_file=conf, jetstream_domain="hub")


@pytest.mark.timeout(30)
def test_hub_listens_for_leaf_nodes_and_keeps_its_port_on_restart() -> None:
    with EmbeddedBroker(jetstream_domain="hub", leafnode_port=-1) as hub:
        first = hub.leafnode_url
        assert first is not None and first.startswith("nats://127.0.0.1:")
        hub.restart()
        assert hub.leafnode_url == first
    with EmbeddedBroker() as plain:
        assert plain.leafnode_url is None


def test_rfos_broker_refuses_leaf_flags_beside_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text("port: 4222\n")
    assert main(["broker", "--config", str(conf), "--jetstream-domain", "hub"]) != 0
    assert "gen-config --site-zones" in capsys.readouterr().err


@pytest.mark.timeout(60)
async def test_rfos_broker_site_dials_the_hub(tmp_path: Path) -> None:
    """``rfos broker --jetstream-domain zone-9 --leaf-remote URL``: the hub then reaches the
    site's JetStream (domain zone-9) over the leaf link."""
    with EmbeddedBroker(jetstream_domain="hub", leafnode_port=-1) as hub:
        site = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "robotfleet_nodes.cli.main",
            "broker",
            "--port",
            "0",
            "--store",
            str(tmp_path / "site"),
            "--jetstream-domain",
            "zone-9",
            "--leaf-remote",
            str(hub.leafnode_url),
            stdout=asyncio.subprocess.PIPE,
        )
        nc = await nats.connect(hub.url)
        try:
            assert site.stdout is not None
            ready = await asyncio.wait_for(site.stdout.readline(), timeout=20)
            assert b"nats-server ready" in ready

            await jetstream_domain_answers(nc, "zone-9", what="the site's JetStream seen from the hub")
        finally:
            await nc.close()
            site.send_signal(signal.SIGTERM)
            await asyncio.wait_for(site.wait(), timeout=20)
