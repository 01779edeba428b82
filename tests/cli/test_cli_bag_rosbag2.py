"""``rfos bag info/play`` on bags written by the third-party ``rosbags`` writers.

The reference for rosbag2's formats is ``rosbags`` (the ROS 2 oracle venv has no rosbag2):
sqlite3 ``.db3`` bags (directory with ``metadata.yaml``, and a bare file), MCAP bags with
relative topic names, and a bag of a custom type that only the bag itself defines, played
by an ``rfos`` process without ``RFOS_INTERFACE_PATH`` into ``rfos topic echo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from shared_helpers import eventually

from robotfleet_nodes.cli.main import run_cli
from robotfleet_nodes.idl import INTERFACE_PATH_ENV, default_registry
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

RFOS = Path(sys.executable).parent / "rfos"
String = default_registry().get_class("std_msgs/msg/String")
COUNT = 6
TAG = "uint8 level\nstring name\n"
BLIP = "string label\ngeometry_msgs/Point where\nint32[] values\nblip_msgs/Tag tag\n"


def typestore() -> Any:
    """Jazzy's standard types plus blip_msgs (only rosbags and the bag know it)."""
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg(TAG, "blip_msgs/msg/Tag"))
    store.register(get_types_from_msg(BLIP, "blip_msgs/msg/Blip"))
    return store


STORE = typestore()


def strings(i: int) -> Any:
    return STORE.types["std_msgs/msg/String"](data=f"hello {i}")


def blips(i: int) -> Any:
    types = STORE.types
    return types["blip_msgs/msg/Blip"](
        label=f"blip {i}",
        where=types["geometry_msgs/msg/Point"](x=float(i), y=0.5, z=-1.0),
        values=np.array([i, 2 * i], dtype=np.int32),
        tag=types["blip_msgs/msg/Tag"](level=i % 3, name="t"),
    )


def write_bag(
    path: Path,
    storage: StoragePlugin,
    topic: str,
    msgtype: str,
    make: Callable[[int], Any],
    *,
    msgdef: str | None = None,
) -> None:
    """COUNT messages of ``make(i)``, 20 ms apart, with rosbags' own writer."""
    with Writer(path, version=9, storage_plugin=storage) as writer:
        if msgdef is None:
            connection = writer.add_connection(topic, msgtype, typestore=STORE)
        else:
            connection = writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=STORE.hash_rihs01(msgtype)
            )
        for i in range(COUNT):
            data = STORE.serialize_cdr(make(i), msgtype)
            writer.write(connection, 1_700_000_000 * 10**9 + i * 20_000_000, data)


