"""The NATS client under the transport: nats-py's own publish checks are kept on both paths.

``fast`` is :class:`FastRfosClient` (nats-py internals), ``public`` the :class:`RfosClient`
fallback on nats-py's public API. Each check is compared with what nats-py's ``publish``
does on the same connection, against the session's real nats-server.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from _transport_helpers import synced
from nats import errors as nats_errors
from nats.aio.client import Client

from robotfleet_nodes.transport.nats import _client, _fastclient, _internals
from robotfleet_nodes.transport.nats._client import RfosClient, hpub_prefix
from robotfleet_nodes.transport.nats._fastclient import FastRfosClient, new_client
from robotfleet_nodes.transport.nats._headers import encode_block

BLOCK = encode_block({"rfos-type": "std_msgs/msg/String", "rfos-enc": "json"})
TIMEOUT = 5.0
#: Subjects nats-py's publish refuses (CR/LF would inject a protocol command).
BAD_SUBJECTS = ("", "a b", "a\tb", "a\r\nPUB x 1\r\n")


async def _connect(kind: str, url: str, **options: Any) -> RfosClient:
    nc = new_client(fast=kind == "fast")
    assert type(nc) is (FastRfosClient if kind == "fast" else RfosClient)
    await nc.connect(url, **options)
    return nc


@pytest.fixture(params=["fast", "public"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def nc(kind: str, nats_url: str) -> AsyncIterator[RfosClient]:
    client = await _connect(kind, nats_url)
    yield client
    await client.close()


@pytest.fixture
async def peer(nats_url: str) -> AsyncIterator[Client]:
    """A plain nats-py connection on the other side."""
    client = await nats.connect(nats_url)
    yield client
    await client.close()


async def _until(predicate: Any) -> None:
    """Turn the loop until ``predicate()`` holds (one turn at a time, so no state is missed).

    The states polled are nats-py's (draining), which signal no event.
    """
    async with asyncio.timeout(TIMEOUT):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0)


# -- the operations, on both paths ------------------------------------------------------
async def test_publish_request_and_inline_subscribe(nc: RfosClient, peer: Client, subject: str) -> None:
    got: list[tuple[bytes, bytes, dict[str, str] | None]] = []
    sub = await peer.subscribe(f"{subject}.>")
    await synced(peer)
    await nc.publish_prebuilt(f"{subject}.a", BLOCK, b"1")
    await nc.publish_encoded(hpub_prefix(f"{subject}.b", BLOCK), BLOCK, b"2")
    nc.publish_nowait(f"{subject}.c", BLOCK, b"3")
    for name, payload in (("a", b"1"), ("b", b"2"), ("c", b"3")):
        msg = await sub.next_msg(timeout=TIMEOUT)
        assert (msg.subject, msg.data) == (f"{subject}.{name}", payload)
        assert msg.headers == {"rfos-type": "std_msgs/msg/String", "rfos-enc": "json"}

    def answer(reply: bytes, data: bytes, headers: dict[str, str] | None) -> None:
        got.append((reply, data, headers))
        nc.publish_nowait(reply.decode(), BLOCK, data + b"!")

    await nc.subscribe_inline(f"{subject}.svc", answer, queue="q")
    await nc.roundtrip(TIMEOUT)
    reply = await peer.request(f"{subject}.svc", b"hi", timeout=TIMEOUT, headers={"k": "v"})
    assert reply.data == b"hi!"
    assert got[0][1:] == (b"hi", {"k": "v"})

    async def echo(msg: Any) -> None:
        await msg.respond(msg.data[::-1])

    sub2 = await peer.subscribe(f"{subject}.echo", cb=echo)
    await synced(peer)
    msg = await nc.request_prebuilt(f"{subject}.echo", BLOCK, b"abc", TIMEOUT)
    assert msg.data == b"cba"
    await sub2.unsubscribe()


async def test_no_responders_and_timeout_raise_nats_errors(
    nc: RfosClient, peer: Client, subject: str
) -> None:
    with pytest.raises(nats_errors.NoRespondersError):
        await nc.request_prebuilt(f"{subject}.nobody", BLOCK, b"", TIMEOUT)
    await peer.subscribe(f"{subject}.silent")  # a responder that never answers
    await synced(peer)
    with pytest.raises(nats_errors.TimeoutError):
        await nc.request_prebuilt(f"{subject}.silent", BLOCK, b"", 0.2)


# -- nats-py's checks -------------------------------------------------------------------
@pytest.mark.parametrize("bad", BAD_SUBJECTS)
async def test_bad_subject_raises_bad_subject_error(nc: RfosClient, bad: str) -> None:
    with pytest.raises(nats_errors.BadSubjectError):
        await Client.publish(nc, bad, b"x")  # nats-py's own publish: the reference
    with pytest.raises(nats_errors.BadSubjectError):
        hpub_prefix(bad, BLOCK)
    with pytest.raises(nats_errors.BadSubjectError):
        await nc.publish_prebuilt(bad, BLOCK, b"x")
    with pytest.raises(nats_errors.BadSubjectError):
        nc.publish_nowait(bad, BLOCK, b"x")
    with pytest.raises(nats_errors.BadSubjectError):
        await nc.request_prebuilt(bad, BLOCK, b"x", TIMEOUT)
    assert nc.stats["out_msgs"] == 0


async def test_publishing_while_draining_raises_connection_draining_error(
    kind: str, nats_url: str, subject: str
) -> None:
    nc = await _connect(kind, nats_url)
    prefix = hpub_prefix(subject, BLOCK)
    draining = asyncio.create_task(nc.drain())
    await _until(lambda: nc.is_draining_pubs)
    # Each call raises before it awaits anything, so all run in this loop turn.
    with pytest.raises(nats_errors.ConnectionDrainingError):
        await Client.publish(nc, subject, b"x")  # the reference
    with pytest.raises(nats_errors.ConnectionDrainingError):
        await nc.publish_prebuilt(subject, BLOCK, b"x")
    with pytest.raises(nats_errors.ConnectionDrainingError):
        await nc.publish_encoded(prefix, BLOCK, b"x")
    with pytest.raises(nats_errors.ConnectionDrainingError):
        nc.publish_nowait(subject, BLOCK, b"x")
    with pytest.raises(nats_errors.ConnectionDrainingError):
        await nc.request_prebuilt(subject, BLOCK, b"x", TIMEOUT)
    assert nc.is_draining_pubs
    await asyncio.wait_for(draining, TIMEOUT)
    assert nc.is_closed


async def test_publishing_while_subscriptions_drain_is_allowed(
    kind: str, nats_url: str, peer: Client, subject: str
) -> None:
    """nats-py counts a connection draining its subscriptions as connected: publish works."""
    nc = await _connect(kind, nats_url)
    sub = await peer.subscribe(subject)
    await synced(peer)
    release = asyncio.Event()

    async def slow(_: Any) -> None:
        await release.wait()  # holds the drain of this subscription

    await nc.subscribe(f"{subject}.hold", cb=slow)
    await nc.publish(f"{subject}.hold", b"")
    draining = asyncio.create_task(nc.drain())
    await _until(lambda: nc.is_draining and not nc.is_draining_pubs)
    await nc.publish_prebuilt(subject, BLOCK, b"1")
    nc.publish_nowait(subject, BLOCK, b"2")
    assert [(await sub.next_msg(timeout=TIMEOUT)).data for _ in range(2)] == [b"1", b"2"]
    release.set()
    await asyncio.wait_for(draining, TIMEOUT)


async def test_closed_connection_raises_connection_closed_error(nc: RfosClient, subject: str) -> None:
    await nc.close()
    with pytest.raises(nats_errors.ConnectionClosedError):
        await Client.publish(nc, subject, b"x")
    with pytest.raises(nats_errors.ConnectionClosedError):
        await nc.publish_prebuilt(subject, BLOCK, b"x")
    with pytest.raises(nats_errors.ConnectionClosedError):
        nc.publish_nowait(subject, BLOCK, b"x")


async def test_payload_over_the_server_limit_raises_max_payload_error(nc: RfosClient, subject: str) -> None:
    too_big = b"x" * (nc.max_payload + 1)
    with pytest.raises(nats_errors.MaxPayloadError):
        await Client.publish(nc, subject, too_big)
    with pytest.raises(nats_errors.MaxPayloadError):
        await nc.publish_prebuilt(subject, BLOCK, too_big)
    with pytest.raises(nats_errors.MaxPayloadError):
        nc.publish_nowait(subject, BLOCK, too_big)


async def test_awaited_publish_over_the_flush_threshold_is_flushed_before_it_returns(
    kind: str, nats_url: str, peer: Client, subject: str
) -> None:
    """As nats-py's publish: past ``pending_size`` bytes pending, the flush is waited for."""
    nc = await _connect(kind, nats_url, pending_size=4096)
    sub = await peer.subscribe(subject)
    await synced(peer)
    big = b"y" * 8192
    await Client.publish(nc, subject, big)
    assert nc.pending_data_size == 0  # the reference
    await nc.publish_prebuilt(subject, BLOCK, big)
    assert nc.pending_data_size == 0
    await nc.publish_encoded(hpub_prefix(subject, BLOCK), BLOCK, big)
    assert nc.pending_data_size == 0
    for _ in range(3):
        assert (await sub.next_msg(timeout=TIMEOUT)).data == big
    await nc.close()


