"""Real ROS 2 against our DDS transport, both ways, for ``std_msgs/String`` and sensor types.

The other side is real rclpy 9.1.2 on Fast DDS (rmw_fastrtps_cpp) from the oracle venv
(``.venv-ros2``), run as ``tests/transport/programs/ros2_{talker,listener}.py`` with
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``; ours is a core :class:`Node` in this process
whose :class:`Context` picks the DDS transport from ``RFOS_TRANSPORT=dds`` on the loopback
Cyclone configuration (``conftest._dds_on_loopback``). Nothing leaves 127.0.0.1.

Each test uses a random ``ROS_DOMAIN_ID`` in 150..229 and a topic name of its own (tests of
other sessions may share the domain; they never share the topic). Both sides are reliable and
volatile with a depth above the message count, so once the two sides have matched nothing may
be lost: the talker publishes a warm-up message until the listener has one (both sides then
know each other), then every counted message once. The listener counts and checks them: all
of them, once each, in order, every field equal to what was sent.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import math
import os
import random
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import JsonLinesPeer

from tests.ros2_oracle import oracle

pytest.importorskip("cyclonedds")

from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport.dds import DdsTransport
from robotfleet_nodes.transport.intra import IntraProcessTransport

PROGRAMS = Path(__file__).with_name("programs")
COUNT = 50
DEPTH = 64  # > COUNT: a reliable KEEP_LAST history never replaces an unacknowledged sample
DISCOVERY = 30.0  # generous: discovery between two DDS vendors on a loaded machine
DELIVERY = 30.0


# -- the messages: values that catch byte-order, alignment and length errors ---------------
def _header(i: int) -> dict[str, Any]:
    return {
        # negative seconds and nanoseconds above 2**31: a sign or byte-order slip shows
        "stamp": {"sec": 1_700_000_000 + i if i % 2 else -2_000_000_000 - i, "nanosec": 0xFFFF_FFF0 - i},
        "frame_id": "frame_" + "ä" * (i % 2) + "f" * (i % 3),  # odd and even byte lengths
    }


def _string(i: int) -> dict[str, Any]:
    return {"data": f"interop {i} " + "ü" * (i % 4) + "x" * (i % 3)}


def _point_cloud(i: int) -> dict[str, Any]:
    fields = [
        {"name": "x", "offset": 0, "datatype": 7, "count": 1},
        {"name": "yy_odd", "offset": 4, "datatype": 7, "count": 1},
        {"name": "intensity" + "s" * (i % 2), "offset": 8, "datatype": 2, "count": 5},
    ]
    return {
        "header": _header(i),
        "height": 1,
        "width": 3,
        "fields": fields,
        "is_bigendian": bool(i % 2),
        "point_step": 13,
        "row_step": 39 + i,
        "data": [(7 * i + k) % 256 for k in range(39 + i % 3)],  # odd lengths before the bool
        "is_dense": i % 3 == 0,
    }


def _joint_state(i: int) -> dict[str, Any]:
    return {
        "header": _header(i),
        "name": ["j1", "joint_two", "ü3" + "q" * (i % 2)],
        "position": [math.pi * i, -2.5e-300, 1.7976931348623157e308],
        "velocity": [i / 3, -0.0 if i % 2 else 5e-324],  # a subnormal, exactly
        "effort": [],
    }


def _imu(i: int) -> dict[str, Any]:
    return {
        "header": _header(i),
        "orientation": {"x": 0.5 + i, "y": -0.25, "z": 1e-310, "w": math.e},
        "orientation_covariance": [i + k / 7 for k in range(9)],
        "angular_velocity": {"x": -1.0 / 3, "y": 2.0**60, "z": -(2.0**-60)},
        "angular_velocity_covariance": [-k * 1.1 for k in range(9)],
        "linear_acceleration": {"x": 9.81, "y": -i / 11, "z": 123456789.123},
        "linear_acceleration_covariance": [1e-9 * k for k in range(9)],
    }


CASES: dict[str, Callable[[int], dict[str, Any]]] = {
    "std_msgs/msg/String": _string,
    "sensor_msgs/msg/PointCloud2": _point_cloud,
    "sensor_msgs/msg/JointState": _joint_state,
    "sensor_msgs/msg/Imu": _imu,
}


def _values(type_name: str) -> dict[str, Any]:
    make = CASES[type_name]
    warmup = make(COUNT + 1000)
    if type_name == "std_msgs/msg/String":
        warmup = {"data": "warm-up"}
    return {"warmup": warmup, "messages": [make(i) for i in range(COUNT)], "depth": DEPTH}


def _plain(value: Any) -> Any:
    """Our message's ``model_dump()`` as the JSON values the real programs print."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, array.array):  # numeric sequences, as real rclpy stores them
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# -- the two sides -------------------------------------------------------------------------
@pytest.fixture
def domain(monkeypatch: pytest.MonkeyPatch) -> int:
    """A fresh ROS domain; our contexts take the DDS transport on it."""
    chosen = random.randint(150, 229)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(chosen))
    monkeypatch.setenv("RFOS_TRANSPORT", "dds")
    return chosen


