"""``rfos topic``: against live nodes on the session's nats-server."""

from __future__ import annotations

import array
import asyncio
import contextlib
import math
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from std_msgs.msg import String  # type: ignore[import-not-found]

from robotfleet_nodes.cli._common import to_yaml
from robotfleet_nodes.cli.main import run_cli
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.node.qos import QOS_SENSOR_DATA
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

RFOS = Path(sys.executable).parent / "rfos"


class Topology:
    """A talker publishing /chatter every 20 ms and a listener recording what it gets."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.received: list[Any] = []
        self.count = 0

    async def start(self) -> None:
        talker = Node("talker", context=self.context)
        await talker.start()
        self.pub = await talker.create_publisher(String, "chatter", 10)
        listener = Node("listener", namespace="/robots/r1", context=self.context)
        await listener.start()
        await listener.create_subscription(String, "/chatter", self.received.append, 10)
        await listener.create_subscription(String, "/sensor", self.received.append, QOS_SENSOR_DATA)
        self.task = asyncio.create_task(self._talk())

    async def _talk(self) -> None:
        while True:
            self.count += 1
            await self.pub.publish(String(data=f"Hello: {self.count}"))
            await asyncio.sleep(0.02)


@pytest.fixture
async def topo(nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Topology]:
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    context = Context(transport=transport, enable_rosout=False)
    await context.start()
    topology = Topology(context)
    await topology.start()
    await asyncio.sleep(0.15)  # announcements
    yield topology
    topology.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await topology.task
    await context.close()
    await transport.close()


async def rfos(nats_url: str, *argv: str) -> int:
    return await run_cli([*argv, "--url", nats_url])


async def test_list_shows_topics_and_types(topo: Topology, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "topic", "list", "-t", "--graph-wait", "0.2") == 0
    out = capsys.readouterr().out.splitlines()
    assert "/chatter [std_msgs/msg/String]" in out
    assert "/sensor [std_msgs/msg/String]" in out
    assert await rfos(nats_url, "topic", "list", "-v", "--graph-wait", "0.2") == 0
    out2 = capsys.readouterr().out
    assert " * /chatter [std_msgs/msg/String] 1 publisher" in out2
    assert "Subscribed topics:" in out2


async def test_info_type_and_find(topo: Topology, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "topic", "info", "/chatter", "--graph-wait", "0.2") == 0
    out = capsys.readouterr().out
    assert "Type: std_msgs/msg/String" in out
    assert "Type hash: RIHS01_df668c74" in out
    assert "Publisher count: 1" in out and "Subscription count: 1" in out
    assert "publisher: /talker (reliable, volatile, depth 10)" in out
    assert await rfos(nats_url, "topic", "info", "sensor", "-v", "--graph-wait", "0.2") == 0
    out = capsys.readouterr().out
    assert "Node namespace: /robots/r1" in out and "reliability: best_effort" in out
    assert await rfos(nats_url, "topic", "type", "/chatter", "--graph-wait", "0.2") == 0
    assert capsys.readouterr().out == "std_msgs/msg/String\n"
    assert await rfos(nats_url, "topic", "find", "std_msgs/String", "--graph-wait", "0.2") == 0
    assert capsys.readouterr().out.split() == ["/chatter", "/sensor"]


async def test_unknown_topic_suggests_close_matches(topo: Topology, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "topic", "info", "/chater", "--graph-wait", "0.2") == 1
    err = capsys.readouterr().err
    assert err.startswith("rfos: unknown topic /chater; did you mean: /chatter")


async def test_echo_once_decodes_from_headers(topo: Topology, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "topic", "echo", "/chatter", "--once", "--graph-wait", "0.2") == 0
    out = capsys.readouterr().out
    assert out.startswith("data: 'Hello: ") and out.endswith("\n---\n")


async def test_echo_field_csv_filter_raw_noarr(topo: Topology, nats_url: str, capsys: Any) -> None:
    args = ["--graph-wait", "0.2"]
    assert await rfos(nats_url, "topic", "echo", "chatter", "--field", "data", "-n", "2", *args) == 0
    lines = capsys.readouterr().out.split("\n---\n")
    assert lines[0].startswith("'Hello: ") and len(lines) == 3
    assert await rfos(nats_url, "topic", "echo", "/chatter", "--csv", "--once", *args) == 0
    assert capsys.readouterr().out.startswith("Hello: ")
    flt = "m.data.endswith('0')"
    assert await rfos(nats_url, "topic", "echo", "/chatter", "--filter", flt, "--once", *args) == 0
    assert capsys.readouterr().out.split("\n")[0].endswith("0'")
    assert await rfos(nats_url, "topic", "echo", "/chatter", "--raw", "--once", *args) == 0
    assert capsys.readouterr().out.startswith('{"data":"Hello: ')
    assert await rfos(nats_url, "topic", "echo", "/chatter", "std_msgs/msg/String", "--once", "--no-arr") == 0
    assert "data:" in capsys.readouterr().out
    assert await rfos(nats_url, "topic", "echo", "/chatter", "--field", "nope", "--once", *args) == 1
    assert "no field 'nope' (fields here: data)" in capsys.readouterr().err


def test_to_yaml_is_ros_style() -> None:
    data = {"a": 1, "b": {"c": [1, 2], "d": []}, "e": [{"x": 1.5, "y": "s"}], "f": "yes", "g": True}
    assert to_yaml(data) == ("a: 1\nb:\n  c:\n  - 1\n  - 2\n  d: []\ne:\n- x: 1.5\n  y: s\nf: 'yes'\ng: true")
    assert to_yaml(data, no_arr=True).splitlines()[2] == "  c: '<sequence length: 2>'"
    assert to_yaml({}) == "{}" and to_yaml([]) == "[]" and to_yaml(3) == "3" and to_yaml("no") == "'no'"
    assert to_yaml({"data": b"\x01\x02"}) == "data:\n- 1\n- 2"
    assert to_yaml({"data": array.array("d", [1.5, -2])}) == "data:\n- 1.5\n- -2.0"
    assert to_yaml({"data": array.array("b", [1, 2])}, no_arr=True) == "data: '<sequence length: 2>'"
    assert to_yaml([1, 2], no_arr=True) == "'<sequence length: 2>'"


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "",
        "1",
        "0x10",
        "1e3",
        "null",
        "~",
        "a: b",
        "#x",
        " lead",
        "trail ",
        "multi\nline",
        "Zürich",
        "x" * 300,
    ],
)
def test_to_yaml_strings_read_back_as_the_same_string(value: str) -> None:
    assert yaml.safe_load(to_yaml({"data": value})) == {"data": value}


def test_to_yaml_numbers_read_back_as_the_same_numbers() -> None:
    data = {"big": 1e16, "small": 1e-7, "inf": float("inf"), "neg": -2.5, "int": -(2**63), "flag": False}
    assert yaml.safe_load(to_yaml(data)) == data
    assert math.isnan(yaml.safe_load(to_yaml({"nan": float("nan")}))["nan"])


async def test_hz_and_bw(topo: Topology, nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "topic", "hz", "/chatter", "--duration", "1.1", "--graph-wait", "0.2") == 0
    out = capsys.readouterr().out
    assert "average rate: " in out and "std dev:" in out
    last = out.split("average rate: ")[-1].split()  # rate min: <s>s max: <s>s std dev: <s>s window: <n>
    rate, low, high, window = float(last[0]), float(last[2][:-1]), float(last[4][:-1]), int(last[9])
    assert 2 <= window <= topo.count  # only what the talker sent
    assert low - 1e-5 <= 1 / rate <= high + 1e-5  # the mean interval's inverse, whatever the load
    assert await rfos(nats_url, "topic", "bw", "/chatter", "--duration", "1.1", "--graph-wait", "0.2") == 0
    out = capsys.readouterr().out
    assert "B/s from" in out and "Message size mean:" in out


def test_hz_report_is_the_inverse_of_the_mean_interval(capsys: Any) -> None:
    from robotfleet_nodes.cli._topic import _report_hz

    _report_hz([10.0, 10.02, 10.04, 10.1])  # intervals 20, 20 and 60 ms: mean 1/30 s
    assert capsys.readouterr().out == (
        "average rate: 30.000\n\tmin: 0.020000s max: 0.060000s std dev: 0.018856s window: 4\n"
    )
    _report_hz([10.0])
    assert capsys.readouterr().out == "no new messages\n"


async def test_pub_once_reaches_the_subscriber(topo: Topology, nats_url: str, capsys: Any) -> None:
    assert (
        await rfos(nats_url, "topic", "pub", "/sensor", "std_msgs/String", "{data: from-cli}", "--once") == 0
    )
    for _ in range(100):
        if any(m.data == "from-cli" for m in topo.received):
            break
        await asyncio.sleep(0.02)
    assert any(m.data == "from-cli" for m in topo.received)
    assert "publishing #1: std_msgs/msg/String" in capsys.readouterr().out


async def test_pub_times_and_rate(topo: Topology, nats_url: str, capsys: Any) -> None:
    argv = ["topic", "pub", "/x", "std_msgs/msg/String", "data: x", "-t", "3", "-r", "50", "-q"]
    assert await rfos(nats_url, *argv) == 0
    assert capsys.readouterr().out == ""


async def test_pub_bad_yaml_names_the_field(nats_url: str, capsys: Any) -> None:
    assert await rfos(nats_url, "topic", "pub", "/x", "std_msgs/msg/String", "{dta: 1}", "--once") == 1
    assert "field dta: Extra inputs are not permitted" in capsys.readouterr().err
    assert await rfos(nats_url, "topic", "pub", "/x", "std_msgs/msg/String", "{data: [", "--once") == 1
    assert "not valid YAML" in capsys.readouterr().err
    assert await rfos(nats_url, "topic", "pub", "/x", "geometry_msgs/Point", "{x: abc}", "--once") == 1
    assert "field x:" in capsys.readouterr().err


async def test_no_broker_says_how_to_start_one(capsys: Any) -> None:
    assert await run_cli(["topic", "list"]) == 1
    err = capsys.readouterr().err
    assert "no broker" in err and "rfos broker" in err and "MESSAGING_URL" in err
    assert await run_cli(["topic", "list", "--url", "nats://127.0.0.1:1"]) == 1
    assert "no broker at nats://127.0.0.1:1" in capsys.readouterr().err


def test_help_has_examples_and_usage_errors_exit_2(capsys: Any) -> None:
    from robotfleet_nodes.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["topic", "echo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--url" in out
    with pytest.raises(SystemExit) as exc:
        main(["topic", "hz"])
    assert exc.value.code == 2


async def test_echo_ctrl_c_exits_130_without_traceback(topo: Topology, nats_url: str, unique: str) -> None:
    env = {**os.environ, "RFOS_SUBJECT_ROOT": unique, "MESSAGING_URL": nats_url}
    proc = await asyncio.create_subprocess_exec(
        str(RFOS), "topic", "echo", "/chatter", "std_msgs/msg/String",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert first.startswith(b"data: ")
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 130
    assert b"Traceback" not in err


async def _echo_while_publishing(argv: list[str], publish: Any) -> int:
    task = asyncio.create_task(run_cli(argv))
    for _ in range(200):
        if task.done():
            break
        await publish()
        await asyncio.sleep(0.02)
    return await asyncio.wait_for(task, 5)


async def test_echo_decodes_cdr_and_headerless_json(
    topo: Topology, nats_url: str, unique: str, capsys: Any
) -> None:
    from geometry_msgs.msg import Point  # type: ignore[import-not-found]

    from robotfleet_nodes.idl.codec import Encoding

    cdr = NatsTransport(nats_url, mapper=SubjectMapper(root=unique), encoding=Encoding.CDR)
    async with Context(transport=cdr, enable_rosout=False) as context:
        node = Node("cdr_talker", context=context)
        await node.start()
        pub = await node.create_publisher(Point, "/cdr", 10)
        await asyncio.sleep(0.15)

        async def send_point() -> None:
            await pub.publish(Point(x=1.5, y=-2.0, z=0.0))

        argv = ["topic", "echo", "/cdr", "--once", "--url", nats_url, "--graph-wait", "0.2"]
        assert await _echo_while_publishing(argv, send_point) == 0
        assert capsys.readouterr().out == "x: 1.5\ny: -2.0\nz: 0.0\n---\n"

        async def send_plain() -> None:  # like `nats pub`: no headers at all
            await cdr.client.publish(f"{unique}.0.t.plain", b'{"data": "no headers"}')

        argv = ["topic", "echo", "/plain", "std_msgs/msg/String", "--once", "--url", nats_url]
        assert await _echo_while_publishing(argv, send_plain) == 0
        assert capsys.readouterr().out == "data: no headers\n---\n"
    await cdr.close()


async def test_numeric_arrays_go_in_as_yaml_lists_and_echo_as_lists(
    nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from std_msgs.msg import Float32MultiArray  # type: ignore[import-not-found]

    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    context = Context(transport=transport, enable_rosout=False)
    await context.start()
    got: asyncio.Queue[Any] = asyncio.Queue()
    node = Node("arrays", context=context)
    await node.start()
    await node.create_subscription(Float32MultiArray, "/in", got.put_nowait, 10)
    pub = await node.create_publisher(Float32MultiArray, "/out", 10)

    async def talk() -> None:
        while True:
            await pub.publish(Float32MultiArray(data=[0.5, -2, 3.25]))
            await asyncio.sleep(0.02)

    task = asyncio.create_task(talk())
    try:
        argv = ["topic", "pub", "/in", "std_msgs/msg/Float32MultiArray", "{data: [1.5, -2, 4]}", "--once"]
        assert await rfos(nats_url, *argv) == 0
        received = await asyncio.wait_for(got.get(), 5.0)
        assert received.data.typecode == "f" and received.data.tolist() == [1.5, -2.0, 4.0]
        assert '"data": [1.5, -2.0, 4.0]' in capsys.readouterr().out  # "publishing #1: ..." line
        echo = ["topic", "echo", "/out", "std_msgs/msg/Float32MultiArray", "--once"]  # no graph wait
        assert await rfos(nats_url, *echo) == 0
        assert "data:\n- 0.5\n- -2.0\n- 3.25\n---\n" in capsys.readouterr().out
        assert await rfos(nats_url, *echo, "--field", "data.1") == 0
        assert capsys.readouterr().out == "-2.0\n---\n"
        assert await rfos(nats_url, *echo, "--csv") == 0
        assert capsys.readouterr().out.endswith(",0.5,-2.0,3.25\n")
        assert await rfos(nats_url, *echo, "--no-arr") == 0
        assert "data: '<sequence length: 3>'" in capsys.readouterr().out
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await context.close()
        await transport.close()
