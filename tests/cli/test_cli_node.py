"""``rfos node`` against live nodes on the session's nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from shared_helpers import eventually
from std_msgs.msg import String  # type: ignore[import-not-found]

from robotfleet_nodes.cli.main import run_cli
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper


@pytest.fixture
async def context(nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Context]:
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    ctx = Context(transport=transport, enable_rosout=False)
    await ctx.start()
    yield ctx
    await ctx.close()
    await transport.close()


async def rfos(nats_url: str, *argv: str) -> int:
    return await run_cli([*argv, "--url", nats_url, "--graph-wait", "0.2"])


async def test_list_and_info(context: Context, nats_url: str, capsys: Any) -> None:
    node = Node("talker", namespace="/robots/r1", context=context)
    await node.start()
    node.declare_parameter("rate", 2.5)
    await node.create_publisher(String, "chatter", 10)
    await node.create_subscription(String, "/cmd", lambda m: None, 10)
    await node.create_client(_srv(), "/other/srv")
    await Node("idle", context=context).start()
    await _settle()
    assert await rfos(nats_url, "node", "list") == 0
    assert capsys.readouterr().out.split() == ["/idle", "/robots/r1/talker"]
    assert await rfos(nats_url, "node", "list", "-c") == 0
    assert capsys.readouterr().out == "2\n"
    assert await rfos(nats_url, "node", "info", "/robots/r1/talker") == 0
    out = capsys.readouterr().out
    assert out.startswith("/robots/r1/talker\n  Subscribers:\n    /cmd: std_msgs/msg/String\n")
    assert "    /robots/r1/chatter: std_msgs/msg/String" in out
    assert "  Service Clients:\n    /other/srv: example_interfaces/srv/AddTwoInts" in out
    assert "    /robots/r1/talker/list_parameters: rcl_interfaces/srv/ListParameters" in out
    assert out.endswith("  Parameters:\n    rate\n")
    assert await rfos(nats_url, "node", "info", "talker", "--no-params") == 0  # unique plain name
    assert "Parameters:" not in capsys.readouterr().out


async def test_unknown_node_suggests(context: Context, nats_url: str, capsys: Any) -> None:
    await Node("talker", context=context).start()
    await _settle()
    assert await rfos(nats_url, "node", "info", "/talkr") == 1
    assert "unknown node /talkr; did you mean: /talker?" in capsys.readouterr().err


async def test_list_of_1000_nodes_shows_every_one(context: Context, nats_url: str, capsys: Any) -> None:
    for i in range(1000):
        node = Node(
            f"robot_{i}",
            context=context,
            start_parameter_services=False,
            start_parameter_event_publisher=False,
        )
        await node.start()
    await _graph_shows(context, 1000)
    # How long this takes is benchmarks/composition.py's figure (node_list_s).
    assert await run_cli(["node", "list", "--url", nats_url]) == 0  # the default graph window
    assert capsys.readouterr().out.split() == sorted(f"/robot_{i}" for i in range(1000))


def _srv() -> Any:
    from example_interfaces.srv import AddTwoInts  # type: ignore[import-not-found]

    return AddTwoInts


async def _graph_shows(context: Context, count: int) -> None:
    """Wait until a graph query sees ``count`` nodes (announcements are coalesced)."""

    async def enough() -> bool:
        participants = await context.transport.graph(timeout=0.2)
        return sum(len(p.nodes) for p in participants) >= count

    await eventually(enough, what=f"{count} nodes in the graph")


async def _settle(delay: float = 0.15) -> None:
    import asyncio

    await asyncio.sleep(delay)