@pytest.fixture
def root(unique: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh subject root for this test's ``rfos`` commands."""
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    return unique


@pytest.fixture
async def node(nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Node]:
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    context = Context(transport=transport, enable_rosout=False)
    await context.start()
    listener = Node("listener", context=context)
    await listener.start()
    yield listener
    await context.close()
    await transport.close()


async def listen(node: Node, topic: str) -> list[str]:
    got: list[str] = []
    await node.create_subscription(String, topic, lambda m: got.append(m.data), 100)
    return got


async def test_info_and_play_a_db3_bag_directory(
    node: Node, nats_url: str, tmp_path: Path, capsys: Any
) -> None:
    bag = tmp_path / "sqlite_bag"
    write_bag(bag, StoragePlugin.SQLITE3, "/chatter", "std_msgs/msg/String", strings)
    assert (bag / "metadata.yaml").is_file() and (bag / "sqlite_bag.db3").is_file()
    assert await run_cli(["bag", "info", str(bag)]) == 0
    out = capsys.readouterr().out
    assert "Storage id:        sqlite3" in out
    assert f"Messages:          {COUNT}" in out
    assert "Duration:          0.100000000s" in out
    assert f"Topic: /chatter | Type: std_msgs/msg/String | Count: {COUNT} | Serialization Format: cdr" in out
    got = await listen(node, "/chatter")
    assert await run_cli(["bag", "play", str(bag), "--rate", "5", "--url", nats_url]) == 0
    await eventually(lambda: len(got) == COUNT, what="the .db3 bag played")
    assert got == [f"hello {i}" for i in range(COUNT)]


async def test_info_and_play_a_bare_db3_file_with_a_relative_topic(
    node: Node, nats_url: str, tmp_path: Path, capsys: Any
) -> None:
    bag = tmp_path / "bare"
    write_bag(bag, StoragePlugin.SQLITE3, "chatter", "std_msgs/msg/String", strings)
    (bag / "metadata.yaml").unlink()  # a .db3 file alone, as copied off a robot
    for path in (bag / "bare.db3", bag):
        assert await run_cli(["bag", "info", str(path)]) == 0
        out = capsys.readouterr().out
        assert "Storage id:        sqlite3" in out
        assert f"Messages:          {COUNT}" in out
    got = await listen(node, "/chatter")
    assert await run_cli(["bag", "play", str(bag / "bare.db3"), "--rate", "5", "--url", nats_url]) == 0
    await eventually(lambda: len(got) == COUNT, what="the bare .db3 file played")
    assert got == [f"hello {i}" for i in range(COUNT)]


async def test_play_an_mcap_bag_with_relative_topic_names(
    node: Node, nats_url: str, tmp_path: Path, capsys: Any
) -> None:
    bag = tmp_path / "relative"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        chatter = writer.add_connection("chatter", "std_msgs/msg/String", typestore=STORE)
        nested = writer.add_connection("robots/r1/status", "std_msgs/msg/String", typestore=STORE)
        for i in range(COUNT):
            for connection, text in ((chatter, f"hello {i}"), (nested, f"status {i}")):
                data = STORE.serialize_cdr(
                    STORE.types["std_msgs/msg/String"](data=text), "std_msgs/msg/String"
                )
                writer.write(connection, 1_700_000_000 * 10**9 + i * 20_000_000, data)
    assert await run_cli(["bag", "info", str(bag)]) == 0
    out = capsys.readouterr().out
    assert "Storage id:        mcap" in out
    assert "Topic: chatter " in out  # info shows names as stored, like ros2 bag info
    chatter_got = await listen(node, "/chatter")
    status_got = await listen(node, "/robots/r1/status")
    assert await run_cli(["bag", "play", str(bag), "--rate", "5", "--url", nats_url]) == 0
    await eventually(lambda: len(chatter_got) == len(status_got) == COUNT, what="both topics played")
    assert chatter_got == [f"hello {i}" for i in range(COUNT)]
    assert status_got == [f"status {i}" for i in range(COUNT)]
    assert "published 12 messages" in capsys.readouterr().err

    chatter_got.clear()  # --topics filters on the resolved (absolute) names
    argv = ["bag", "play", str(bag), "--rate", "5", "--topics", "/chatter", "--url", nats_url]
    assert await run_cli(argv) == 0
    err = capsys.readouterr().err
    assert f"published {COUNT} messages" in err and "/robots/r1/status" not in err
    await eventually(lambda: len(chatter_got) == COUNT, what="/chatter played again")


async def test_a_conflicting_stored_definition_loses_with_one_warning(
    node: Node, nats_url: str, tmp_path: Path, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bag = tmp_path / "conflict"
    other = "string data\nint32 extra\n"  # not std_msgs/msg/String's definition
    write_bag(bag, StoragePlugin.MCAP, "/chatter", "std_msgs/msg/String", strings, msgdef=other)
    got = await listen(node, "/chatter")
    with caplog.at_level(logging.WARNING):
        assert await run_cli(["bag", "play", str(bag), "--rate", "5", "--url", nats_url]) == 0
    await eventually(lambda: len(got) == COUNT, what="played with the known definition")
    assert got == [f"hello {i}" for i in range(COUNT)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "std_msgs/msg/String differs from the known one" in warnings[0]
    assert "std_msgs/msg/String" in default_registry()
    assert [f.name for f in default_registry().message_spec("std_msgs/msg/String").fields] == ["data"]


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
async def test_a_custom_type_plays_from_the_bags_definitions_into_topic_echo(
    storage: StoragePlugin, nats_url: str, root: str, tmp_path: Path, capsys: Any
) -> None:
    """An ``rfos bag play`` process without RFOS_INTERFACE_PATH; ``rfos topic echo`` (here,
    where blip_msgs is unknown too) prints the fields; the player is a node in the graph."""
    bag = tmp_path / "blips"
    write_bag(bag, storage, "blip", "blip_msgs/msg/Blip", blips)
    assert "blip_msgs/msg/Blip" not in default_registry()
    env = {k: v for k, v in os.environ.items() if k != INTERFACE_PATH_ENV}
    env |= {"RFOS_SUBJECT_ROOT": root, "MESSAGING_URL": nats_url}
    proc = await asyncio.create_subprocess_exec(
        str(RFOS), "bag", "play", str(bag), "--loop", "--rate", "2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:

        async def in_graph() -> bool:
            assert await run_cli(["node", "list", "--url", nats_url]) == 0
            nodes = capsys.readouterr().out.split()
            assert await run_cli(["topic", "list", "-t", "--url", nats_url]) == 0
            topics = capsys.readouterr().out
            return "/rosbag2_player" in nodes and "/blip [blip_msgs/msg/Blip]" in topics

        await eventually(in_graph, what="/rosbag2_player and /blip in the graph")
        assert await run_cli(["node", "info", "/rosbag2_player", "--url", nats_url]) == 0
        assert "/blip: blip_msgs/msg/Blip" in capsys.readouterr().out
        assert await run_cli(["topic", "echo", "/blip", "--once", "--url", nats_url]) == 0
        out = capsys.readouterr().out
        assert "label: blip " in out
        assert "where:" in out and "y: 0.5" in out and "z: -1.0" in out
        assert "tag:" in out and "name: t" in out
    finally:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(ProcessLookupError):
            _, err = await asyncio.wait_for(proc.communicate(), 15)
    text = err.decode()
    assert "Traceback" not in text, text
    assert "warning" not in text.lower(), text


async def test_private_and_invalid_topic_names_never_abort_playback(
    node: Node, nats_url: str, tmp_path: Path, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """``~/x`` resolves against /rosbag2_player as rcl does; a name ROS 2 rejects is skipped."""
    bag = tmp_path / "names"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        private = writer.add_connection("~/echo", "std_msgs/msg/String", typestore=STORE)
        invalid = writer.add_connection("9 bad name", "std_msgs/msg/String", typestore=STORE)
        for i in range(COUNT):
            for connection in (private, invalid):
                writer.write(
                    connection,
                    1_700_000_000 * 10**9 + i * 20_000_000,
                    STORE.serialize_cdr(strings(i), "std_msgs/msg/String"),
                )
    got = await listen(node, "/rosbag2_player/echo")
    with caplog.at_level(logging.WARNING):
        assert await run_cli(["bag", "play", str(bag), "--rate", "5", "--url", nats_url]) == 0
    await eventually(lambda: len(got) == COUNT, what="~/echo played")
    assert got == [f"hello {i}" for i in range(COUNT)]
    err = capsys.readouterr().err
    assert (
        f"published {COUNT} messages" in err
        and f"skipped (not cdr, invalid topic name or undecodable): {COUNT}" in err
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'9 bad name'" in warnings[0], warnings


async def test_the_player_node_leaves_the_graph_when_playback_ends(
    node: Node, nats_url: str, tmp_path: Path, capsys: Any
) -> None:
    """A Player on a transport that also hosts other nodes: they stay, /rosbag2_player goes."""
    from robotfleet_nodes.bag import Player

    bag = tmp_path / "short"
    write_bag(bag, StoragePlugin.SQLITE3, "/chatter", "std_msgs/msg/String", strings)
    transport = node.context.transport
    assert isinstance(transport, NatsTransport)

    async def nodes() -> list[str]:
        assert await run_cli(["node", "list", "--url", nats_url]) == 0
        return str(capsys.readouterr().out).split()

    async def listener_there() -> bool:
        return "/listener" in await nodes()

    await eventually(listener_there, what="the listener announced")
    player = Player(transport, bag, rate=5)
    assert (await player.run()).published == COUNT

    async def player_gone() -> bool:
        names = await nodes()
        return "/listener" in names and "/rosbag2_player" not in names

    await eventually(player_gone, what="/rosbag2_player gone, /listener still there")
