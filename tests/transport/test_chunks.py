"""Messages beyond the server's ``max_payload`` travel in chunks; ``max_message_size`` bounds them."""

from __future__ import annotations

import array
import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _transport_helpers import endpoint

from robotfleet_nodes.broker import EmbeddedBroker
from robotfleet_nodes.config import load_config
from robotfleet_nodes.errors import ConfigError, MessageTooLarge, TransportError
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.transport.nats import NatsTransport
from robotfleet_nodes.transport.nats._chunks import ChunkAssembler, chunk_blocks, parse_chunk
from robotfleet_nodes.transport.nats._headers import decode_block
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

TIMEOUT = 30.0
MIB = 1024 * 1024
Image: Any = default_registry().get_class("sensor_msgs/msg/Image")
UInt8MultiArray: Any = default_registry().get_class("std_msgs/msg/UInt8MultiArray")
String: Any = default_registry().get_class("std_msgs/msg/String")


# -- assembly rules (no broker) --------------------------------------------------------------
def _chunks(
    payload: bytes, max_payload: int, msgid: str, gid: str = "g1"
) -> list[tuple[dict[str, str], bytes]]:
    out = []
    for block, piece in chunk_blocks({"rfos-gid": gid}, payload, max_payload, msgid):
        assert len(block) + len(piece) <= max_payload
        hdr = decode_block(block)
        out.append((hdr, bytes(piece)))
    return out


def _feed(assembler: ChunkAssembler, chunks: list[tuple[dict[str, str], bytes]]) -> list[bytes]:
    return [w for hdr, data in chunks if (w := assembler.feed(hdr, hdr["rfos-chunk"], data)) is not None]


class _Count:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> None:
        self.n += 1


def test_chunks_in_order_make_the_message() -> None:
    payload = bytes(range(256)) * 40
    chunks = _chunks(payload, 1000, "a")
    assert len(chunks) > 10
    assert parse_chunk(chunks[-1][0]["rfos-chunk"]) == ("a", len(chunks) - 1, len(chunks))
    lost = _Count()
    assembler = ChunkAssembler(10 * MIB, lost)
    assert _feed(assembler, chunks) == [payload]
    assert (lost.n, assembler.pending_bytes) == (0, 0)


@pytest.mark.parametrize(
    ("case", "damage"),
    [
        ("a lost chunk", lambda c: c[:3] + c[4:]),
        ("a lost last chunk", lambda c: c[:-1]),
        ("a lost first chunk", lambda c: c[1:]),
        ("two chunks swapped", lambda c: [*c[:2], c[3], c[2], *c[4:]]),
    ],
)
def test_a_damaged_message_is_dropped_counted_once_and_the_next_arrives(case: str, damage: Any) -> None:
    first, second = b"\x01" * 9000, b"\x02" * 9000
    lost = _Count()
    assembler = ChunkAssembler(10 * MIB, lost)
    got = _feed(assembler, damage(_chunks(first, 1000, "1")) + _chunks(second, 1000, "2"))
    assert got == [second], case
    assert lost.n == 1, case
    assert assembler.pending_bytes == 0


def test_senders_are_assembled_separately() -> None:
    a, b = _chunks(b"a" * 5000, 1000, "1", gid="A"), _chunks(b"b" * 5000, 1000, "1", gid="B")
    interleaved = [c for pair in zip(a, b, strict=True) for c in pair]
    assert sorted(_feed(ChunkAssembler(MIB, _Count()), interleaved)) == [b"a" * 5000, b"b" * 5000]


def test_partial_bytes_are_bounded() -> None:
    lost = _Count()
    assembler = ChunkAssembler(4000, lost)
    assert _feed(assembler, _chunks(b"x" * 9000, 1000, "1")) == []
    assert lost.n == 1
    assert assembler.pending_bytes == 0
    assert _feed(assembler, _chunks(b"y" * 3000, 1000, "2")) == [b"y" * 3000]


def test_a_stale_partial_is_dropped_at_the_next_arrival() -> None:
    now = [0.0]
    lost = _Count()
    assembler = ChunkAssembler(MIB, lost, stale_after=5.0, clock=lambda: now[0])
    a = _chunks(b"a" * 5000, 1000, "1", gid="A")
    _feed(assembler, a[:2])
    assert assembler.pending_bytes > 0
    now[0] = 6.0
    assert _feed(assembler, _chunks(b"b" * 3000, 1000, "1", gid="B")) == [b"b" * 3000]
    assert (lost.n, assembler.pending_bytes) == (1, 0)


