"""The embedded broker starts, serves clients with JetStream, and leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import nats
import pytest

from robotfleet_nodes.broker import MAX_PAYLOAD, EmbeddedBroker, find_nats_server
from robotfleet_nodes.errors import BrokerError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); look at its state.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_start_stop_leaves_no_process_and_no_store() -> None:
    """Start and stop; how long each takes is ``benchmarks/broker.py``'s figure."""
    broker = EmbeddedBroker()
    url = broker.start()
    pid = broker.pid
    store = broker.store_dir
    assert pid is not None and _alive(pid)
    assert url.startswith("nats://127.0.0.1:") and not url.endswith(":4222")
    limits = broker.command()[broker.command().index("-c") + 1]
    broker.stop()
    assert not _alive(pid)
    assert store is not None and not store.exists(), "temporary JetStream store left behind"
    assert not Path(limits).exists(), "temporary limits file left behind"


async def test_serves_clients_with_jetstream(unique: str) -> None:
    async with EmbeddedBroker() as broker:
        nc = await nats.connect(broker.url)
        try:
            js = nc.jetstream()
            await js.add_stream(name=unique, subjects=[f"{unique}.>"])
            ack = await js.publish(f"{unique}.x", b"hello")
            assert ack.seq == 1
            msg = await js.get_last_msg(unique, f"{unique}.x")
            assert msg.data == b"hello"
        finally:
            await nc.close()


async def test_messages_up_to_8_mib_pass(unique: str) -> None:
    """max_payload 8 MiB (nats-server's default is 1 MiB): a 3 MB message arrives intact."""
    payload = os.urandom(3 * 1024 * 1024)
    async with EmbeddedBroker() as broker:
        nc = await nats.connect(broker.url)
        try:
            assert nc.max_payload == MAX_PAYLOAD == 8 * 1024 * 1024
            sub = await nc.subscribe(f"{unique}.big")
            await nc.publish(f"{unique}.big", payload)
            msg = await sub.next_msg(timeout=10)
            assert msg.data == payload
        finally:
            await nc.close()


async def test_restart_keeps_jetstream_data_and_port(unique: str) -> None:
    async with EmbeddedBroker() as broker:
        url = broker.url
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name=unique, subjects=[f"{unique}.>"])
        await js.publish(f"{unique}.x", b"kept")
        await nc.close()
        broker.restart()
        assert broker.url == url
        nc = await nats.connect(url)
        try:
            msg = await nc.jetstream().get_last_msg(unique, f"{unique}.x")
            assert msg.data == b"kept"
        finally:
            await nc.close()


def test_given_store_dir_is_kept(tmp_path: Path) -> None:
    store = tmp_path / "js"
    with EmbeddedBroker(store_dir=store) as broker:
        assert broker.store_dir == store
    assert store.is_dir()


def test_missing_binary_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RFOS_NATS_SERVER", str(tmp_path / "nope"))
    with pytest.raises(BrokerError, match="not an executable"):
        find_nats_server()


def test_failed_start_reports_server_output(tmp_path: Path) -> None:
    blocker = EmbeddedBroker()
    blocker.start()
    try:
        port = int(blocker.url.rsplit(":", 1)[1])
        clash = EmbeddedBroker(port=port)
        with pytest.raises(BrokerError, match="exited during start-up"):
            clash.start()
        assert clash.store_dir is None, "the failed start removed its temporary store"
    finally:
        blocker.stop()


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(BrokerError, match="start"):
        _ = EmbeddedBroker().url


def test_cluster_member_config_includes_the_given_files(tmp_path: Path) -> None:
    base = tmp_path / "secrets" / "nats-server.conf"
    base.parent.mkdir()
    base.write_text("max_payload: 1048576\n")
    routes_tls = tmp_path / "secrets" / "nats-cluster.conf"
    routes_tls.write_text("")
    broker = EmbeddedBroker(
        host="127.0.0.1",
        config_file=base,
        cluster_port=6222,
        routes=("nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223"),
        cluster_config=routes_tls,
    )
    where = tmp_path / "elsewhere"
    where.mkdir()
    text = broker._generated_config(where)
    # nats-server resolves an include relative to the including file
    assert 'include "../secrets/nats-server.conf"' in text
    assert 'listen: "127.0.0.1:6222"' in text
    assert 'routes: ["nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223"]' in text
    assert '  include "../secrets/nats-cluster.conf"' in text
    assert 'name: "rfos"' in text


def test_routes_need_a_cluster_port() -> None:
    with pytest.raises(BrokerError, match="cluster_port"):
        EmbeddedBroker(routes=("nats-route://127.0.0.1:6222",))
