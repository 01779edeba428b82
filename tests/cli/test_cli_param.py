"""``rfos param`` against a live node's rcl_interfaces services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from robotfleet_nodes.cli.main import run_cli
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.node.param_files import load_parameter_file
from robotfleet_nodes.node.parameters import interface_class
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper


@pytest.fixture
async def node(nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Node]:
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    ctx = Context(transport=transport, enable_rosout=False)
    await ctx.start()
    n = Node("driver", namespace="/robots/r1", context=ctx)
    rng = interface_class("rcl_interfaces/msg/FloatingPointRange")(from_value=0.0, to_value=10.0, step=0.0)
    descriptor = interface_class("rcl_interfaces/msg/ParameterDescriptor")(
        description="max speed in m/s", floating_point_range=[rng]
    )
    n.declare_parameter("speed", 1.5, descriptor)
    n.declare_parameter("name", "r1")
    n.declare_parameter("limits.tags", ["a", "b"])
    await n.start()
    await Node("other", context=ctx, start_parameter_services=False).start()
    await asyncio.sleep(0.15)
    yield n
    await ctx.close()
    await transport.close()


async def rfos(nats_url: str, *argv: str) -> int:
    return await run_cli([*argv, "--url", nats_url, "--graph-wait", "0.2"])


async def test_list_all_and_one(node: Node, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "param", "list") == 0
    assert capsys.readouterr().out == "/robots/r1/driver:\n  limits.tags\n  name\n  speed\n"
    assert await rfos(nats_url, "param", "list", "/robots/r1/driver", "--param-type") == 0
    assert "  speed (type: double)\n" in capsys.readouterr().out


async def test_get_set_describe(node: Node, nats_url: str, capsys: Any) -> None:
    fqn = "/robots/r1/driver"
    assert await rfos(nats_url, "param", "get", fqn, "speed") == 0
    assert capsys.readouterr().out == "Double value is: 1.5\n"
    assert await rfos(nats_url, "param", "set", fqn, "speed", "2.5") == 0
    assert capsys.readouterr().out == "Set parameter successful\n"
    assert node.get_parameter("speed").value == 2.5
    assert await rfos(nats_url, "param", "set", fqn, "speed", "20.0") == 1  # out of range
    assert capsys.readouterr().out.startswith("Setting parameter failed: ")
    assert await rfos(nats_url, "param", "get", fqn, "sped") == 1
    assert "unknown parameter sped; did you mean: speed?" in capsys.readouterr().err
    assert await rfos(nats_url, "param", "describe", fqn, "speed") == 0
    out = capsys.readouterr().out
    assert "Parameter name: speed\n  Type: double\n  Description: max speed in m/s\n" in out
    assert "    Min value: 0.0\n    Max value: 10.0\n" in out
    assert await rfos(nats_url, "param", "get", "/other", "x") == 1
    assert "offers no parameter services" in capsys.readouterr().err


async def test_dump_and_load(node: Node, nats_url: str, capsys: Any, tmp_path: Path) -> None:
    fqn = "/robots/r1/driver"
    assert await rfos(nats_url, "param", "dump", fqn) == 0
    dumped = capsys.readouterr().out
    assert dumped.startswith("/robots/r1/driver:\n  ros__parameters:\n")
    assert "    speed: 1.5\n" in dumped and "    limits:\n      tags:\n      - a\n" in dumped
    path = tmp_path / "p.yaml"
    path.write_text(dumped.replace("speed: 1.5", "speed: 3.0").replace("name: r1", "name: r2"))
    assert await rfos(nats_url, "param", "load", fqn, str(path)) == 0
    assert "Set parameter speed successful" in capsys.readouterr().out
    assert node.get_parameter("speed").value == 3.0
    assert node.get_parameter("name").value == "r2"
    assert await rfos(nats_url, "param", "load", fqn, str(tmp_path / "missing.yaml")) == 1


async def test_dump_then_load_gives_the_same_values(
    node: Node, nats_url: str, capsys: Any, tmp_path: Path
) -> None:
    tricky: dict[str, Any] = {
        "looks.like_bool": "yes",
        "looks.like_int": "1",
        "looks.like_null": "null",
        "empty": "",
        "colon": "a: b # not a comment",
        "long": "x" * 200,
        "unicode": "Zürich",
        "huge": 1e16,
        "tiny": 1e-7,
        "flags": [True, False],
        "blob": b"\x00\xff",
    }
    for name, value in tricky.items():
        node.declare_parameter(name, value)
    fqn = "/robots/r1/driver"
    assert await rfos(nats_url, "param", "dump", fqn) == 0
    path = tmp_path / "dumped.yaml"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    loaded = load_parameter_file(path, fqn)
    assert {name: loaded.get(name) for name in tricky} == tricky
    assert loaded == {name: node.get_parameter(name).value for name in loaded}