@pytest.fixture
def topic() -> str:
    return f"/interop_{uuid.uuid4().hex[:12]}/data"


@pytest.fixture
async def ours(domain: int) -> AsyncIterator[Node]:
    """A core node whose context chose the DDS transport from the environment."""
    async with Context() as ctx:
        transport = ctx.transport
        assert isinstance(transport, IntraProcessTransport) and isinstance(transport.inner, DdsTransport)
        assert transport.inner.domain_id == domain
        node = Node("rfos_interop", context=ctx)
        await node.start()
        yield node


@contextlib.asynccontextmanager
async def _real(program: str, domain: int, *args: str, log: Path) -> AsyncIterator[JsonLinesPeer]:
    """Run a program under real rclpy (the oracle) on loopback DDS; stop it on exit."""
    python = oracle().python
    drop = ("PYTHONPATH", "RFOS_ROS2", "RFOS_TRANSPORT", "CYCLONEDDS_URI", "RMW_IMPLEMENTATION")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID=str(domain))
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(python),
            str(PROGRAMS / program),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
    peer = JsonLinesPeer(process)
    try:
        yield peer
    finally:
        await peer.stop()


def _write_values(tmp_path: Path, type_name: str) -> tuple[dict[str, Any], Path]:
    values = _values(type_name)
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values), encoding="utf-8")
    return values, path


async def _wait(event: asyncio.Event, timeout: float, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


@pytest.mark.parametrize("type_name", list(CASES))
async def test_real_rclpy_talker_to_our_dds_listener(
    ours: Node, domain: int, topic: str, type_name: str, tmp_path: Path
) -> None:
    values, path = _write_values(tmp_path, type_name)
    cls: Any = default_registry().get_class(type_name)
    warmed, done = asyncio.Event(), asyncio.Event()
    got: list[Any] = []

    def on_message(msg: Any) -> None:
        plain = _plain(msg.model_dump())
        if plain == values["warmup"]:
            warmed.set()
            return
        got.append(plain)
        if len(got) >= COUNT:
            done.set()

    await ours.create_subscription(cls, topic, on_message, QoSProfile(depth=DEPTH))
    log = tmp_path / "talker.log"
    async with _real("ros2_talker.py", domain, type_name, topic, str(path), log=log) as talker:
        await _wait(warmed, DISCOVERY, f"the real talker's warm-up on {topic} ({log.read_text()})")
        assert talker.process.stdin is not None
        talker.process.stdin.write(b"go\n")
        await talker.process.stdin.drain()
        sent = await talker.wait_for(lambda e: e["event"] == "sent", DELIVERY)
        with contextlib.suppress(AssertionError):
            await _wait(done, DELIVERY, "every message")
    assert sent["count"] == COUNT and sent["matched"] >= 1, sent
    assert len(got) == COUNT, f"{len(got)} of {COUNT} arrived"
    for i, (received, expected) in enumerate(zip(got, values["messages"], strict=True)):
        assert received == expected, f"message {i}"


@pytest.mark.parametrize("type_name", list(CASES))
async def test_our_dds_talker_to_real_rclpy_listener(
    ours: Node, domain: int, topic: str, type_name: str, tmp_path: Path
) -> None:
    values, path = _write_values(tmp_path, type_name)
    cls: Any = default_registry().get_class(type_name)
    publisher = await ours.create_publisher(cls, topic, QoSProfile(depth=DEPTH))
    warmup = cls.model_validate(values["warmup"])
    messages = [cls.model_validate(item) for item in values["messages"]]

    async def warm_up() -> None:
        while True:  # paced, until the listener says it has one
            await publisher.publish(warmup)
            await asyncio.sleep(0.1)

    log = tmp_path / "listener.log"
    async with _real("ros2_listener.py", domain, type_name, topic, str(path), log=log) as listener:
        task = asyncio.create_task(warm_up())
        try:
            await listener.wait_for(lambda e: e["event"] == "ready", DISCOVERY)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for msg in messages:
            await publisher.publish(msg)
        with contextlib.suppress(AssertionError):
            await listener.wait_for(lambda e: e["event"] == "done", DELIVERY)
    got = [event["msg"] for event in listener.events if event["event"] == "message"]
    assert len(got) == COUNT, f"{len(got)} of {COUNT} arrived ({log.read_text()})"
    for i, (received, expected) in enumerate(zip(got, values["messages"], strict=True)):
        assert received == expected, f"message {i}"
