"""The NATS transport with credentials and TLS, on a real nats-server in JWT (operator) mode.

The server (``_creds_broker.SecureBroker``) has one operator, an application account with
JetStream, a system account, and users made per test with exactly the permissions the test
needs: an identity may subscribe only to its own inbox ``_INBOX.<name>.>``, so every
request, service call, graph query and round trip below proves the transport uses that
prefix. TLS: the server's certificate is signed by a test CA the clients verify.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _creds_broker import SecureBroker

from robotfleet_nodes.errors import ConfigError, TransportError
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.security import redact_url
from robotfleet_nodes.transport import ConnectionState
from robotfleet_nodes.transport.nats import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

TIMEOUT = 10.0


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """One JWT-mode nats-server with TLS for this module's tests."""
    broker = SecureBroker(tmp_path_factory.mktemp("secure-nats"), tls=True)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(autouse=True)
def _no_security_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "MESSAGING_CREDS",
        "MESSAGING_TLS_CA",
        "MESSAGING_TLS_CERT",
        "MESSAGING_TLS_KEY",
        "RFOS_INSECURE",
    ):
        monkeypatch.delenv(var, raising=False)


def _own(root: str) -> list[str]:
    """Everything under a test's subject root (topics, services, graph)."""
    return [f"{root}.>"]


def _transport(secure: SecureBroker, name: str, root: str, **options: Any) -> NatsTransport:
    assert secure.tls_files is not None
    options.setdefault("credentials", secure.creds_path(name))
    options.setdefault("tls_ca", secure.tls_files.ca)
    return NatsTransport(secure.url, mapper=SubjectMapper(root=root), name=name, **options)


@pytest.fixture
async def closing() -> AsyncIterator[list[NatsTransport]]:
    made: list[NatsTransport] = []
    yield made
    for transport in made:
        await transport.close()


async def test_connects_with_creds_and_tls_and_uses_its_own_inbox(
    secure: SecureBroker, unique: str, closing: list[NatsTransport]
) -> None:
    name = f"node-{unique}"
    secure.issue(name, pub=_own(unique), sub=_own(unique))
    transport = _transport(secure, name, unique)
    closing.append(transport)
    await transport.connect()
    assert transport.identity == name
    assert transport.inbox_prefix == f"_INBOX.{name}"
    assert transport.client.new_inbox().startswith(f"_INBOX.{name}.")
    # A request on the shared reply inbox, a round trip and a raw request all need the inbox.
    await transport.flush(timeout=TIMEOUT)

    async def echo(msg: Any) -> None:
        await msg.respond(b"pong:" + msg.data)

    await transport.subscribe_raw(f"{unique}.echo", echo)
    reply = await transport.request(f"{unique}.echo", b"ping", timeout=TIMEOUT)
    assert reply.data == b"pong:ping"
    # The graph query collects replies on an inbox too: it finds this very transport.
    participants = await transport.graph(timeout=0.5)
    assert transport.gid in [p.gid for p in participants]


async def test_typed_service_call_between_two_identities(
    secure: SecureBroker, unique: str, closing: list[NatsTransport]
) -> None:
    from example_interfaces.srv import AddTwoInts

    from robotfleet_nodes.node import Node

    def add(request: Any, response: Any) -> Any:
        response.sum = request.a + request.b
        return response

    for who in ("server", "client"):
        secure.issue(f"{who}-{unique}", pub=_own(unique), sub=_own(unique))
    server_t = _transport(secure, f"server-{unique}", unique)
    client_t = _transport(secure, f"client-{unique}", unique)
    closing += [server_t, client_t]
    async with (
        Context(transport=server_t, enable_rosout=False) as server_ctx,
        Context(transport=client_t, enable_rosout=False) as client_ctx,
    ):
        server = Node("adder", context=server_ctx)
        await server.start()
        await server.create_service(AddTwoInts, "add", add)
        client = Node("caller", context=client_ctx)
        await client.start()
        cli = await client.create_client(AddTwoInts, "add")
        assert await cli.wait_for_service(timeout=TIMEOUT)
        response = await cli.call(AddTwoInts.Request(a=2, b=40), timeout=TIMEOUT)
        assert response.sum == 42


async def test_refused_without_credentials_says_what_to_do(secure: SecureBroker, unique: str) -> None:
    assert secure.tls_files is not None
    transport = NatsTransport(secure.url, mapper=SubjectMapper(root=unique), tls_ca=secure.tls_files.ca)
    with pytest.raises(TransportError) as info:
        await transport.connect()
    text = str(info.value)
    assert "refused the connection" in text
    assert "MESSAGING_CREDS" in text
    assert "messaging.credentials" in text
    assert transport.connection_state is ConnectionState.NEW