# -- on real servers ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A nats-server with nats-server's default 1 MiB ``max_payload``."""
    directory = tmp_path_factory.mktemp("small-broker")
    config = directory / "nats.conf"
    config.write_text(f"max_payload: {MIB}\n")
    with EmbeddedBroker(config_file=config, host="127.0.0.1", port=0, store_dir=directory / "js") as server:
        yield server


@pytest.fixture(params=["1MiB", "8MiB"])
def server_url(request: pytest.FixtureRequest, small_broker: EmbeddedBroker, nats_url: str) -> str:
    return small_broker.url if request.param == "1MiB" else nats_url


@pytest.fixture(params=[True, False], ids=["fast", "public"])
async def pair(
    request: pytest.FixtureRequest, server_url: str, unique: str
) -> AsyncIterator[tuple[NatsTransport, NatsTransport]]:
    a = NatsTransport(server_url, mapper=SubjectMapper(root=unique), fast_path=request.param)
    b = NatsTransport(server_url, mapper=SubjectMapper(root=unique), fast_path=request.param)
    await a.connect()
    await b.connect()
    yield a, b
    await a.close()
    await b.close()


async def _link(
    a: NatsTransport, b: NatsTransport, name: str, cls: Any
) -> tuple[Any, Any, asyncio.Queue[Any]]:
    got: asyncio.Queue[Any] = asyncio.Queue()
    sub = await b.create_subscription(endpoint(name, cls), cls, got.put_nowait)
    pub = await a.create_publisher(endpoint(name, cls), cls)
    return pub, sub, got


