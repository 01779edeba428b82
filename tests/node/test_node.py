"""The Node facade on real NATS: pub/sub, services, timers, names, graph, /rosout."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from _node_helpers import ContextFactory
from shared_helpers import eventually

from robotfleet_nodes.errors import NameValidationError, ServiceUnavailable
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node import Node
from robotfleet_nodes.node import context as context_module
from robotfleet_nodes.transport import ParticipantInfo
from robotfleet_nodes.transport.nats._graph import participant_to_json

TIMEOUT = 5.0
String: Any = default_registry().get_class("std_msgs/msg/String")
Int32: Any = default_registry().get_class("std_msgs/msg/Int32")
Log: Any = default_registry().get_class("rcl_interfaces/msg/Log")
GetParameters: Any = default_registry().get_interface("rcl_interfaces/srv/GetParameters")
ListParameters: Any = default_registry().get_interface("rcl_interfaces/srv/ListParameters")


async def test_talker_listener_across_two_processes(make_context: ContextFactory) -> None:
    got: asyncio.Queue[Any] = asyncio.Queue()
    async with make_context() as ctx_a, make_context() as ctx_b:
        talker = Node("talker", context=ctx_a)
        listener = Node("listener", context=ctx_b)
        await talker.start()
        await listener.start()
        await listener.create_subscription(String, "chatter", got.put_nowait, 10)
        pub = await talker.create_publisher(String, "chatter", 10)
        for i in range(5):
            await pub.publish(String(data=f"hello {i}"))
        received = [(await asyncio.wait_for(got.get(), TIMEOUT)).data for _ in range(5)]
        assert received == [f"hello {i}" for i in range(5)]


async def test_a_640x480_camera_image_crosses_contexts_intact(make_context: ContextFactory) -> None:
    """0.9 MB of pixels (1.2 MB as JSON): over nats-server's 1 MiB default, within our
    brokers' 8 MiB ``max_payload`` (larger ones travel in chunks: ``tests/transport/test_chunks.py``)."""
    image_cls: Any = default_registry().get_class("sensor_msgs/msg/Image")
    pixels = bytes(range(256)) * (640 * 480 * 3 // 256)
    got: asyncio.Queue[Any] = asyncio.Queue()
    async with make_context() as ctx_a, make_context() as ctx_b:
        camera = Node("camera", context=ctx_a)
        viewer = Node("viewer", context=ctx_b)
        await camera.start()
        await viewer.start()
        await viewer.create_subscription(image_cls, "image_raw", got.put_nowait, 1)
        pub = await camera.create_publisher(image_cls, "image_raw", 1)
        image = image_cls(height=480, width=640, encoding="rgb8", step=640 * 3, data=pixels)
        await pub.publish(image)
        received = await asyncio.wait_for(got.get(), TIMEOUT)
        assert (received.width, received.height, received.encoding) == (640, 480, "rgb8")
        assert bytes(received.data) == pixels


async def test_a_burst_of_remote_messages_is_not_kept_alive_decoded(make_context: ContextFactory) -> None:
    """A plain callback behind the intra-process layer gets each remote message as soon as it
    is decoded (``stats.received`` counts decoded ones): decoded messages queued a socket read
    at a time kept the garbage collector busy (nested types: dozens of objects each; Odometry
    ran at 0.7x raw nats-py)."""
    odometry_cls: Any = default_registry().get_class("nav_msgs/msg/Odometry")
    most_behind = count = 0
    done = asyncio.Event()
    subscription: Any = None

    def on_odometry(msg: Any) -> None:
        nonlocal most_behind, count
        count += 1
        most_behind = max(most_behind, subscription.stats.received - count)  # decoded, not delivered
        if count == 300:
            done.set()

    async with make_context() as ctx_a, make_context(intra=True) as ctx_b:
        robot = Node("robot", context=ctx_a)
        planner = Node("planner", context=ctx_b)
        await robot.start()
        await planner.start()
        subscription = await planner.create_subscription(odometry_cls, "odom", on_odometry, 1000)
        pub = await robot.create_publisher(odometry_cls, "odom", 1000)
        for _ in range(300):
            await pub.publish(odometry_cls())
        await asyncio.wait_for(done.wait(), TIMEOUT)
    assert most_behind == 0


async def test_publishing_the_wrong_type_is_a_type_error(make_context: ContextFactory) -> None:
    async with make_context() as ctx:
        node = Node("typed", context=ctx)
        await node.start()
        pub = await node.create_publisher(String, "typed_topic", 10)
        with pytest.raises(TypeError, match=r"Expected std_msgs/msg/String, got std_msgs/msg/Int32"):
            await pub.publish(Int32(data=1))


async def test_relative_private_and_remapped_names(make_context: ContextFactory) -> None:
    async with make_context(args=["--ros-args", "-r", "chatter:=talk"]) as ctx:
        node = Node("edge", context=ctx, namespace="/robots/robot-1")
        await node.start()
        pub = await node.create_publisher(String, "chatter", 10)
        private = await node.create_publisher(String, "~/status", 10)
        absolute = await node.create_publisher(String, "/fleet/summary", 10)
        assert pub.topic_name == "/robots/robot-1/talk"
        assert private.topic_name == "/robots/robot-1/edge/status"
        assert absolute.topic_name == "/fleet/summary"
        with pytest.raises(NameValidationError, match=r"\^"):
            await node.create_publisher(String, "bad name", 10)


async def test_node_name_and_namespace_remapped_from_the_command_line(make_context: ContextFactory) -> None:
    async with make_context() as ctx:
        node = Node("talker", context=ctx, cli_args=["--ros-args", "-r", "__node:=robot", "-r", "__ns:=/r1"])
        assert node.get_fully_qualified_name() == "/r1/robot"


async def test_service_both_handler_styles_and_no_responders(make_context: ContextFactory) -> None:
    # GetParameterTypes: names (string[]) in, types (uint8[], i.e. bytes) out.
    AddTwoInts: Any = default_registry().get_interface("rcl_interfaces/srv/GetParameterTypes")
    async with make_context() as ctx_a, make_context() as ctx_b:
        server = Node("server", context=ctx_a, start_parameter_services=False)
        client_node = Node("client", context=ctx_b, start_parameter_services=False)
        await server.start()
        await client_node.start()

        def one_arg(request: Any) -> Any:
            return AddTwoInts.Response(types=[len(n) for n in request.names])

        def rclpy_style(request: Any, response: Any) -> Any:
            response.types = [9 for _ in request.names]
            return response

        await server.create_service(AddTwoInts, "one", one_arg)
        await server.create_service(AddTwoInts, "two", rclpy_style)
        one = await client_node.create_client(AddTwoInts, "/one")
        two = await client_node.create_client(AddTwoInts, "/two")
        assert await one.wait_for_service(timeout=TIMEOUT)
        assert (await one.call(AddTwoInts.Request(names=["ab", "c"]), timeout=TIMEOUT)).types == bytes([2, 1])
        assert (await two.call(AddTwoInts.Request(names=["x"]), timeout=TIMEOUT)).types == bytes([9])
        nobody = await client_node.create_client(AddTwoInts, "/nobody")
        with pytest.raises(ServiceUnavailable):
            await nobody.call(AddTwoInts.Request(), timeout=TIMEOUT)
        with pytest.raises(TypeError, match="Expected"):
            await one.call(String(data="x"), timeout=TIMEOUT)


async def test_timer_ticks_and_cancels(make_context: ContextFactory) -> None:
    async with make_context() as ctx:
        node = Node("ticker", context=ctx)
        await node.start()
        ticks = 0
        done = asyncio.Event()

        def tick() -> None:
            nonlocal ticks
            ticks += 1
            if ticks == 3:
                done.set()

        timer = node.create_timer(0.01, tick)
        await asyncio.wait_for(done.wait(), TIMEOUT)
        timer.cancel()
        seen = ticks
        assert timer.is_canceled
        with pytest.raises(ValueError, match="period"):
            node.create_timer(0, tick)
        # A cancelled timer does not tick again: let several periods pass on the loop.
        await asyncio.wait_for(asyncio.shield(asyncio.sleep(0.05)), TIMEOUT)
        assert ticks == seen


async def test_graph_lists_nodes_topics_and_forgets_closed_ones(make_context: ContextFactory) -> None:
    async with make_context() as ctx_a:
        observer = Node("observer", context=ctx_a)
        await observer.start()
        async with make_context() as ctx_b:
            robot = Node("edge", context=ctx_b, namespace="/robots/robot-7")
            await robot.start()
            await robot.create_publisher(String, "status", 10)

            async def visible() -> bool:
                nodes = await observer.get_node_names_and_namespaces()
                topics = dict(await observer.get_topic_names_and_types())
                return ("edge", "/robots/robot-7") in nodes and "/robots/robot-7/status" in topics

            await eventually(visible)
            pubs = await observer.get_publishers_info_by_topic("/robots/robot-7/status")
            assert [fqn for fqn, _ in pubs] == ["/robots/robot-7/edge"]
            assert pubs[0][1].type_name == "std_msgs/msg/String"
            assert pubs[0][1].type_hash.startswith("RIHS01_")

        async def gone() -> bool:
            return ("edge", "/robots/robot-7") not in await observer.get_node_names_and_namespaces()

        await eventually(gone)


async def test_parameters_reachable_remotely(make_context: ContextFactory) -> None:
    async with make_context() as ctx_a, make_context() as ctx_b:
        node = Node("driver", context=ctx_a, namespace="/robots/robot-1")
        node.declare_parameter("speed", 1.5)
        await node.start()
        tool = Node("tool", context=ctx_b)
        await tool.start()
        client = await tool.create_client(GetParameters, "/robots/robot-1/driver/get_parameters")
        response = await client.call(GetParameters.Request(names=["speed"]), timeout=TIMEOUT)
        assert response.values[0].double_value == 1.5


async def test_log_records_reach_rosout(make_context: ContextFactory) -> None:
    got: asyncio.Queue[Any] = asyncio.Queue()
    async with make_context() as ctx_a, make_context() as ctx_b:
        watcher = Node("watcher", context=ctx_b)
        await watcher.start()
        await watcher.create_subscription(Log, "/rosout", got.put_nowait, 100)
        node = Node("chatty", context=ctx_a, namespace="/robots/robot-2")
        await node.start()
        node.get_logger().setLevel(logging.INFO)

        async def logged() -> bool:
            node.get_logger().info("command %s received", "wo-1")
            try:
                msg = await asyncio.wait_for(got.get(), 0.5)
            except TimeoutError:
                return False
            return msg.msg == "command wo-1 received" and msg.name == "robots.robot-2.chatty"

        await eventually(logged)


async def test_destroyed_node_refuses_new_entities(make_context: ContextFactory) -> None:
    async with make_context() as ctx:
        node = Node("short", context=ctx)
        await node.start()
        await node.destroy_node()
        with pytest.raises(RuntimeError, match="destroyed"):
            await node.create_publisher(String, "x", 10)


async def test_a_waiting_request_does_not_hold_back_the_next(make_context: ContextFactory) -> None:
    srv: Any = default_registry().get_interface("rcl_interfaces/srv/GetParameterTypes")
    release = asyncio.Event()
    async with make_context() as ctx_a, make_context() as ctx_b:
        server = Node("slowpoke", context=ctx_a, start_parameter_services=False)
        caller = Node("caller", context=ctx_b, start_parameter_services=False)
        await server.start()
        await caller.start()

        async def handler(request: Any) -> Any:
            if request.names == ["wait"]:
                await release.wait()
            return srv.Response(types=bytes([len(request.names)]))

        await server.create_service(srv, "work", handler)
        client = await caller.create_client(srv, "/work")
        waiting = asyncio.ensure_future(client.call(srv.Request(names=["wait"]), timeout=TIMEOUT))
        quick = await client.call(srv.Request(names=["a", "b"]), timeout=TIMEOUT)
        assert quick.types == bytes([2])
        assert not waiting.done()
        release.set()
        assert (await waiting).types == bytes([1])


async def test_graph_of_a_container_larger_than_one_nats_message(make_context: ContextFactory) -> None:
    """700 nodes with parameter services describe themselves in > 1 MB: sent in chunks."""
    async with make_context(intra=True) as ctx_a, make_context() as ctx_b:
        nodes = [Node("edge", context=ctx_a, namespace=f"/robots/robot-{i}") for i in range(700)]
        await asyncio.gather(*(node.start() for node in nodes))
        whole = participant_to_json(ParticipantInfo("g", "h", 1, [node.info for node in nodes]))
        assert len(whole) > 1024 * 1024, "the test needs a description larger than NATS' 1 MB default"
        observer = Node("observer", context=ctx_b)
        await observer.start()

        async def all_listed() -> bool:
            listed = await observer.get_node_names_and_namespaces()
            return sum(1 for name, _ in listed if name == "edge") == 700

        await eventually(all_listed, timeout=20.0)


async def test_context_waits_for_a_broker_that_is_still_starting(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    from robotfleet_nodes.broker import EmbeddedBroker
    from robotfleet_nodes.errors import TransportError
    from robotfleet_nodes.node import Context

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"nats://127.0.0.1:{port}"
    with pytest.raises(TransportError, match="rfos broker"):
        await Context(url=url, connect_wait=0).start()
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="robotfleet_nodes")
    waiting = Context(url=url, connect_wait=20)
    starting = asyncio.ensure_future(waiting.start())
    await asyncio.sleep(0.3)  # the context is retrying now; then the broker appears
    assert not starting.done()
    broker = EmbeddedBroker(port=port)
    await asyncio.to_thread(broker.start)
    try:
        await asyncio.wait_for(starting, TIMEOUT * 3)
        await waiting.close()
    finally:
        await asyncio.to_thread(broker.stop)
    # A broker that takes a moment to start is not worth a warning (a launch starts it next to us).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_entities_created_together_share_one_round_trip(
    make_context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six services created in one go wait for one PONG, and each is reachable when created."""
    async with make_context() as ctx_a, make_context() as ctx_b:
        transport: Any = ctx_a.transport
        trips = 0
        roundtrip = transport.client.roundtrip

        async def counting(timeout: float) -> None:
            nonlocal trips
            trips += 1
            await roundtrip(timeout)

        monkeypatch.setattr(transport.client, "roundtrip", counting)
        server = Node("server", context=ctx_a, start_parameter_services=False)
        await server.start()
        await asyncio.gather(
            *(server.create_service(ListParameters, f"svc_{i}", lambda req, res: res) for i in range(6))
        )
        assert trips == 1
        caller = Node("caller", context=ctx_b, start_parameter_services=False)
        await caller.start()
        for i in range(6):
            client = await caller.create_client(ListParameters, f"/svc_{i}")
            await client.call(ListParameters.Request(), timeout=TIMEOUT)  # no "no responders"


async def test_announcements_slow_down_while_the_graph_keeps_changing(
    make_context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node creating many entities one after the other is announced a few times, not each time.

    The graph changes again right after every announcement, so each announcement's delay
    doubles up to the cap; after a quiet spell the delay is short again. Asserted on the
    delays the context chose, not on a clock: load stretches them, never changes them.
    """
    # Scaled up from 0.05 / 0.4 s so that a change "right after" an announcement stays
    # well within twice the delay on a busy machine too.
    monkeypatch.setattr(context_module, "ANNOUNCE_DELAY", 0.1)
    monkeypatch.setattr(context_module, "MAX_ANNOUNCE_DELAY", 0.4)
    async with make_context() as ctx:
        delays: list[float] = []
        announced: asyncio.Queue[None] = asyncio.Queue()
        announce = ctx.transport.announce

        async def recording(nodes: Any) -> None:
            delays.append(ctx._announce_delay)
            announced.put_nowait(None)
            await announce(nodes)

        monkeypatch.setattr(ctx.transport, "announce", recording)
        node = Node("busy", context=ctx, start_parameter_services=False)
        await node.start()
        await asyncio.wait_for(announced.get(), TIMEOUT)  # the node's own start
        for n in range(5):  # a change right after each announcement: the graph keeps changing
            await node.create_publisher(String, f"topic_{n}", 1)
            await asyncio.wait_for(announced.get(), TIMEOUT)
        assert delays == [0.1, 0.2, 0.4, 0.4, 0.4, 0.4]
        await asyncio.sleep(0.9)  # measuring quiet: longer than twice the longest delay
        await node.create_publisher(String, "after_the_quiet", 1)
        await asyncio.wait_for(announced.get(), TIMEOUT)
        assert delays[-1] == 0.1
