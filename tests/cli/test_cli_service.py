"""``rfos service`` and ``rfos action`` against live servers on the session's nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from example_interfaces.action import Fibonacci  # type: ignore[import-not-found]
from example_interfaces.srv import AddTwoInts  # type: ignore[import-not-found]

from robotfleet_nodes.action import ActionServer, ServerGoalHandle
from robotfleet_nodes.cli.main import run_cli
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper


@pytest.fixture
async def servers(nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Node]:
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    ctx = Context(transport=transport, enable_rosout=False)
    await ctx.start()
    node = Node("server", context=ctx, start_parameter_services=False)
    await node.start()

    def add(request: Any) -> Any:
        return AddTwoInts.Response(sum=request.a + request.b)

    async def fib(goal: ServerGoalHandle) -> Any:
        sequence = [0, 1]
        for _ in range(1, goal.request.order):
            sequence.append(sequence[-1] + sequence[-2])
            await goal.publish_feedback(Fibonacci.Feedback(sequence=sequence))
            await asyncio.sleep(0.01)
        goal.succeed()
        return Fibonacci.Result(sequence=sequence)

    await node.create_service(AddTwoInts, "add_two_ints", add)
    server = await ActionServer.create(node, Fibonacci, "fibonacci", fib)
    await asyncio.sleep(0.15)
    yield node
    await server.destroy()
    await ctx.close()
    await transport.close()


async def rfos(nats_url: str, *argv: str) -> int:
    return await run_cli([*argv, "--url", nats_url, "--graph-wait", "0.2"])


async def test_service_list_type_find(servers: Node, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "service", "list", "-t") == 0
    assert capsys.readouterr().out == "/add_two_ints [example_interfaces/srv/AddTwoInts]\n"
    assert await rfos(nats_url, "service", "list", "-a") == 0
    assert "/fibonacci/_action/send_goal" in capsys.readouterr().out
    assert await rfos(nats_url, "service", "type", "add_two_ints") == 0
    assert capsys.readouterr().out == "example_interfaces/srv/AddTwoInts\n"
    assert await rfos(nats_url, "service", "find", "example_interfaces/srv/AddTwoInts") == 0
    assert capsys.readouterr().out == "/add_two_ints\n"


async def test_service_call_prints_yaml(servers: Node, nats_url: str, capsys: Any) -> None:
    argv = ["service", "call", "/add_two_ints", "example_interfaces/srv/AddTwoInts", "{a: 40, b: 2}"]
    assert await run_cli([*argv, "--url", nats_url]) == 0
    assert capsys.readouterr().out.endswith("response:\nsum: 42\n")


async def test_service_errors(servers: Node, nats_url: str, capsys: Any) -> None:
    srv = "example_interfaces/srv/AddTwoInts"
    assert await rfos(nats_url, "service", "call", "/add_two_int", srv, "{a: 1}") == 1
    assert "unknown service /add_two_int; did you mean: /add_two_ints" in capsys.readouterr().err
    assert await rfos(nats_url, "service", "call", "/add_two_ints", srv, "{a: x}") == 1
    assert "request example_interfaces/srv/AddTwoInts_Request: field a:" in capsys.readouterr().err
    assert await rfos(nats_url, "service", "type", "/nope") == 1


async def test_action_list_type_info(servers: Node, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "action", "list", "-t") == 0
    assert capsys.readouterr().out == "/fibonacci [example_interfaces/action/Fibonacci]\n"
    assert await rfos(nats_url, "action", "type", "/fibonacci") == 0
    assert capsys.readouterr().out == "example_interfaces/action/Fibonacci\n"
    assert await rfos(nats_url, "action", "info", "/fibonacci") == 0
    assert "Action servers: 1\n    /server" in capsys.readouterr().out
    assert await rfos(nats_url, "action", "info", "/fibonaci") == 1
    assert "did you mean: /fibonacci" in capsys.readouterr().err


async def test_action_send_goal_with_feedback(servers: Node, nats_url: str, capsys: Any) -> None:
    argv = ["action", "send_goal", "/fibonacci", "example_interfaces/action/Fibonacci", "{order: 4}", "-f"]
    assert await rfos(nats_url, *argv) == 0
    out = capsys.readouterr().out
    assert "Goal accepted with ID: " in out
    assert "Feedback:\n    sequence:\n    - 0\n    - 1\n    - 1\n" in out
    assert "Result:\n    sequence:\n    - 0\n    - 1\n    - 1\n    - 2\n    - 3\n" in out
    assert out.endswith("Goal finished with status: SUCCEEDED\n")