async def test_refused_with_credentials_of_another_operator(
    secure: SecureBroker, unique: str, tmp_path: Path
) -> None:
    stranger = SecureBroker(tmp_path / "other")  # its own operator: the server does not know it
    path = stranger.issue("robot-7", pub=[">"], sub=[">"])
    transport = _transport(secure, "robot-7", unique, credentials=path)
    with pytest.raises(TransportError) as info:
        await transport.connect()
    assert f"refused our credentials ({path})" in str(info.value)
    assert "rfos security reissue robot-7" in str(info.value)
    assert stranger.users["robot-7"].seed.decode() not in str(info.value)


async def test_without_the_ca_the_tls_handshake_fails_clearly(secure: SecureBroker, unique: str) -> None:
    name = f"node-{unique}"
    secure.issue(name, pub=_own(unique), sub=_own(unique))
    transport = NatsTransport(
        secure.url,
        mapper=SubjectMapper(root=unique),
        credentials=secure.creds_path(name),
        connect_timeout=1.0,
    )
    with pytest.raises(TransportError) as info:
        await transport.connect()
    assert "TLS" in str(info.value)
    assert "MESSAGING_TLS_CA" in str(info.value)


async def test_a_missing_creds_file_is_a_config_error(
    secure: SecureBroker, unique: str, tmp_path: Path
) -> None:
    transport = _transport(secure, "x", unique, credentials=tmp_path / "missing.creds")
    with pytest.raises(ConfigError, match=r"missing\.creds: no such credentials file"):
        await transport.connect()


async def test_credentials_and_ca_come_from_the_environment(
    secure: SecureBroker, unique: str, monkeypatch: pytest.MonkeyPatch, closing: list[NatsTransport]
) -> None:
    assert secure.tls_files is not None
    name = f"env-{unique}"
    monkeypatch.setenv("MESSAGING_CREDS", str(secure.issue(name, pub=_own(unique), sub=_own(unique))))
    monkeypatch.setenv("MESSAGING_TLS_CA", str(secure.tls_files.ca))
    monkeypatch.setenv("MESSAGING_URL", secure.url)
    async with Context(enable_rosout=False) as context:  # what every tool and user node does
        transport: Any = context.transport
        inner = getattr(transport, "inner", transport)
        assert isinstance(inner, NatsTransport)
        assert inner.identity == name
        await inner.flush(timeout=TIMEOUT)


