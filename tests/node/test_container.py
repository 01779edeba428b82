"""Composition: components in one container, loaded locally and through its services."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _node_helpers import ContextFactory

from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node import Node
from robotfleet_nodes.node.container import ComponentContainer, ComponentError

TIMEOUT = 5.0
String: Any = default_registry().get_class("std_msgs/msg/String")
LoadNode: Any = default_registry().get_interface("composition_interfaces/srv/LoadNode")
UnloadNode: Any = default_registry().get_interface("composition_interfaces/srv/UnloadNode")
ListNodes: Any = default_registry().get_interface("composition_interfaces/srv/ListNodes")
Parameter: Any = default_registry().get_class("rcl_interfaces/msg/Parameter")
ParameterValue: Any = default_registry().get_class("rcl_interfaces/msg/ParameterValue")


class Echo(Node):
    """Republishes ``in`` on ``out``; the message object is handed over in-process."""

    def __init__(self, context: Any, **options: Any) -> None:
        super().__init__("echo", context=context, **options)
        self.seen: list[Any] = []

    async def on_start(self) -> None:
        self.pub = await self.create_publisher(String, "out", 10)
        await self.create_subscription(String, "in", self.on_msg, 10)

    async def on_msg(self, msg: Any) -> None:
        self.seen.append(msg)
        await self.pub.publish(msg)


async def test_components_share_the_process_and_use_the_intra_process_path(
    make_context: ContextFactory,
) -> None:
    got: asyncio.Queue[Any] = asyncio.Queue()
    async with make_context(intra=True) as ctx:
        container = ComponentContainer(context=ctx)
        await container.start()
        _, echo = await container.load(Echo, node_name="echo_a")
        assert isinstance(echo, Echo)
        sink = Node("sink", context=ctx)
        await sink.start()
        await sink.create_subscription(String, "/out", got.put_nowait, 10)
        pub = await sink.create_publisher(String, "/in", 10)
        sent = String(data="same object")
        await pub.publish(sent)
        out = await asyncio.wait_for(got.get(), TIMEOUT)
        assert out.data == "same object"
        assert echo.seen[0] is sent, "intra-process delivery hands over the object, not a copy"
        assert echo.get_fully_qualified_name() == "/echo_a"


async def test_load_list_unload_through_services(make_context: ContextFactory) -> None:
    async with make_context() as ctx_container, make_context() as ctx_tool:
        container = ComponentContainer("rfos_container", context=ctx_container)
        await container.start()
        tool = Node("tool", context=ctx_tool)
        await tool.start()
        load = await tool.create_client(LoadNode, "/rfos_container/_container/load_node")
        unload = await tool.create_client(UnloadNode, "/rfos_container/_container/unload_node")
        listing = await tool.create_client(ListNodes, "/rfos_container/_container/list_nodes")
        request = LoadNode.Request(
            plugin_name="robotfleet_nodes.examples.talker:Talker",
            node_name="talker_1",
            node_namespace="/robots/robot-3",
            parameters=[Parameter(name="unused", value=ParameterValue(type=2, integer_value=4))],
        )
        loaded = await load.call(request, timeout=TIMEOUT)
        assert loaded.success, loaded.error_message
        assert loaded.full_node_name == "/robots/robot-3/talker_1"
        listed = await listing.call(ListNodes.Request(), timeout=TIMEOUT)
        assert list(listed.full_node_names) == ["/robots/robot-3/talker_1"]
        assert list(listed.unique_ids) == [loaded.unique_id]
        bad = await load.call(LoadNode.Request(plugin_name="no.such.module:Nope"), timeout=TIMEOUT)
        assert not bad.success and "cannot import" in bad.error_message
        done = await unload.call(UnloadNode.Request(unique_id=loaded.unique_id), timeout=TIMEOUT)
        assert done.success
        again = await unload.call(UnloadNode.Request(unique_id=loaded.unique_id), timeout=TIMEOUT)
        assert not again.success and "no component" in again.error_message
        assert container.components == {}


async def test_unknown_plugin_names_say_how_to_name_one(make_context: ContextFactory) -> None:
    async with make_context() as ctx:
        container = ComponentContainer(context=ctx)
        await container.start()
        with pytest.raises(ComponentError, match=r"package\.module:ClassName"):
            await container.load("nothing_like_this")