async def test_nowait_publish_over_the_flush_threshold_is_written_at_once(
    nats_url: str, peer: Client, subject: str
) -> None:
    """The synchronous publish cannot wait for the flusher: it writes the buffer out itself."""
    nc = await _connect("fast", nats_url, pending_size=4096)
    sub = await peer.subscribe(subject)
    await synced(peer)
    nc.publish_nowait(subject, BLOCK, b"small")
    assert 0 < nc.pending_data_size < 4096  # below the threshold: left to the flusher
    nc.publish_nowait(subject, BLOCK, b"z" * 8192)
    assert nc.pending_data_size == 0
    assert (await sub.next_msg(timeout=TIMEOUT)).data == b"small"
    assert (await sub.next_msg(timeout=TIMEOUT)).data == b"z" * 8192
    await nc.close()


# -- the list of nats-py internals ------------------------------------------------------
def test_installed_nats_py_has_every_listed_internal() -> None:
    assert _internals.check() == []
    assert _internals.FAST_PATH
    assert type(new_client()) is FastRfosClient


def test_every_private_nats_py_name_the_fast_client_uses_is_listed() -> None:
    source = Path(_fastclient.__file__).read_text()
    used = set(re.findall(r"\b(?:self|sub|super\(\))\.(_[a-z][a-z_]*)", source))
    ours = {name for name in vars(FastRfosClient) if name.startswith("_")} | {
        name for name in vars(RfosClient) if name.startswith("_")
    }
    used = {name for name in used if not name.startswith("_rfos_")} - ours
    used |= {name for name in ours if name in vars(Client) and not name.startswith("__")}  # overrides
    listed = {i.name for i in (*_internals.CLIENT_NAMES, *_internals.SUBSCRIPTION_NAMES)}
    assert used, "the scan found nothing: fix the pattern"
    assert used <= listed, f"not listed in _internals: {sorted(used - listed)}"
    for constant in re.findall(r'getattr\(_nats_client\.Client, "([A-Z_]+)"', source):
        assert constant in listed


