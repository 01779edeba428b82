"""``rfos`` on a robot's DDS bus (``--transport dds`` / ``RFOS_TRANSPORT=dds``), no broker.

The other side is real rclpy on Fast DDS (the oracle venv ``.venv-ros2``), running
``tests/transport/programs/ros2_talker.py`` with ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``
(it publishes its warm-up message every 0.1 s until told ``go``, which these tests never say),
and our own core nodes on the DDS transport. Our DDS side uses the loopback Cyclone
configuration (``LOOPBACK_CONFIG`` as ``CYCLONEDDS_URI``): nothing leaves 127.0.0.1. Each test
takes a random ``ROS_DOMAIN_ID`` in 150..229 and a topic of its own. Discovery takes its time
(a Fast DDS participant's node names reach Cyclone on a 3 s heartbeat), so graph views are
polled until they show what is expected, with a deadline; nothing asserts on elapsed time.

No request is ever sent to a Fast DDS server (ROS 2 has no cross-vendor service calls,
ros2/rmw_cyclonedds#184): the service call goes to one of our DDS services, and the CLI
refusing a Fast DDS server is checked before any request exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import JsonLinesPeer

from tests.ros2_oracle import oracle

pytest.importorskip("cyclonedds")

from robotfleet_nodes.cli.main import run_cli
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport.dds import LOOPBACK_CONFIG

RFOS = Path(sys.executable).parent / "rfos"
PROGRAMS = Path(__file__).resolve().parent.parent / "transport" / "programs"
DISCOVERY = 40.0  # generous: discovery between two DDS vendors on a loaded machine
String: Any = default_registry().get_class("std_msgs/msg/String")
AddTwoInts: Any = default_registry().get_interface("example_interfaces/srv/AddTwoInts")


@pytest.fixture
def domain(monkeypatch: pytest.MonkeyPatch) -> int:
    """A fresh ROS domain on loopback; the CLI and our contexts take DDS from the environment."""
    chosen = random.randint(150, 229)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(chosen))
    monkeypatch.setenv("RFOS_TRANSPORT", "dds")
    monkeypatch.setenv("CYCLONEDDS_URI", LOOPBACK_CONFIG)
    monkeypatch.delenv("MESSAGING_URL", raising=False)
    return chosen


@pytest.fixture
def topic() -> str:
    return f"/cli_dds_{uuid.uuid4().hex[:12]}/chatter"


@contextlib.asynccontextmanager
async def real_talker(
    domain: int,
    topic: str,
    text: str,
    tmp_path: Path,
    *,
    type_name: str = "std_msgs/msg/String",
    message: dict[str, Any] | None = None,
) -> AsyncIterator[JsonLinesPeer]:
    """A real rclpy talker publishing ``{data: text}`` (or ``message``) on ``topic`` every 0.1 s."""
    values = tmp_path / "values.json"
    warmup = {"data": text} if message is None else message
    values.write_text(json.dumps({"warmup": warmup, "messages": [], "depth": 10}), "utf-8")
    drop = ("PYTHONPATH", "RFOS_ROS2", "RFOS_TRANSPORT", "CYCLONEDDS_URI", "RMW_IMPLEMENTATION")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID=str(domain))
    with (tmp_path / "talker.log").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(oracle().python),
            str(PROGRAMS / "ros2_talker.py"),
            type_name,
            topic,
            str(values),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
    peer = JsonLinesPeer(process)
    try:
        await peer.wait_for(lambda e: e["event"] == "started", DISCOVERY)
        yield peer
    finally:
        await peer.stop()


@pytest.fixture
async def ours(domain: int) -> AsyncIterator[Node]:
    """One of our core nodes on the DDS transport (chosen from RFOS_TRANSPORT)."""
    async with Context(enable_rosout=False) as ctx:
        node = Node(f"rfos_cli_dds_{uuid.uuid4().hex[:6]}", context=ctx)
        await node.start()
        yield node


async def rfos(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``rfos ARGV`` in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = await run_cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def rfos_until(capsys: pytest.CaptureFixture[str], check: Callable[[str], bool], *argv: str) -> str:
    """Run ``rfos ARGV`` until ``check(stdout)`` (graph views fill in as discovery proceeds)."""
    deadline = time.monotonic() + DISCOVERY
    last: tuple[int, str, str] = (0, "", "")
    while time.monotonic() < deadline:
        last = await rfos(capsys, *argv)
        if last[0] == 0 and check(last[1]):
            return last[1]
    raise AssertionError(f"rfos {' '.join(argv)}: never as expected; last: {last!r}")


# -- the acceptance: `RFOS_TRANSPORT=dds rfos topic echo /chatter --once` ---------------------
async def test_echo_once_prints_a_message_of_a_real_rclpy_talker(
    domain: int, topic: str, tmp_path: Path
) -> None:
    text = f"hello from rclpy {uuid.uuid4().hex[:8]}"
    async with real_talker(domain, topic, text, tmp_path):
        process = await asyncio.create_subprocess_exec(
            str(RFOS),
            "topic",
            "echo",
            topic,
            "--once",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), DISCOVERY)
    assert process.returncode == 0, err.decode()
    assert out.decode() == f"data: {text}\n---\n"
    assert err.decode() == ""


async def test_echo_of_a_nested_type_from_rclpy_keeps_stderr_clean(
    domain: int, topic: str, tmp_path: Path
) -> None:
    """Fast DDS announces XTypes type objects Cyclone rejects for nested types, printing
    ``ddsi_xt_type_init_impl with invalid type object`` and matching nothing; the Fast DDS
    compatibility setting every domain of ours gets keeps both away (measured without it:
    six such lines on stderr and no message)."""
    joints = {
        "header": {"stamp": {"sec": 7, "nanosec": 8}, "frame_id": "base"},
        "name": ["j1", "j2"],
        "position": [1.5, -2.5],
        "velocity": [],
        "effort": [],
    }
    async with real_talker(
        domain, topic, "", tmp_path, type_name="sensor_msgs/msg/JointState", message=joints
    ):
        process = await asyncio.create_subprocess_exec(
            str(RFOS),
            "topic",
            "echo",
            topic,
            "--once",
            "--field",
            "name",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), DISCOVERY)
    assert process.returncode == 0, err.decode()
    assert out.decode() == "- j1\n- j2\n---\n"
    assert "ddsi_xt" not in err.decode()
    assert err.decode() == ""


async def test_topic_and_node_list_show_a_real_rclpy_node(
    domain: int, topic: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with real_talker(domain, topic, "listed", tmp_path):
        out = await rfos_until(capsys, lambda o: topic in o, "topic", "list", "-t")
        assert f"{topic} [std_msgs/msg/String]" in out.splitlines()
        out = await rfos_until(capsys, lambda o: "/interop_talker" in o, "node", "list")
        assert "/interop_talker" in out.splitlines()
        assert "_NODE_NAME_UNKNOWN_" not in out  # hidden, as in ROS 2
        code, out, err = await rfos(capsys, "node", "info", "/interop_talker")
        assert code == 0, err
        assert f"    {topic}: std_msgs/msg/String" in out  # a publisher of the node


async def test_topic_info_counts_a_real_and_our_publisher(
    domain: int, topic: str, tmp_path: Path, ours: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    await ours.create_publisher(String, topic, 10)
    async with real_talker(domain, topic, "counted", tmp_path):
        out = await rfos_until(capsys, lambda o: "Publisher count: 2" in o, "topic", "info", topic)
    assert "Type: std_msgs/msg/String" in out
    assert "Subscription count: 0" in out
    assert f"publisher: {ours.get_fully_qualified_name()}" in out
    assert "publisher: /interop_talker" in out


async def test_topic_hz_counts_the_messages_of_a_real_talker(
    domain: int, topic: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with real_talker(domain, topic, "measured", tmp_path):
        await rfos_until(capsys, lambda o: topic in o, "topic", "list")
        code, out, err = await rfos(capsys, "topic", "hz", topic, "--duration", "3")
    assert code == 0, err
    windows = [int(w) for w in re.findall(r"window: (\d+)", out)]
    assert windows and max(windows) >= 2, out  # rates were computed from received messages


async def test_service_call_on_our_dds_service(
    domain: int, ours: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"/cli_dds_{uuid.uuid4().hex[:8]}/add"
    await ours.create_service(AddTwoInts, name, lambda r: AddTwoInts.Response(sum=r.a + r.b))
    code, out, err = await rfos(
        capsys,
        "service",
        "call",
        name,
        "example_interfaces/srv/AddTwoInts",
        "{a: 40, b: 2}",
        "--timeout",
        "30",
    )
    assert code == 0, err
    assert out.rstrip().endswith("response:\nsum: 42"), out


async def test_service_call_refuses_a_fast_dds_server(
    domain: int, topic: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with real_talker(domain, topic, "served", tmp_path):
        await rfos_until(capsys, lambda o: "/interop_talker" in o, "node", "list")
        code, out, err = await rfos(
            capsys, "service", "call", "/interop_talker/list_parameters", "rcl_interfaces/srv/ListParameters"
        )
    assert code == 1
    assert "rmw_cyclonedds#184" in err and "requester:" not in out


async def test_a_nats_only_verb_on_dds_names_transport_nats(
    domain: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await rfos(capsys, "param", "list")
    assert code == 1
    assert "not available on DDS" in err and "--transport nats" in err
    code, _, err = await rfos(capsys, "topic", "pub", "/x", "std_msgs/msg/String", "{}", "--transport", "dds")
    assert code == 1 and "--transport nats" in err