async def test_rfos_insecure_ignores_configured_credentials_with_one_warning(
    nats_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from robotfleet_nodes.security import creds

    creds._warn_insecure.cache_clear()
    monkeypatch.setenv("RFOS_INSECURE", "1")
    monkeypatch.setenv("MESSAGING_CREDS", str(tmp_path / "not-there.creds"))
    with caplog.at_level(logging.WARNING, logger=creds.__name__):
        first = NatsTransport(nats_url, tls_ca=tmp_path / "no-ca.pem")
        second = NatsTransport(nats_url)
    try:
        await first.connect()  # the open session broker: no credentials, no TLS
        await second.connect()
        assert first.identity is None
        assert first.inbox_prefix == "_INBOX"
    finally:
        await first.close()
        await second.close()
    warnings = [r.getMessage() for r in caplog.records if "RFOS_INSECURE" in r.getMessage()]
    assert len(warnings) == 1, warnings
    creds._warn_insecure.cache_clear()


async def test_urls_with_passwords_are_never_logged_or_shown(
    nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret_url = nats_url.replace("nats://", "nats://alice:s3cret@")
    transport = NatsTransport(secret_url)
    with caplog.at_level(logging.DEBUG):
        await transport.connect()
        try:
            assert "s3cret" not in transport.server_url
            assert "s3cret" not in transport.server_info().url
        finally:
            await transport.close()
    assert not [r.getMessage() for r in caplog.records if "s3cret" in r.getMessage()]
    dead = NatsTransport("nats://bob:hunter2@127.0.0.1:1", connect_timeout=0.5)
    with pytest.raises(TransportError) as info:
        await dead.connect()
    assert "hunter2" not in str(info.value)
    assert redact_url("nats://bob:hunter2@127.0.0.1:1") in str(info.value)
    await asyncio.sleep(0)


async def _until(predicate: Any, what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``predicate()`` (states nats-py signals no event for) until it holds."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_revoked_identity_reconnects_once_its_creds_are_reissued(
    secure: SecureBroker, unique: str, closing: list[NatsTransport], caplog: pytest.LogCaptureFixture
) -> None:
    victim, bystander = f"robot-{unique}", f"zone-{unique}"
    for who in (victim, bystander):
        secure.issue(who, pub=_own(unique), sub=_own(unique))
    transport = _transport(secure, victim, unique, reconnect_wait=0.1)
    other = _transport(secure, bystander, unique, reconnect_wait=0.1)
    closing += [transport, other]
    await transport.connect()
    await other.connect()
    states: list[ConnectionState] = []
    other_states: list[ConnectionState] = []
    transport.add_connection_listener(states.append)
    other.add_connection_listener(other_states.append)
    with caplog.at_level(logging.WARNING):
        await secure.revoke(victim)
        await _until(lambda: ConnectionState.DISCONNECTED in states, "the revoked connection to drop")
        await _until(lambda: transport.credential_refusals >= 2, "a refused reconnection attempt")
        assert not transport.client.is_closed  # nats-py alone would have closed it for good
        assert transport.connection_state is ConnectionState.DISCONNECTED
        secure.issue(victim, pub=_own(unique), sub=_own(unique))  # re-issued: a new key
        await _until(lambda: ConnectionState.RECONNECTED in states, "the re-issued identity to reconnect")
    await transport.flush(timeout=TIMEOUT)  # and it works again, on its inbox
    reply_seen = asyncio.Event()

    async def on_msg(msg: Any) -> None:
        reply_seen.set()

    await other.subscribe_raw(f"{unique}.after", on_msg)
    await (await transport.raw_publisher(f"{unique}.after")).publish(b"back")
    await asyncio.wait_for(reply_seen.wait(), TIMEOUT)
    assert other_states == []  # nobody else was dropped
    refusals = [r.getMessage() for r in caplog.records if "NATS refused our credentials" in r.getMessage()]
    assert refusals, "the refusal was not logged"
    assert str(secure.creds_path(victim)) in refusals[0]
    assert f"rfos security reissue {victim}" in refusals[0]
    assert len(refusals) <= 2  # rate-limited, not one line per attempt


async def test_permission_violations_are_logged_and_counted_and_nothing_closes(
    secure: SecureBroker, unique: str, closing: list[NatsTransport], caplog: pytest.LogCaptureFixture
) -> None:
    name = f"robot-{unique}"
    secure.issue(name, pub=_own(unique), sub=_own(unique))
    transport = _transport(secure, name, unique)
    closing.append(transport)
    states: list[ConnectionState] = []
    transport.add_connection_listener(states.append)
    await transport.connect()
    got = asyncio.Event()

    async def on_msg(msg: Any) -> None:
        got.set()

    with caplog.at_level(logging.WARNING):
        forbidden = f"not-{unique}.robots.robot-7.status"
        for _ in range(5):
            await transport.client.publish(forbidden, b"fake")  # refused by the server, not raised
        await transport.subscribe_raw("rfos.>", on_msg)
        await _until(lambda: transport.permission_violations >= 6, "the refusals to be counted")
        # still connected and working: a permitted round trip on its own subjects
        await transport.subscribe_raw(f"{unique}.ok", on_msg)
        await transport.client.publish(f"{unique}.ok", b"fine")
        await asyncio.wait_for(got.wait(), TIMEOUT)
    assert transport.connected
    assert states == [ConnectionState.CONNECTED]
    lines = [r.getMessage() for r in caplog.records if "NATS refused a" in r.getMessage()]
    assert any(forbidden in line and "publish" in line and name in line for line in lines), lines
    assert any("subscription on rfos.>" in line for line in lines), lines
    assert len([line for line in lines if forbidden in line]) == 1  # rate-limited per subject


async def test_jetstream_ordered_consumers_and_kv_watchers_use_the_inbox(
    secure: SecureBroker, unique: str, closing: list[NatsTransport]
) -> None:
    name = f"fleet-{unique}"
    bucket, stream = f"kv_{unique}", f"S_{unique}"
    allowed = [*_own(unique), "$JS.API.>", f"$KV.{bucket}.>", f"$JS.ACK.{stream}.>", f"$JS.ACK.KV_{bucket}.>"]
    secure.issue(name, pub=allowed, sub=_own(unique))  # no _INBOX.> beyond its own
    transport = _transport(secure, name, unique)
    closing.append(transport)
    await transport.connect()
    js = transport.jetstream()
    await js.add_stream(name=stream, subjects=[f"{unique}.js.>"])
    await js.publish(f"{unique}.js.a", b"stored")
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_msg(msg: Any) -> None:
        await received.put(msg.data)

    sub = await js.subscribe(f"{unique}.js.>", stream=stream, cb=on_msg, ordered_consumer=True)
    assert await asyncio.wait_for(received.get(), TIMEOUT) == b"stored"
    await sub.unsubscribe()
    kv = await js.create_key_value(bucket=bucket)
    watcher = await kv.watchall()
    await kv.put("k", b"v1")
    async with asyncio.timeout(TIMEOUT):
        async for entry in watcher:
            if entry is not None and entry.value == b"v1":
                break
    await watcher.stop()
    assert transport.permission_violations == 0