def test_the_public_client_uses_no_private_nats_py_name() -> None:
    source = Path(_client.__file__).read_text()
    used = set(re.findall(r"\b(?:self|sub|msg|super\(\))\.(_[a-z][a-z_]*)", source))
    ours = {name for name in vars(RfosClient) if name.startswith("_")}
    assert {name for name in used if not name.startswith("_rfos_")} - ours == set()


class _Changed(Client):
    """A nats-py whose internals moved: one of each kind of mismatch."""

    async def _remove_sub(self, sid: int, max_msgs: int = 0) -> None:  # type: ignore[override]
        """Became a coroutine."""

    async def _process_headers(self, raw: Any, strict: bool) -> None:  # type: ignore[override]
        """Renamed its parameter."""

    def __init__(self) -> None:
        super().__init__()
        del self._pending_data_size
        self._status = "connected"  # type: ignore[assignment]


def test_check_names_each_mismatch() -> None:
    problems = _internals.check(client_cls=_Changed)
    text = "\n".join(problems)
    assert len(problems) == 4, text
    assert "_remove_sub is not a method" in text
    assert "_process_headers takes (raw, strict), expected (headers, ...)" in text
    assert "_pending_data_size is missing" in text
    assert "_status is a str, expected int" in text


def test_mismatch_falls_back_to_the_public_client_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_fastclient, "FAST_PATH", False)
    monkeypatch.setattr(_fastclient, "PROBLEMS", ("nats.aio.client.Client._pending is missing",))
    _fastclient._warn_public_path.cache_clear()
    with caplog.at_level(logging.WARNING, logger=_fastclient.__name__):
        clients = [new_client(), new_client()]
    _fastclient._warn_public_path.cache_clear()
    assert [type(c) for c in clients] == [RfosClient, RfosClient]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Client._pending is missing" in warnings[0]
    assert "pip install -c constraints.txt nats-py" in warnings[0]
    with pytest.raises(ImportError, match="_pending is missing"):
        FastRfosClient()
