"""``rfos bag``: record live nodes to MCAP, decode it with the third-party mcap_ros2, play it back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from mcap_ros2.writer import Writer as Ros2Writer
from shared_helpers import eventually

import robotfleet_nodes.cli._bag  # noqa: F401 - registers the verb (until main.py imports it)
from robotfleet_nodes.bag._mcap import schema_text
from robotfleet_nodes.cli.main import run_cli
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import Encoding
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

REG = default_registry()
String = REG.get_class("std_msgs/msg/String")
PoseStamped = REG.get_class("geometry_msgs/msg/PoseStamped")
RobotStatus = REG.get_class("robotfleet_nodes/msg/RobotStatus")
RobotError = REG.get_class("robotfleet_nodes/msg/RobotError")
COUNT = 15


class Fleet:
    """Two contexts on one fresh root: one publishing JSON (the default), one CDR."""

    def __init__(self, url: str, root: str) -> None:
        self.url = url
        self.json = Context(
            transport=NatsTransport(url, mapper=SubjectMapper(root=root)), enable_rosout=False
        )
        self.cdr = Context(
            transport=NatsTransport(url, mapper=SubjectMapper(root=root), encoding=Encoding.CDR),
            enable_rosout=False,
        )

    async def start(self) -> None:
        await self.json.start()
        await self.cdr.start()
        talker = Node("talker", context=self.json)
        await talker.start()
        robot = Node("edge", namespace="/robots/robot-1", context=self.json)
        await robot.start()
        camera = Node("camera", context=self.cdr)
        await camera.start()
        self.chatter = await talker.create_publisher(String, "/chatter", 10)
        self.noise = await talker.create_publisher(String, "/noise", 10)
        self.status = await robot.create_publisher(RobotStatus, "status", 10)
        self.pose = await camera.create_publisher(PoseStamped, "/pose", 10)
        self.node = talker

    async def close(self) -> None:
        for context in (self.json, self.cdr):
            await context.close()
            await context.transport.close()


def status(i: int) -> Any:
    return RobotStatus(
        robot_id="robot-1",
        zone_id="zone-1",
        seq=i,
        pose={"x": float(i), "y": -1.5, "theta": 0.25},
        battery_percent=50.0 + i,
        driving=i % 2 == 0,
        state=1,
        errors=[RobotError(code="batteryLow", level=0, description=f"low {i}")] if i % 3 == 0 else [],
    )


def pose(i: int) -> Any:
    return PoseStamped(
        header={"stamp": {"sec": 1000 + i, "nanosec": 7}, "frame_id": "map"},
        pose={"position": {"x": i * 0.5, "y": 2.0, "z": 0.0}, "orientation": {"w": 1.0}},
    )


@pytest.fixture
async def fleet(nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fleet]:
    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    fleet = Fleet(nats_url, unique)
    await fleet.start()
    yield fleet
    await fleet.close()


async def publish_all(fleet: Fleet, spacing: float = 0.01) -> None:
    for i in range(COUNT):
        await fleet.chatter.publish(String(data=f"hello {i}"))
        await fleet.noise.publish(String(data="noise"))
        await fleet.status.publish(status(i))
        await fleet.pose.publish(pose(i))
        await asyncio.sleep(spacing)


async def recording(capsys: Any) -> None:
    """Until ``rfos bag record`` says it is subscribed."""
    seen = ""
    for _ in range(100):
        seen += capsys.readouterr().err
        if "(Ctrl-C to stop)" in seen:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the recorder did not start: {seen!r}")


async def record(
    fleet: Fleet, capsys: Any, out: Path, *extra: str, seconds: float = 1.2, spacing: float = 0.01
) -> str:
    """``rfos bag record`` for ``seconds`` while ``fleet`` publishes COUNT of each; its stderr."""
    task = asyncio.create_task(
        run_cli(["bag", "record", *extra, "-o", str(out), "--max-duration", str(seconds), "--url", fleet.url])
    )
    await recording(capsys)
    await publish_all(fleet, spacing)
    assert await task == 0
    return str(capsys.readouterr().err)


def decoded(path: Path) -> dict[str, list[Any]]:
    """Topic -> messages, decoded by mcap_ros2 (not by our codec)."""
    out: dict[str, list[Any]] = {}
    with path.open("rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        for schema, channel, message, msg in reader.iter_decoded_messages():
            assert schema is not None
            assert schema.encoding == "ros2msg"
            assert channel.message_encoding == "cdr"
            assert message.log_time == message.publish_time > 1_600_000_000 * 10**9
            out.setdefault(channel.topic, []).append(msg)
    return out


async def test_record_decodes_with_mcap_ros2(fleet: Fleet, tmp_path: Path, capsys: Any) -> None:
    bag = tmp_path / "bag"
    err = await record(fleet, capsys, bag, "-a", "-e", "^/noise$")
    path = bag / "bag_0.mcap"
    assert path.is_file()
    topics = decoded(path)
    assert set(topics) == {"/chatter", "/pose", "/robots/robot-1/status"}
    assert [m.data for m in topics["/chatter"]] == [f"hello {i}" for i in range(COUNT)]
    poses = topics["/pose"]  # published as CDR, stored as is
    assert [(p.header.stamp.sec, p.header.stamp.nanosec, p.header.frame_id) for p in poses] == [
        (1000 + i, 7, "map") for i in range(COUNT)
    ]
    assert [p.pose.position.x for p in poses] == [i * 0.5 for i in range(COUNT)]
    assert all(p.pose.orientation.w == 1.0 and p.pose.position.y == 2.0 for p in poses)
    statuses = topics["/robots/robot-1/status"]  # published as JSON, converted to CDR
    assert [s.seq for s in statuses] == list(range(COUNT))
    for i, s in enumerate(statuses):
        assert (s.robot_id, s.zone_id, s.state, s.driving) == ("robot-1", "zone-1", 1, i % 2 == 0)
        assert (s.pose.x, s.pose.y, s.pose.theta) == (float(i), -1.5, 0.25)
        assert s.battery_percent == 50.0 + i
        assert [(e.code, e.level, e.description) for e in s.errors] == (
            [("batteryLow", 0, f"low {i}")] if i % 3 == 0 else []
        )
    assert f"wrote {3 * COUNT} messages on 3 topics" in err
    assert "msg/s" in err

    assert await run_cli(["bag", "info", str(bag)]) == 0
    out = capsys.readouterr().out
    assert f"Messages:          {3 * COUNT}" in out
    assert "Storage id:        mcap" in out
    assert "Topic information: Topic: /chatter " in out
    assert f"| Type: std_msgs/msg/String | Count: {COUNT} |" in out
    assert f"Type: robotfleet_nodes/msg/RobotStatus | Count: {COUNT} | Serialization Format: cdr" in out
    assert f"Type: geometry_msgs/msg/PoseStamped | Count: {COUNT}" in out


async def test_record_named_topics_only(fleet: Fleet, tmp_path: Path, capsys: Any) -> None:
    bag = tmp_path / "named"
    await record(fleet, capsys, bag, "chatter", "/pose", seconds=1.0)
    topics = decoded(bag / "named_0.mcap")
    assert {t: len(m) for t, m in topics.items()} == {"/chatter": COUNT, "/pose": COUNT}


async def test_cancelled_record_still_finalizes_the_file(fleet: Fleet, tmp_path: Path, capsys: Any) -> None:
    bag = tmp_path / "cut"
    task = asyncio.create_task(run_cli(["bag", "record", "-a", "-o", str(bag), "--url", fleet.url]))
    await recording(capsys)
    await publish_all(fleet, 0.0)
    await asyncio.sleep(0.2)
    task.cancel()  # what Ctrl-C does to asyncio.run's main task
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with (bag / "cut_0.mcap").open("rb") as stream:
        summary = make_reader(stream).get_summary()
    assert summary is not None and summary.statistics is not None
    assert summary.statistics.message_count == 4 * COUNT


async def test_info_counts_what_a_cut_off_file_holds(fleet: Fleet, tmp_path: Path, capsys: Any) -> None:
    bag = tmp_path / "whole"
    await record(fleet, capsys, bag, "/chatter", seconds=0.9, spacing=0.0)
    data = (bag / "whole_0.mcap").read_bytes()
    cut = tmp_path / "cut.mcap"
    footer = data[-8 - 29 :]  # opcode, length, summary_start, summary_offset_start, crc; magic
    summary_start = int.from_bytes(footer[9:17], "little")
    cut.write_bytes(data[:summary_start])  # what a killed recorder leaves: no summary, no footer
    assert await run_cli(["bag", "info", str(cut)]) == 0
    out = capsys.readouterr().out
    assert f"Messages:          {COUNT}" in out
    assert "cut off" in out


async def test_record_refuses_an_existing_directory(fleet: Fleet, tmp_path: Path, capsys: Any) -> None:
    code = await run_cli(["bag", "record", "-a", "-o", str(tmp_path), "--url", fleet.url])
    assert code == 1
    assert "already exists" in capsys.readouterr().err


async def listen(fleet: Fleet, topic: str, cls: Any) -> list[tuple[float, Any]]:
    got: list[tuple[float, Any]] = []
    listener = Node("listener", context=fleet.json)
    await listener.start()
    await listener.create_subscription(cls, topic, lambda m: got.append((time.monotonic(), m)), 100)
    return got


def log_offsets(bag: Path, topics: set[str] | None = None) -> dict[str, list[float]]:
    """Topic -> seconds of each message after the first one played (of ``topics``, or all)."""
    stamps: dict[str, list[int]] = {}
    with next(bag.glob("*.mcap")).open("rb") as stream:
        for _, channel, message in make_reader(stream).iter_messages(log_time_order=True):
            if topics is None or channel.topic in topics:
                stamps.setdefault(channel.topic, []).append(message.log_time)
    first = min(times[0] for times in stamps.values())
    return {topic: [(t - first) / 1e9 for t in times] for topic, times in stamps.items()}


def not_ahead(arrivals: list[tuple[float, Any]], offsets: list[float], started: float, rate: float) -> bool:
    """Whether no message arrived before its place in the bag's time line (scaled by ``rate``).

    The player sleeps until each message is due and never runs ahead; a busy machine only
    makes it later, so this floor holds under any load (and catches a player that ignores
    the original spacing or the rate).
    """
    return all(at - started >= due / rate - 0.002 for (at, _), due in zip(arrivals, offsets, strict=True))


async def test_play_republishes_in_order_with_the_original_spacing(
    fleet: Fleet, tmp_path: Path, capsys: Any
) -> None:
    bag = tmp_path / "timed"
    await record(fleet, capsys, bag, "-a", seconds=1.6, spacing=0.05)  # 15 messages each, 50 ms apart
    chatter = await listen(fleet, "/chatter", String)
    statuses = await listen(fleet, "/robots/robot-1/status", RobotStatus)
    poses = await listen(fleet, "/pose", PoseStamped)
    started = time.monotonic()
    assert await run_cli(["bag", "play", str(bag), "--url", fleet.url]) == 0
    await eventually(lambda: len(chatter) == len(statuses) == len(poses) == COUNT, what="all played")
    assert [m.data for _, m in chatter] == [f"hello {i}" for i in range(COUNT)]
    assert [m for _, m in statuses] == [status(i) for i in range(COUNT)]
    assert [m for _, m in poses] == [pose(i) for i in range(COUNT)]
    offsets = log_offsets(bag)
    assert offsets["/chatter"][-1] >= 0.6  # what the floor below is worth: the bag spans 0.7 s
    assert not_ahead(chatter, offsets["/chatter"], started, 1.0)
    assert not_ahead(poses, offsets["/pose"], started, 1.0)

    chatter.clear()
    started = time.monotonic()
    argv = ["bag", "play", str(bag), "--rate", "0.5", "--topics", "/chatter", "--url", fleet.url]
    assert await run_cli(argv) == 0
    await eventually(lambda: len(chatter) == COUNT, what="/chatter played")
    assert [m.data for _, m in chatter] == [f"hello {i}" for i in range(COUNT)]
    assert not_ahead(chatter, log_offsets(bag, {"/chatter"})["/chatter"], started, 0.5)  # twice as slow


async def test_play_loops_until_cancelled(fleet: Fleet, tmp_path: Path, capsys: Any) -> None:
    bag = tmp_path / "loop"
    await record(fleet, capsys, bag, "/chatter", seconds=0.9, spacing=0.0)
    chatter = await listen(fleet, "/chatter", String)
    task = asyncio.create_task(
        run_cli(["bag", "play", str(bag), "--loop", "--rate", "50", "--url", fleet.url])
    )
    await eventually(lambda: len(chatter) >= 2 * COUNT, what="two rounds played")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    data = [m.data for _, m in chatter]
    assert len(data) >= 2 * COUNT
    assert data[: 2 * COUNT] == [f"hello {i}" for i in range(COUNT)] * 2


async def test_play_a_bag_written_by_mcap_ros2(fleet: Fleet, tmp_path: Path, capsys: Any) -> None:
    """Any ROS 2 MCAP file plays, not only ours: here one written by the third-party writer."""
    path = tmp_path / "foreign.mcap"
    with path.open("wb") as stream:
        writer = Ros2Writer(stream)
        schema = writer.register_msgdef(
            "geometry_msgs/msg/PoseStamped", schema_text("geometry_msgs/msg/PoseStamped")
        )
        for i in range(5):
            msg = {
                "header": {"stamp": {"sec": i, "nanosec": 0}, "frame_id": "odom"},
                "pose": {"position": {"x": 1.0, "y": 2.0, "z": float(i)}, "orientation": {"w": 1.0}},
            }
            writer.write_message("/pose", schema, msg, log_time=i * 10_000_000, publish_time=i * 10_000_000)
        writer.finish()
    assert await run_cli(["bag", "info", str(path)]) == 0
    assert "Messages:          5" in capsys.readouterr().out
    poses = await listen(fleet, "/pose", PoseStamped)
    assert await run_cli(["bag", "play", str(path), "--url", fleet.url]) == 0
    await eventually(lambda: len(poses) == 5, what="5 poses played")
    assert [(m.header.frame_id, m.pose.position.z) for _, m in poses] == [
        ("odom", float(i)) for i in range(5)
    ]


def test_schema_text_is_rosbag2s_concatenated_format() -> None:
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    for name in ("geometry_msgs/msg/PoseStamped", "std_msgs/msg/String", "sensor_msgs/msg/Imu"):
        assert schema_text(name).strip() == store.generate_msgdef(name, ros_version=2)[0].strip()
    text = schema_text("robotfleet_nodes/msg/RobotStatus")
    assert "\nMSG: builtin_interfaces/Time\n" in text
    assert "\nMSG: geometry_msgs/Pose2D\n" in text
    assert "\nMSG: robotfleet_nodes/RobotError\n" in text
    assert text.count("=" * 80) == 3


async def test_info_of_a_missing_bag_fails(tmp_path: Path, capsys: Any) -> None:
    assert await run_cli(["bag", "info", str(tmp_path / "nope")]) == 1
    assert "no bag at" in capsys.readouterr().err


async def test_record_is_a_rosbag2_directory_rosbags_reads(fleet: Fleet, tmp_path: Path, capsys: Any) -> None:
    """metadata.yaml next to the .mcap: rosbags' rosbag2.Reader opens the directory itself."""
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    bag = tmp_path / "ros2dir"
    await record(fleet, capsys, bag, "-a", "-e", "^/noise$")
    assert sorted(p.name for p in bag.iterdir()) == ["metadata.yaml", "ros2dir_0.mcap"]
    store = get_typestore(Stores.ROS2_JAZZY)
    topics: dict[str, list[Any]] = {}
    with Reader(bag) as reader:
        assert reader.message_count == 3 * COUNT
        assert reader.duration > 0
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types == {
            "/chatter": "std_msgs/msg/String",
            "/pose": "geometry_msgs/msg/PoseStamped",
            "/robots/robot-1/status": "robotfleet_nodes/msg/RobotStatus",
        }
        for connection in reader.connections:
            assert connection.msgcount == COUNT
            assert connection.digest == REG.type_hash(connection.msgtype)
            if connection.msgtype not in store.types:  # our own type: from the bag's definition
                store.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        for connection, _, data in reader.messages():
            topics.setdefault(connection.topic, []).append(store.deserialize_cdr(data, connection.msgtype))
    assert [m.data for m in topics["/chatter"]] == [f"hello {i}" for i in range(COUNT)]
    assert [(p.header.frame_id, p.pose.position.x) for p in topics["/pose"]] == [
        ("map", i * 0.5) for i in range(COUNT)
    ]
    statuses = topics["/robots/robot-1/status"]
    assert [(s.seq, s.robot_id, s.pose.x, s.battery_percent) for s in statuses] == [
        (i, "robot-1", float(i), 50.0 + i) for i in range(COUNT)
    ]
    assert [[e.description for e in s.errors] for s in statuses] == [
        [f"low {i}"] if i % 3 == 0 else [] for i in range(COUNT)
    ]
    assert await run_cli(["bag", "info", str(bag)]) == 0  # still ours to read, of course
    assert f"Messages:          {3 * COUNT}" in capsys.readouterr().out
