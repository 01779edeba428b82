"""The transport contract: every transport passes the same tests (see ``conftest.py``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats
import pytest
from _transport_helpers import AddTwoInts, Bus, Other, endpoint
from std_msgs.msg import String  # type: ignore[import-not-found]

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.errors import RobotFleetError, ServiceTimeout, ServiceUnavailable, TransportError
from robotfleet_nodes.node.qos import Durability, QoSProfile, Reliability
from robotfleet_nodes.transport import (
    ConnectionState,
    NatsTransport,
    NodeInfo,
    RemoteServiceError,
    SubscriptionHandle,
)

WAIT = 10.0  # a hang guard: generous, since a busy machine slows discovery and delivery


async def get(queue: asyncio.Queue[Any], timeout: float = WAIT) -> Any:
    return await asyncio.wait_for(queue.get(), timeout)


async def until(predicate: Any, timeout: float = WAIT) -> None:
    """Wait for a condition the transport updates from its own tasks (counters)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


# -- topics ------------------------------------------------------------------------------
async def test_pubsub_round_trip_typed(bus: Bus) -> None:
    a, b = await bus.new(), await bus.new()
    ep = endpoint("/chatter", String)
    local: asyncio.Queue[Any] = asyncio.Queue()
    remote: asyncio.Queue[Any] = asyncio.Queue()
    sub_a = await a.create_subscription(ep, String, local.put_nowait)
    await b.create_subscription(ep, String, remote.put_nowait)
    pub = await a.create_publisher(ep, String)
    await pub.publish(String(data="hello"))
    for queue in (local, remote):
        msg = await get(queue)
        assert isinstance(msg, String)
        assert msg.data == "hello"
    assert sub_a.stats.received == 1


async def test_ordering(bus: Bus) -> None:
    a, b = await bus.new(), await bus.new()
    ep = endpoint("/ordered", String)
    got: asyncio.Queue[Any] = asyncio.Queue()
    await b.create_subscription(ep, String, got.put_nowait)
    pub = await a.create_publisher(ep, String)
    for i in range(300):
        await pub.publish(String(data=str(i)))
    assert [(await get(got)).data for _ in range(300)] == [str(i) for i in range(300)]


async def test_many_subscribers_and_async_callbacks(bus: Bus) -> None:
    t = await bus.new()
    ep = endpoint("/fanout", String)
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(20)]
    for queue in queues:

        async def callback(msg: Any, queue: asyncio.Queue[Any] = queue) -> None:
            await queue.put(msg.data)

        await t.create_subscription(ep, String, callback)
    pub = await t.create_publisher(ep, String)
    for i in range(5):
        await pub.publish(String(data=str(i)))
    for queue in queues:
        assert [await get(queue) for _ in range(5)] == ["0", "1", "2", "3", "4"]


async def test_unsubscribe(bus: Bus) -> None:
    t = await bus.new()
    ep = endpoint("/unsub", String)
    first: asyncio.Queue[Any] = asyncio.Queue()
    second: asyncio.Queue[Any] = asyncio.Queue()
    sub1 = await t.create_subscription(ep, String, first.put_nowait)
    await t.create_subscription(ep, String, second.put_nowait)
    pub = await t.create_publisher(ep, String)
    await pub.publish(String(data="a"))
    assert (await get(first)).data == "a"
    await sub1.close()
    await sub1.close()  # idempotent
    await pub.publish(String(data="b"))
    assert (await get(second)).data == "a"
    assert (await get(second)).data == "b"  # barrier: "b" was delivered by now
    assert first.empty()