async def test_a_full_hd_image_crosses_intact(pair: tuple[NatsTransport, NatsTransport]) -> None:
    """1920x1080 rgb8: 6.2 MB, over a 1 MiB server's max_payload (and within an 8 MiB one's)."""
    a, b = pair
    pixels = bytes(range(256)) * (1920 * 1080 * 3 // 256)
    pub, sub, got = await _link(a, b, "/camera/image_raw", Image)
    await pub.publish(Image(height=1080, width=1920, encoding="rgb8", step=1920 * 3, data=pixels))
    received = await asyncio.wait_for(got.get(), TIMEOUT)
    assert (received.width, received.height, received.encoding) == (1920, 1080, "rgb8")
    assert bytes(received.data) == pixels
    assert (sub.stats.received, sub.stats.incomplete) == (1, 0)


async def test_a_64_mib_message_crosses_intact(server_url: str, unique: str) -> None:
    a = NatsTransport(server_url, mapper=SubjectMapper(root=unique))
    b = NatsTransport(server_url, mapper=SubjectMapper(root=unique))
    await a.connect()
    await b.connect()
    try:
        data = bytes(range(251)) * (64 * MIB // 251) + b"end"
        pub, _sub, got = await _link(a, b, "/big", UInt8MultiArray)
        await pub.publish(UInt8MultiArray(data=data))
        received = await asyncio.wait_for(got.get(), TIMEOUT)
        assert len(received.data) == len(data)
        assert bytes(received.data) == data
    finally:
        await a.close()
        await b.close()


async def test_a_lost_chunk_drops_that_message_only(small_broker: EmbeddedBroker, unique: str) -> None:
    a = NatsTransport(small_broker.url, mapper=SubjectMapper(root=unique))
    b = NatsTransport(small_broker.url, mapper=SubjectMapper(root=unique))
    await a.connect()
    await b.connect()
    try:
        pub, sub, got = await _link(a, b, "/lossy", UInt8MultiArray)
        pub._chunk_filter = lambda index: index != 1  # the second chunk never leaves
        await pub.publish(UInt8MultiArray(data=b"\x01" * (3 * MIB)))
        pub._chunk_filter = None
        await pub.publish(UInt8MultiArray(data=b"\x02" * (3 * MIB)))
        received = await asyncio.wait_for(got.get(), TIMEOUT)
        assert bytes(received.data) == b"\x02" * (3 * MIB)
        assert got.empty()
        assert (sub.stats.received, sub.stats.incomplete) == (1, 1)
    finally:
        await a.close()
        await b.close()


async def test_a_message_over_max_message_size_is_refused_naming_the_limit(
    small_broker: EmbeddedBroker, unique: str
) -> None:
    a = NatsTransport(small_broker.url, mapper=SubjectMapper(root=unique), max_message_size="2MiB")
    await a.connect()
    try:
        pub = await a.create_publisher(endpoint("/too_big", UInt8MultiArray), UInt8MultiArray)
        await pub.publish(UInt8MultiArray(data=b"\x00" * MIB))  # fine: chunked
        with pytest.raises(MessageTooLarge, match=r"2097152 bytes.*messaging\.max_message_size") as caught:
            await pub.publish(UInt8MultiArray(data=b"\x00" * (3 * MIB)))
        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, TransportError)
    finally:
        await a.close()


async def test_a_small_max_message_size_applies_below_max_payload(nats_url: str, unique: str) -> None:
    a = NatsTransport(nats_url, mapper=SubjectMapper(root=unique), max_message_size=1000)
    await a.connect()
    try:
        pub = await a.create_publisher(endpoint("/tiny_limit", String), String)
        await pub.publish(String(data="short"))
        with pytest.raises(MessageTooLarge, match="over the limit of 1000 bytes"):
            await pub.publish(String(data="x" * 2000))
    finally:
        await a.close()


def test_max_message_size_config_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("robot_id: robot-1\nzone_id: zone-1\nmessaging:\n  max_message_size: 64MiB\n")
    assert load_config("edge", path, environ={}).messaging.max_message_size == 64 * MIB
    env = {"MESSAGING_MAX_MESSAGE_SIZE": "1000000"}
    assert load_config("edge", path, environ=env).messaging.max_message_size == 1_000_000
    assert load_config("zone", None, environ={}).messaging.max_message_size == 256 * MIB
    with pytest.raises(ConfigError, match="max_message_size"):
        load_config("zone", None, environ={"MESSAGING_MAX_MESSAGE_SIZE": "lots"})


async def test_rfos_topic_echo_shows_a_chunked_message(
    small_broker: EmbeddedBroker, unique: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from robotfleet_nodes.cli.main import run_cli

    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    a = NatsTransport(small_broker.url, mapper=SubjectMapper(root=unique))
    await a.connect()
    try:
        pub = await a.create_publisher(endpoint("/camera/big", Image), Image)
        image = Image(height=1000, width=1000, encoding="rgb8", step=3000, data=b"\x05" * 3_000_000)
        argv = ["topic", "echo", "/camera/big", "sensor_msgs/msg/Image", "--once", "--field", "step"]
        echo = asyncio.create_task(run_cli([*argv, "--url", small_broker.url]))
        async with asyncio.timeout(TIMEOUT):
            while not echo.done():  # until the echo has subscribed and printed one
                await pub.publish(image)
                await asyncio.wait({echo}, timeout=0.1)
        assert await echo == 0
        assert capsys.readouterr().out == "3000\n---\n"
    finally:
        await a.close()


# -- services ------------------------------------------------------------------------------------
default_registry().add_text("rfos_chunk_test/srv/Blob", "uint32 size\nuint8[] data\n---\nuint8[] data\n")
Blob: Any = default_registry().get_interface("rfos_chunk_test/srv/Blob")


async def test_a_large_reply_arrives_whole(pair: tuple[NatsTransport, NatsTransport]) -> None:
    """Replies over max_payload come in chunks; the client (fast and public) collects them all."""
    a, b = pair
    pattern = bytes(range(256))

    def handle(request: Any) -> Any:
        return Blob.Response(data=pattern * (request.size // 256))

    async def handle_async(request: Any) -> Any:
        return handle(request)

    await a.create_service(endpoint("/blob", Blob), Blob, handle)
    await a.create_service(endpoint("/blob_async", Blob), Blob, handle_async)
    for name in ("/blob", "/blob_async"):
        client = await b.create_client(endpoint(name, Blob), Blob)
        for size in (20 * MIB, 256, 3 * MIB):
            response = await client.call(Blob.Request(size=size), timeout=TIMEOUT)
            assert bytes(response.data) == pattern * (size // 256), (name, size)


async def test_an_oversized_request_is_refused_naming_max_payload(
    small_broker: EmbeddedBroker, unique: str
) -> None:
    a = NatsTransport(small_broker.url, mapper=SubjectMapper(root=unique))
    await a.connect()
    try:
        await a.create_service(endpoint("/upload", Blob), Blob, lambda r: Blob.Response())
        client = await a.create_client(endpoint("/upload", Blob), Blob)
        await client.call(Blob.Request(data=b"\x00" * 1000), timeout=TIMEOUT)
        with pytest.raises(MessageTooLarge, match=rf"max_payload of {MIB} bytes.*never chunked"):
            await client.call(Blob.Request(data=b"\x00" * (2 * MIB)), timeout=TIMEOUT)
    finally:
        await a.close()


# -- transient local (latched) -------------------------------------------------------------------
OccupancyGrid: Any = default_registry().get_class("nav_msgs/msg/OccupancyGrid")


def _latched(depth: int = 1) -> Any:
    from robotfleet_nodes.node.qos import Durability, QoSProfile, Reliability

    return QoSProfile(depth=depth, durability=Durability.TRANSIENT_LOCAL, reliability=Reliability.RELIABLE)


def _map(side: int, value: int) -> Any:
    grid = OccupancyGrid(data=array.array("b", [(i + value) % 100 for i in range(side * side)]))
    grid.info.width = grid.info.height = side
    return grid


async def test_a_late_subscriber_gets_a_20_mb_map_from_the_object_store(
    small_broker: EmbeddedBroker, unique: str
) -> None:
    url, mapper = small_broker.url, SubjectMapper(root=unique)
    a, b, c, d = (NatsTransport(url, mapper=mapper) for _ in range(4))
    for t in (a, b, c, d):
        await t.connect()
    try:
        name, qos = "/map", _latched()
        live: asyncio.Queue[Any] = asyncio.Queue()
        live_sub = await b.create_subscription(
            endpoint(name, OccupancyGrid, qos), OccupancyGrid, live.put_nowait
        )
        pub = await a.create_publisher(endpoint(name, OccupancyGrid, qos), OccupancyGrid)
        big = _map(4472, 0)  # 20 MB of cells
        await pub.publish(big)
        assert (await asyncio.wait_for(live.get(), TIMEOUT)).data == big.data

        late: asyncio.Queue[Any] = asyncio.Queue()
        await c.create_subscription(endpoint(name, OccupancyGrid, qos), OccupancyGrid, late.put_nowait)
        got = await asyncio.wait_for(late.get(), TIMEOUT)
        assert (got.info.width, len(got.data)) == (4472, 4472 * 4472)
        assert got.data == big.data

        smaller = _map(1500, 7)  # 2.25 MB: still chunked on this server; replaces the stored one
        await pub.publish(smaller)
        assert (await asyncio.wait_for(live.get(), TIMEOUT)).data == smaller.data  # no duplicate
        assert (await asyncio.wait_for(late.get(), TIMEOUT)).data == smaller.data
        later: asyncio.Queue[Any] = asyncio.Queue()
        await d.create_subscription(endpoint(name, OccupancyGrid, qos), OccupancyGrid, later.put_nowait)
        assert (await asyncio.wait_for(later.get(), TIMEOUT)).data == smaller.data
        assert live_sub.stats.received == 2
    finally:
        for t in (a, b, c, d):
            await t.close()


async def test_oversized_latched_data_with_depth_over_1_is_refused(
    small_broker: EmbeddedBroker, unique: str
) -> None:
    a = NatsTransport(small_broker.url, mapper=SubjectMapper(root=unique))
    await a.connect()
    try:
        pub = await a.create_publisher(endpoint("/maps", OccupancyGrid, _latched(5)), OccupancyGrid)
        await pub.publish(_map(10, 0))  # small: stored in the latched stream as usual
        with pytest.raises(MessageTooLarge, match="KEEP_LAST 1"):
            await pub.publish(_map(1500, 0))
    finally:
        await a.close()


async def test_bag_record_writes_a_chunked_message_whole_and_play_chunks_it_again(
    small_broker: EmbeddedBroker, unique: str, tmp_path: Path
) -> None:
    from mcap.reader import make_reader

    from robotfleet_nodes.bag.player import Player
    from robotfleet_nodes.bag.recorder import Recorder
    from robotfleet_nodes.idl.codec import Encoding, deserialize

    a = NatsTransport(small_broker.url, mapper=SubjectMapper(root=unique))
    b = NatsTransport(small_broker.url, mapper=SubjectMapper(root=unique))
    await a.connect()
    await b.connect()
    try:
        recorder = Recorder(b, tmp_path / "bag", topics=["/camera/big"])
        await recorder.start()
        pub = await a.create_publisher(endpoint("/camera/big", Image), Image)
        pixels = bytes(range(256)) * (1000 * 1000 * 3 // 256)
        await pub.publish(Image(height=1000, width=1000, encoding="rgb8", step=3000, data=pixels))
        await a.flush()
        await b.flush()  # the chunks reached the recorder's connection
        await recorder.stop()
        with recorder.path.open("rb") as stream:
            messages = [message.data for _s, _c, message in make_reader(stream).iter_messages()]
        assert len(messages) == 1
        assert bytes(deserialize(Image, messages[0], Encoding.CDR).data) == pixels

        # played back: the player's raw publisher chunks it again for this 1 MiB server
        played: asyncio.Queue[Any] = asyncio.Queue()
        await a.create_subscription(endpoint("/camera/big", Image), Image, played.put_nowait)
        stats = await Player(b, recorder.path, rate=100.0).run()
        assert stats.published == 1
        assert bytes((await asyncio.wait_for(played.get(), TIMEOUT)).data) == pixels
    finally:
        await a.close()
        await b.close()
