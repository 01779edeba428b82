"""The README's examples, run as separate processes against the test broker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

TIMEOUT = 20.0


def _env(nats_url: str, unique: str) -> dict[str, str]:
    return {**os.environ, "MESSAGING_URL": nats_url, "RFOS_SUBJECT_ROOT": unique, "PYTHONUNBUFFERED": "1"}


@asynccontextmanager
async def _example(env: dict[str, str], *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _wait_for_line(stream: asyncio.StreamReader | None, needle: str) -> str:
    assert stream is not None
    async with asyncio.timeout(TIMEOUT):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"stream ended before {needle!r}")
            if needle in line:
                return line


async def test_talker_and_listener_in_two_processes(nats_url: str, unique: str) -> None:
    env = _env(nats_url, unique)
    async with (
        _example(env, "robotfleet_nodes.examples.listener") as listener,
        _example(env, "robotfleet_nodes.examples.talker") as talker,
    ):
        line = await _wait_for_line(listener.stderr, 'I heard: "Hello World:')
        assert "listener" in line
        talker.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(talker.wait(), TIMEOUT) == 0, "Ctrl-C ends the talker cleanly"
        listener.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(listener.wait(), TIMEOUT) == 0


async def test_service_example(nats_url: str, unique: str) -> None:
    env = _env(nats_url, unique)
    async with _example(env, "robotfleet_nodes.examples.add_two_ints_server"):
        client = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "robotfleet_nodes.examples.add_two_ints_client",
            "40",
            "2",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(client.communicate(), TIMEOUT)
        assert client.returncode == 0, err.decode()
        assert out.decode().strip() == "42"


async def test_action_example(nats_url: str, unique: str) -> None:
    env = _env(nats_url, unique)
    async with _example(env, "robotfleet_nodes.examples.fibonacci", "server"):
        client = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "robotfleet_nodes.examples.fibonacci",
            "client",
            "6",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(client.communicate(), TIMEOUT)
        assert client.returncode == 0, err.decode()
        assert out.decode().strip() == "[0, 1, 1, 2, 3, 5, 8]"
        assert "Feedback:" in err.decode()