async def test_callback_errors_and_slow_callbacks_do_not_stop_others(bus: Bus) -> None:
    t = await bus.new()
    ep = endpoint("/robust", String)
    release = asyncio.Event()
    slow_got: asyncio.Queue[Any] = asyncio.Queue()
    fast_got: asyncio.Queue[Any] = asyncio.Queue()
    calls = 0

    async def slow(msg: Any) -> None:
        await release.wait()
        slow_got.put_nowait(msg.data)

    def flaky(msg: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("callback bug")
        fast_got.put_nowait(msg.data)

    await t.create_subscription(ep, String, slow)
    await t.create_subscription(ep, String, flaky)
    pub = await t.create_publisher(ep, String)
    for i in range(3):
        await pub.publish(String(data=str(i)))
    assert [await get(fast_got) for _ in range(2)] == ["1", "2"]
    assert slow_got.empty()
    release.set()
    assert [await get(slow_got) for _ in range(3)] == ["0", "1", "2"]


async def test_local_and_remote_delivery_exactly_once(bus: Bus) -> None:
    """Intra-process dedup: a local subscriber never also gets the broker's copy."""
    a, b = await bus.new(), await bus.new()
    ep = endpoint("/once", String)
    on_a: asyncio.Queue[Any] = asyncio.Queue()
    on_b: asyncio.Queue[Any] = asyncio.Queue()
    await a.create_subscription(ep, String, lambda m: on_a.put_nowait(m.data))
    await b.create_subscription(ep, String, lambda m: on_b.put_nowait(m.data))
    pub_a = await a.create_publisher(ep, String)
    pub_b = await b.create_publisher(ep, String)
    for i in range(5):
        await pub_a.publish(String(data=f"a{i}"))
    assert [await get(on_b) for _ in range(5)] == [f"a{i}" for i in range(5)]
    await pub_b.publish(String(data="barrier"))  # sent after b saw all of a's: arrives after any echo
    seen = [await get(on_a) for _ in range(6)]
    assert seen == [f"a{i}" for i in range(5)] + ["barrier"]
    assert (await get(on_b)) == "barrier"
    assert on_a.empty()
    assert on_b.empty()


async def test_intra_delivers_the_same_object() -> None:
    from robotfleet_nodes.transport import IntraProcessTransport

    t = IntraProcessTransport()
    try:
        ep = endpoint("/zero_copy", String)
        got: asyncio.Queue[Any] = asyncio.Queue()
        await t.create_subscription(ep, String, got.put_nowait)
        pub = await t.create_publisher(ep, String)
        msg = String(data="x")
        await pub.publish(msg)
        assert (await get(got)) is msg
    finally:
        await t.close()


async def test_intra_best_effort_keeps_the_last_depth_messages() -> None:
    from robotfleet_nodes.transport import IntraProcessTransport

    t = IntraProcessTransport()
    try:
        qos = QoSProfile(depth=2, reliability=Reliability.BEST_EFFORT)
        got: asyncio.Queue[Any] = asyncio.Queue()
        sub = await t.create_subscription(
            endpoint("/scan", String, qos), String, lambda m: got.put_nowait(m.data)
        )
        pub = await t.create_publisher(endpoint("/scan", String, qos), String)
        for i in range(5):  # no await yields to the subscription in between
            await pub.publish(String(data=str(i)))
        assert [await get(got) for _ in range(2)] == ["3", "4"]
        assert sub.dropped == 3  # type: ignore[attr-defined]
    finally:
        await t.close()


async def test_malformed_payload_is_counted_and_skipped(bus: Bus) -> None:
    bus.require_broker("a raw NATS client publishes the bad payload")
    t = await bus.new()
    ep = endpoint("/malformed", String)
    got: asyncio.Queue[Any] = asyncio.Queue()
    sub = await t.create_subscription(ep, String, got.put_nowait)
    raw = await nats.connect(bus.url)
    try:
        subject = f"{bus.root}.0.t.malformed"
        await raw.publish(subject, b"\x00not json")
        await raw.publish(subject, b'{"data": 5}', headers={"rfos-enc": "json"})
        await raw.publish(subject, b'{"data": "raw ok"}')  # no headers: decoded as JSON
        await raw.flush()
        assert (await get(got)).data == "raw ok"
        assert sub.stats.malformed == 2
        assert sub.stats.received == 1
    finally:
        await raw.close()


async def test_type_mismatch_is_counted_and_not_delivered(bus: Bus) -> None:
    a, b = await bus.new(), await bus.new()
    ep = endpoint("/mixed", String)
    got: asyncio.Queue[Any] = asyncio.Queue()
    sub = await b.create_subscription(ep, String, got.put_nowait)
    wrong = await a.create_publisher(endpoint("/mixed", Other), Other)
    right = await a.create_publisher(ep, String)
    await wrong.publish(Other(data="oops", x=1))
    await right.publish(String(data="fine"))
    msg = await get(got)
    assert isinstance(msg, String)
    assert msg.data == "fine"
    assert sub.stats.type_mismatch == 1
    assert got.empty()


async def test_incompatible_qos_is_counted(bus: Bus) -> None:
    a, b = await bus.new(), await bus.new()
    got: asyncio.Queue[Any] = asyncio.Queue()
    sub = await b.create_subscription(endpoint("/qos", String), String, got.put_nowait)  # reliable
    best_effort = await a.create_publisher(
        endpoint("/qos", String, QoSProfile(reliability=Reliability.BEST_EFFORT)), String
    )
    reliable = await a.create_publisher(endpoint("/qos", String), String)
    await best_effort.publish(String(data="dropped"))
    await reliable.publish(String(data="kept"))
    assert (await get(got)).data == "kept"
    # DDS counts it from discovery (the writer is never matched), which may come after "kept".
    await until(lambda: sub.stats.qos_incompatible >= 1)
    assert sub.stats.qos_incompatible == 1


async def test_transient_local_late_joiner_gets_last_n(bus: Bus) -> None:
    a, b = await bus.new(), await bus.new()
    latched = QoSProfile(depth=3, durability=Durability.TRANSIENT_LOCAL)
    pub = await a.create_publisher(endpoint("/map", String, latched), String)
    for i in range(5):
        await pub.publish(String(data=f"m{i}"))
    got: asyncio.Queue[Any] = asyncio.Queue()
    await b.create_subscription(endpoint("/map", String, latched), String, lambda m: got.put_nowait(m.data))
    assert [await get(got) for _ in range(3)] == ["m2", "m3", "m4"]
    await pub.publish(String(data="live"))
    assert (await get(got)) == "live"  # then live ones, no duplicate, no gap
    assert got.empty()


async def test_transient_local_late_joiner_skips_expired_messages(bus: Bus) -> None:
    """The publisher's QoS lifespan: stored messages older than it are not delivered."""
    a, b = await bus.new(), await bus.new()
    latched = QoSProfile(depth=5, durability=Durability.TRANSIENT_LOCAL, lifespan=1.0)
    pub = await a.create_publisher(endpoint("/lifespan", String, latched), String)
    for i in range(3):
        await pub.publish(String(data=f"old{i}"))
    await asyncio.sleep(2.0)  # the scenario, not a synchronisation: the stored messages expire
    await pub.publish(String(data="fresh"))
    got: asyncio.Queue[Any] = asyncio.Queue()
    ep = endpoint("/lifespan", String, latched)
    await b.create_subscription(ep, String, lambda m: got.put_nowait(m.data))
    assert (await get(got)) == "fresh"  # delivered in order: nothing older can follow


async def test_transient_local_same_participant(bus: Bus) -> None:
    t = await bus.new()
    latched = QoSProfile(depth=2, durability=Durability.TRANSIENT_LOCAL)
    pub = await t.create_publisher(endpoint("/robot_description", String, latched), String)
    for i in range(4):
        await pub.publish(String(data=f"d{i}"))
    got: asyncio.Queue[Any] = asyncio.Queue()
    ep = endpoint("/robot_description", String, latched)
    await t.create_subscription(ep, String, lambda m: got.put_nowait(m.data))
    assert [await get(got) for _ in range(2)] == ["d2", "d3"]
    await pub.publish(String(data="live"))
    assert (await get(got)) == "live"
    assert got.empty()


async def test_deadline_missed_callback(bus: Bus) -> None:
    t = await bus.new()
    qos = QoSProfile(deadline=0.2)
    missed: asyncio.Queue[int] = asyncio.Queue()
    got: asyncio.Queue[Any] = asyncio.Queue()
    sub = await t.create_subscription(endpoint("/deadline", String, qos), String, got.put_nowait)
    sub.on_deadline_missed = missed.put_nowait
    pub = await t.create_publisher(endpoint("/deadline", String, qos), String)
    await pub.publish(String(data="once"))
    await get(got)
    assert await get(missed) >= 1
    assert sub.stats.deadline_missed >= 1


@pytest.mark.parametrize("same_participant", [False, True])
async def test_liveliness_follows_the_publisher(bus: Bus, same_participant: bool) -> None:
    bus.require_broker("liveliness heartbeats travel through the broker")
    a = await bus.new()
    b = a if same_participant else await bus.new()
    qos = QoSProfile(liveliness_lease_duration=0.3)
    changes: asyncio.Queue[bool] = asyncio.Queue()
    sub: SubscriptionHandle = await b.create_subscription(
        endpoint("/alive", String, qos), String, lambda m: None
    )
    sub.on_liveliness_changed = changes.put_nowait
    pub = await a.create_publisher(endpoint("/alive", String, qos), String)
    assert await get(changes) is True  # heartbeats alone keep it alive
    await pub.close()
    assert await get(changes) is False


# -- services ----------------------------------------------------------------------------
async def test_service_call(bus: Bus) -> None:
    server, caller = await bus.new(), await bus.new()
    ep = endpoint("/add", AddTwoInts)
    service = await server.create_service(
        ep, AddTwoInts, lambda r: AddTwoInts.Response(sum=r.a + r.b, who="s")
    )

    async def async_handler(r: Any) -> Any:
        return AddTwoInts.Response(sum=r.a * r.b, who="async")

    await server.create_service(endpoint("/mul", AddTwoInts), AddTwoInts, async_handler)
    client = await caller.create_client(ep, AddTwoInts)
    assert await client.wait_for_service(timeout=WAIT)
    response = await client.call(AddTwoInts.Request(a=2, b=40), timeout=WAIT)
    assert response.sum == 42
    mul = await caller.create_client(endpoint("/mul", AddTwoInts), AddTwoInts)
    assert (await mul.call(AddTwoInts.Request(a=6, b=7), timeout=WAIT)).sum == 42
    assert service.stats.received == 1
    # A client in the same participant as the server (intra: answered without the broker).
    own = await server.create_client(ep, AddTwoInts)
    assert await own.wait_for_service(timeout=WAIT)
    assert (await own.call(AddTwoInts.Request(a=1, b=1), timeout=WAIT)).sum == 2


async def test_service_unavailable_without_waiting_out_the_timeout(bus: Bus) -> None:
    t = await bus.new()
    client = await t.create_client(endpoint("/nobody", AddTwoInts), AddTwoInts)
    with pytest.raises(ServiceUnavailable):
        # An hour's call timeout inside a 20 s guard: "no responders" must end the call
        # itself; a transport that waited for the timeout would fail with TimeoutError.
        await asyncio.wait_for(client.call(AddTwoInts.Request(a=1, b=2), timeout=3600.0), 20)
    assert not await client.wait_for_service(timeout=0.1)


async def test_service_timeout(bus: Bus) -> None:
    server, caller = await bus.new(), await bus.new()
    never = asyncio.Event()

    async def stuck(request: Any) -> Any:
        await never.wait()
        return AddTwoInts.Response()

    ep = endpoint("/stuck", AddTwoInts)
    await server.create_service(ep, AddTwoInts, stuck)
    client = await caller.create_client(ep, AddTwoInts)
    with pytest.raises(ServiceTimeout):
        await client.call(AddTwoInts.Request(), timeout=0.2)
    never.set()


async def test_service_handler_exception_is_raised_at_the_client(bus: Bus) -> None:
    server, caller = await bus.new(), await bus.new()

    def broken(request: Any) -> Any:
        raise ValueError("cannot add")

    ep = endpoint("/broken", AddTwoInts)
    await server.create_service(ep, AddTwoInts, broken)
    client = await caller.create_client(ep, AddTwoInts)
    with pytest.raises(RemoteServiceError, match="ValueError: cannot add") as info:
        await client.call(AddTwoInts.Request(), timeout=WAIT)
    assert isinstance(info.value, RobotFleetError)
    # The server keeps serving.
    with pytest.raises(RemoteServiceError):
        await client.call(AddTwoInts.Request(), timeout=WAIT)


async def test_two_replicas_share_load(bus: Bus) -> None:
    one, two, caller = await bus.new(), await bus.new(), await bus.new()
    ep = endpoint("/shared", AddTwoInts)
    await one.create_service(ep, AddTwoInts, lambda r: AddTwoInts.Response(who="one"))
    await two.create_service(ep, AddTwoInts, lambda r: AddTwoInts.Response(who="two"))
    client = await caller.create_client(ep, AddTwoInts)
    answers = [(await client.call(AddTwoInts.Request(), timeout=WAIT)).who for _ in range(40)]
    assert set(answers) == {"one", "two"}


# -- graph -------------------------------------------------------------------------------
async def test_graph_lists_announced_nodes_and_forgets_closed_ones(bus: Bus) -> None:
    a, b = await bus.new(), await bus.new()
    ep = endpoint("/chatter", String)
    await a.announce([NodeInfo(name="talker", namespace="/demo", publishers=[ep])])
    graph = await b.graph(timeout=1.0)
    nodes = {node.fqn: node for p in graph for node in p.nodes}
    assert "/demo/talker" in nodes
    assert nodes["/demo/talker"].publishers == [ep]
    await a.close()
    after = await b.graph(timeout=0.3) if a is not b else await a.graph(timeout=0.3)
    assert "/demo/talker" not in {node.fqn for p in after for node in p.nodes}


async def test_announce_publishes_a_graph_changed_event(bus: Bus) -> None:
    bus.require_broker("watchers listen on the broker's graph subject")
    t = await bus.new()
    raw = await nats.connect(bus.url)
    try:
        events: asyncio.Queue[Any] = asyncio.Queue()

        async def on_event(msg: Any) -> None:
            await events.put(msg.data)

        await raw.subscribe(f"{bus.root}.0.g.changed", cb=on_event)
        await raw.flush()
        # nats-py's flush() may overtake the SUB still in its buffer, so the first
        # announcement can race the subscription: announce again until one is seen.
        async with asyncio.timeout(10):
            while True:
                await t.announce([NodeInfo(name="n", namespace="/")])
                try:
                    data = await asyncio.wait_for(events.get(), 0.3)
                except TimeoutError:
                    continue
                break
        assert b'"announce"' in data
    finally:
        await raw.close()


# -- connection ---------------------------------------------------------------------------
async def test_connection_listeners_see_close(bus: Bus, caplog: pytest.LogCaptureFixture) -> None:
    t = await bus.new()
    assert t.connection_state is ConnectionState.CONNECTED
    assert t.connection_state.is_up
    seen: asyncio.Queue[ConnectionState] = asyncio.Queue()
    seen_async: asyncio.Queue[ConnectionState] = asyncio.Queue()
    removed: asyncio.Queue[ConnectionState] = asyncio.Queue()

    def broken(state: ConnectionState) -> None:
        raise RuntimeError("a listener with a bug")

    async def async_listener(state: ConnectionState) -> None:
        await seen_async.put(state)

    async def broken_async(state: ConnectionState) -> None:
        raise RuntimeError("an async listener with a bug")

    t.add_connection_listener(broken)
    t.add_connection_listener(broken_async)
    t.add_connection_listener(async_listener)
    handle = t.add_connection_listener(removed.put_nowait)
    handle.remove()
    handle.remove()  # idempotent
    t.add_connection_listener(seen.put_nowait)
    await t.close()
    assert await get(seen) is ConnectionState.CLOSED
    assert await get(seen_async) is ConnectionState.CLOSED
    assert t.connection_state is ConnectionState.CLOSED
    assert not t.connection_state.is_up
    assert removed.empty()
    await until(lambda: "an async listener with a bug" in caplog.text)
    assert "a listener with a bug" in caplog.text


async def test_no_url_says_how_to_start_a_broker() -> None:
    with pytest.raises(TransportError, match="rfos broker"):
        await NatsTransport().connect()


async def test_url_defaults_to_messaging_url(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSAGING_URL", nats_url)
    t = NatsTransport()
    try:
        await t.connect()
        assert t.connected
    finally:
        await t.close()


async def test_broker_restart_mid_stream(bus: Bus, tmp_path: Any) -> None:
    bus.require_broker("the test restarts the broker")
    async with EmbeddedBroker(store_dir=tmp_path) as broker:
        a = await bus.new(url=broker.url, reconnect_wait=0.1)
        b = await bus.new(url=broker.url, reconnect_wait=0.1)
        statuses: dict[str, asyncio.Queue[ConnectionState]] = {"a": asyncio.Queue(), "b": asyncio.Queue()}
        a.add_connection_listener(statuses["a"].put_nowait)
        b.add_connection_listener(statuses["b"].put_nowait)
        ep = endpoint("/stream", String)
        got: asyncio.Queue[Any] = asyncio.Queue()
        await b.create_subscription(ep, String, lambda m: got.put_nowait(m.data))
        pub = await a.create_publisher(ep, String)
        await pub.publish(String(data="before"))
        assert (await get(got)) == "before"
        await asyncio.to_thread(broker.restart)
        for name in ("a", "b"):
            assert await get(statuses[name], 15) == ConnectionState.DISCONNECTED
            assert await get(statuses[name], 15) == ConnectionState.RECONNECTED
        # The subscription is restored by the client; publish until the first one arrives.
        deadline = time.monotonic() + 10
        n = 0
        while got.empty():
            assert time.monotonic() < deadline, "no message after reconnect"
            await pub.publish(String(data=f"after{n}"))
            n += 1
            try:
                first = await asyncio.wait_for(got.get(), 0.1)
            except TimeoutError:
                continue
            assert first.startswith("after")
            break
        await pub.publish(String(data="last"))
        while (await get(got)) != "last":
            pass
        await a.close()
        await b.close()


async def test_publish_while_disconnected_is_buffered(bus: Bus, tmp_path: Any) -> None:
    bus.require_broker("the test kills the broker")
    async with EmbeddedBroker(store_dir=tmp_path) as broker:
        t = await bus.new(url=broker.url, reconnect_wait=0.1)
        status: asyncio.Queue[ConnectionState] = asyncio.Queue()
        t.add_connection_listener(status.put_nowait)
        ep = endpoint("/buffered", String)
        got: asyncio.Queue[Any] = asyncio.Queue()
        await t.create_subscription(ep, String, lambda m: got.put_nowait(m.data))
        pub = await t.create_publisher(ep, String)
        await asyncio.to_thread(broker.kill)
        assert await get(status, 15) == ConnectionState.DISCONNECTED
        assert t.connection_state is ConnectionState.DISCONNECTED
        await pub.publish(String(data="while down"))  # kept in the bounded reconnect buffer
        await asyncio.to_thread(broker.restart)
        assert await get(status, 15) == ConnectionState.RECONNECTED
        assert t.connection_state is ConnectionState.RECONNECTED
        assert (await get(got, 15)) == "while down"
        await t.close()
