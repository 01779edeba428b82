"""``rfos lifecycle`` against a live managed node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from robotfleet_nodes.cli.main import run_cli
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.node.lifecycle import LifecycleNode, LifecycleState
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper


@pytest.fixture
async def managed(
    nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LifecycleNode]:
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    ctx = Context(transport=transport, enable_rosout=False)
    await ctx.start()
    node = LifecycleNode("camera", context=ctx)
    await node.start()
    await Node("plain", context=ctx).start()
    await asyncio.sleep(0.15)
    yield node
    await ctx.close()
    await transport.close()


async def rfos(nats_url: str, *argv: str) -> int:
    return await run_cli([*argv, "--url", nats_url, "--graph-wait", "0.2"])


async def test_nodes_get_list_set(managed: LifecycleNode, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "lifecycle", "nodes") == 0
    assert capsys.readouterr().out == "/camera\n"
    assert await rfos(nats_url, "lifecycle", "get", "/camera") == 0
    assert capsys.readouterr().out == "unconfigured [1]\n"
    assert await rfos(nats_url, "lifecycle", "list", "/camera") == 0
    out = capsys.readouterr().out
    assert "- configure [1]\n\tStart: unconfigured\n\tGoal: configuring\n" in out
    assert await rfos(nats_url, "lifecycle", "set", "/camera", "configure") == 0
    assert capsys.readouterr().out == "Transitioning successful\n"
    assert managed.current_state is LifecycleState.INACTIVE
    assert await rfos(nats_url, "lifecycle", "set", "/camera", "3") == 0  # activate, by id
    assert managed.current_state.name == "ACTIVE"
    capsys.readouterr()
    assert await rfos(nats_url, "lifecycle", "list", "/camera", "--all") == 0
    assert "- shutdown" in capsys.readouterr().out


async def test_errors(managed: LifecycleNode, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "lifecycle", "set", "/camera", "activate") == 1
    assert "unknown transition 'activate' for /camera" in capsys.readouterr().err
    assert await rfos(nats_url, "lifecycle", "get", "/plain") == 1
    assert "unknown lifecycle node /plain" in capsys.readouterr().err
