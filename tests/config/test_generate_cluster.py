"""gen-config --nats-cluster: every YAML lists the servers, one nats-server config per host,
route TLS, certificates naming the hosts; the generated cluster starts and replicates at R3."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from shared_helpers import eventually

from robotfleet_nodes.broker import EmbeddedBroker, EmbeddedCluster
from robotfleet_nodes.config.generate import generate_deployment, main
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.fleet.protocol import OrderEvents, OrderStore
from robotfleet_nodes.transport import NatsTransport


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _sans(cert: Path) -> set[str]:
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n) for n in san.get_values_for_type(x509.DNSName)} | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }


def test_names_hosts_in_every_file(tmp_path: Path) -> None:
    out = tmp_path / "d"
    assert (
        main(["--robots", "4", "--zones", "2", "--out", str(out), "--nats-cluster", "nats-a,nats-b,nats-c"])
        == 0
    )
    urls = "nats://nats-a:4222,nats://nats-b:4222,nats://nats-c:4222"
    for name in ("fleet.yaml", "area.yaml", "zone-1.yaml", "edge/robot-4.yaml"):
        assert yaml.safe_load((out / name).read_text())["messaging"]["broker"] == urls, name
    assert sorted(p.name for p in (out / "nats").iterdir()) == ["nats-1.conf", "nats-2.conf", "nats-3.conf"]
    second = (out / "nats" / "nats-2.conf").read_text()
    assert 'include "../secrets/nats-server.conf"' in second
    assert 'server_name: "nats-2"' in second
    assert 'client_advertise: "nats-b:4222"' in second
    assert 'listen: "0.0.0.0:6222"' in second  # a host name: every interface
    assert (
        'routes: ["nats-route://nats-a:6222", "nats-route://nats-b:6222", "nats-route://nats-c:6222"]'
        in second
    )
    assert 'include "../secrets/nats-cluster.conf"' in second
    secrets = out / "secrets"
    for cert in ("server-cert.pem", "route-cert.pem"):
        assert {"nats-a", "nats-b", "nats-c", "localhost"} <= _sans(secrets / cert), cert
    assert "pinned_certs" in (secrets / "nats-cluster.conf").read_text()

    # fewer hosts on a re-run: the removed host's config goes
    generate_deployment(out, robots=4, zones=2, nats_cluster=["nats-a", "nats-b"])
    assert sorted(p.name for p in (out / "nats").iterdir()) == ["nats-1.conf", "nats-2.conf"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nats-a", "at least 2 hosts"),
        ("a:4222,a:4222", "used twice"),
        ("a:http,b", "not a port number"),
        ("a:1:2:3,b", "is not host"),
    ],
)
def test_bad_cluster_hosts_are_refused(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_deployment(tmp_path / "d", robots=2, zones=1, nats_cluster=spec, secure=False)


@pytest.mark.timeout(60)
async def test_the_generated_cluster_starts_secured_and_replicates(tmp_path: Path) -> None:
    ports = _free_ports(6)
    spec = ",".join(f"127.0.0.1:{ports[i]}:{ports[i + 3]}" for i in range(3))
    out = tmp_path / "d"
    generate_deployment(out, robots=3, zones=1, nats_cluster=spec)
    servers = [
        EmbeddedBroker(config_file=out / "nats" / f"nats-{i}.conf", store_dir=tmp_path / f"nats-{i}")
        for i in (1, 2, 3)
    ]
    try:
        for server in servers:
            server.start(20)
        for server in servers:
            server.wait_meta_leader(20)
        assert ipaddress.ip_address(servers[0].url.split("//")[1].rsplit(":", 1)[0]).is_loopback
        fleet = yaml.safe_load((out / "fleet.yaml").read_text())["messaging"]
        transport = NatsTransport(
            fleet["broker"],
            credentials=out / fleet["credentials"],
            tls_ca=out / fleet["tls_ca"],
        )
        await transport.connect()
        try:
            assert transport.stream_replicas() == 3
            events, store = OrderEvents(transport), OrderStore(transport)
            await events.ensure(create=True)
            await store.ensure(create=True)
            js = transport.jetstream()
            for stream in (events.stream, f"KV_{store.bucket}"):
                info = await js.stream_info(stream)
                assert info.config.num_replicas == 3, stream

                async def replicated(stream: str = stream) -> bool:
                    cluster = (await js.stream_info(stream)).cluster
                    return (
                        cluster is not None
                        and cluster.leader is not None
                        and len(cluster.replicas or []) == 2
                    )

                await eventually(replicated, timeout=10, what=f"{stream}: a leader and two replicas")
        finally:
            await transport.close()
    finally:
        for server in servers:
            server.stop()


@pytest.mark.timeout(60)
async def test_embedded_cluster_with_a_secured_deployment(tmp_path: Path) -> None:
    """What `make run RUN_ARGS="nats_cluster:=3"` starts: the deployment's nats-server.conf
    and nats-cluster.conf (route TLS, pinned route certificate) on every server."""
    out = tmp_path / "d"
    generate_deployment(out, robots=2, zones=1)  # no --nats-cluster: as `make run` writes it
    secrets = out / "secrets"
    cluster = EmbeddedCluster(
        3,
        store_dir=tmp_path / "nats",
        config_file=secrets / "nats-server.conf",
        cluster_config=secrets / "nats-cluster.conf",
    )
    async with cluster:
        transport = NatsTransport(cluster.url, credentials=secrets / "fleet.creds", tls_ca=secrets / "ca.pem")
        await transport.connect()
        try:
            events = OrderEvents(transport)
            await events.ensure(create=True)
            info = await transport.jetstream().stream_info(events.stream)
            assert info.config.num_replicas == 3
        finally:
            await transport.close()
        # the killed server comes back into the cluster with its store
        cluster.kill(1)
        await asyncio.to_thread(cluster.restart, 1)
        assert cluster.servers[1].meta_leader is not None
