"""``rclpy.qos``, ``rclpy.logging``, ``rclpy.impl`` and ``rclpy.utilities`` with rclpy 9.1.2's names.

What ROS 2's demos use (demos' talker_qos/listener_qos, topic_monitor, use_logger_service):
the ``QoS*Policy`` names, a mutable ``QoSProfile`` taking Durations, logger levels shared by
name, ``once``/``skip_first``/``throttle_duration_sec`` filters, ``remove_ros_args``.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from typing import Any

import pytest

from tests.ros2_oracle import oracle


def _name() -> str:
    return "log" + uuid.uuid4().hex[:8]


class _Duration:
    """Stands for ``rclpy.duration.Duration``: anything with ``nanoseconds``."""

    def __init__(self, nanoseconds: int) -> None:
        self.nanoseconds = nanoseconds


def test_policy_names_and_profiles_as_the_demos_use_them() -> None:
    from rclpy.qos import (
        HistoryPolicy,
        QoSDurabilityPolicy,
        QoSHistoryPolicy,
        QoSLivelinessPolicy,
        QoSProfile,
        QoSReliabilityPolicy,
        ReliabilityPolicy,
        qos_profile_sensor_data,
        qos_profile_system_default,
    )

    from robotfleet_nodes.qos import QoSProfile as CoreProfile

    assert QoSReliabilityPolicy is ReliabilityPolicy and QoSHistoryPolicy is HistoryPolicy
    profile = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
    assert isinstance(profile, CoreProfile)  # entities take it as it is
    assert profile.reliability is QoSReliabilityPolicy.RELIABLE
    # topic_monitor / data_publisher change policies after construction
    profile.reliability = QoSReliabilityPolicy.BEST_EFFORT
    profile.history = QoSHistoryPolicy.KEEP_ALL
    profile.durability = QoSDurabilityPolicy.TRANSIENT_LOCAL
    profile.liveliness = QoSLivelinessPolicy.MANUAL_BY_TOPIC
    profile.depth = 3
    assert (profile.reliability, profile.history, profile.depth) == (
        ReliabilityPolicy.BEST_EFFORT,
        HistoryPolicy.KEEP_ALL,
        3,
    )
    assert (
        qos_profile_sensor_data.reliability is ReliabilityPolicy.BEST_EFFORT
        and qos_profile_sensor_data.depth == 5
    )
    assert isinstance(qos_profile_system_default, QoSProfile)


def test_profile_takes_rclpy_numbers_and_durations_and_checks_like_rclpy() -> None:
    from rclpy.qos import InvalidQoSProfileException, QoSProfile, ReliabilityPolicy

    profile = QoSProfile(depth=1, reliability=2, deadline=_Duration(1_500_000_000), lifespan=_Duration(0))
    assert profile.reliability is ReliabilityPolicy.BEST_EFFORT
    assert profile.deadline == 1.5 and profile.lifespan is None  # 0: not set, as in rclpy
    profile.liveliness_lease_duration = _Duration(2_000_000_000)
    assert profile.liveliness_lease_duration == 2.0
    with pytest.raises(InvalidQoSProfileException, match="History and/or depth"):
        QoSProfile()
    with pytest.raises(InvalidQoSProfileException, match="not a Reliability policy"):
        profile.reliability = 7
    with pytest.raises(ValueError, match="depth must be >= 1"):
        profile.depth = 0
    assert profile.depth == 1  # a refused change leaves the profile as it was
    with pytest.raises(AttributeError, match="no policy 'deph'"):
        profile.deph = 3  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="unhashable"):
        hash(profile)


def test_presets_policy_kinds_and_compatibility() -> None:
    from rclpy.qos import (
        QoSCompatibility,
        QoSPolicyKind,
        QoSPresetProfiles,
        QoSProfile,
        qos_check_compatible,
        qos_policy_name_from_kind,
        qos_profile_sensor_data,
    )

    assert "services_default" in QoSPresetProfiles.short_keys()
    assert QoSPresetProfiles.get_from_short_key("SENSOR_DATA") is qos_profile_sensor_data
    assert qos_policy_name_from_kind(QoSPolicyKind.RELIABILITY) == "RELIABILITY_QOS_POLICY"
    assert int(QoSPolicyKind.DEADLINE) == 4
    assert qos_check_compatible(QoSProfile(depth=1), QoSProfile(depth=1)) == (QoSCompatibility.OK, "")
    verdict, reason = qos_check_compatible(qos_profile_sensor_data, QoSProfile(depth=1))
    assert verdict is QoSCompatibility.ERROR and "BEST_EFFORT" in reason


def test_a_mutated_profile_carries_messages(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import rclpy
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from std_msgs.msg import String

    monkeypatch.setenv("MESSAGING_URL", nats_url)
    topic = "qos_" + uuid.uuid4().hex[:8]
    with rclpy.init():
        node = rclpy.create_node("qos_profile_user")
        profile = QoSProfile(depth=10)
        profile.reliability = QoSReliabilityPolicy.BEST_EFFORT
        heard: list[str] = []
        node.create_subscription(String, topic, lambda msg: heard.append(msg.data), profile)
        publisher = node.create_publisher(String, topic, profile)
        msg = String()
        for attempt in range(50):
            msg.data = f"hello {attempt}"
            publisher.publish(msg)
            rclpy.spin_once(node, timeout_sec=0.1)
            if heard:
                break
        node.destroy_node()
    assert heard and heard[0].startswith("hello ")


def test_message_lost_reports_the_transports_total(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A KEEP_ALL subscription's ``message_lost`` callback hears each total the transport reports
    through the core subscription's ``on_message_lost`` (the NATS transport calls it when the
    bounded queue drops: tests/transport/test_slow_subscription.py), with rclpy's change."""
    import rclpy
    from rclpy.event_handler import SubscriptionEventCallbacks
    from rclpy.qos import QoSHistoryPolicy, QoSProfile
    from std_msgs.msg import String

    monkeypatch.setenv("MESSAGING_URL", nats_url)
    lost: list[tuple[int, int]] = []
    with rclpy.init():
        node = rclpy.create_node("message_lost_listener")
        sub = node.create_subscription(
            String,
            "lost_" + uuid.uuid4().hex[:8],
            lambda msg: None,
            QoSProfile(history=QoSHistoryPolicy.KEEP_ALL, depth=1),
            event_callbacks=SubscriptionEventCallbacks(
                message_lost=lambda info: lost.append((info.total_count, info.total_count_change))
            ),
        )
        report = sub._core.on_message_lost
        assert report is not None
        for total, events in ((3, 1), (5, 2)):
            report(total)
            for _ in range(50):
                rclpy.spin_once(node, timeout_sec=0.1)
                if len(lost) == events:
                    break
        node.destroy_node()
    assert lost == [(3, 3), (5, 2)]


def test_levels_belong_to_names_and_are_inherited(capsys: pytest.CaptureFixture[str]) -> None:
    from rclpy.impl.logging_severity import LoggingSeverity
    from rclpy.impl.rcutils_logger import RcutilsLogger
    from rclpy.logging import (
        get_logger,
        get_logger_effective_level,
        get_logger_level,
        get_logging_severity_from_string,
        set_logger_level,
    )

    name = _name()
    logger = get_logger(name)
    assert isinstance(logger, RcutilsLogger)
    assert logger.debug("hidden") is False
    assert get_logger_level(name) is LoggingSeverity.UNSET
    get_logger(name).set_level(LoggingSeverity.DEBUG)  # another object, the same name
    assert logger.debug("shown") is True
    assert get_logger_effective_level(f"{name}.child") is LoggingSeverity.DEBUG
    set_logger_level(f"{name}.child", get_logging_severity_from_string("warning"))
    child = logger.get_child("child")
    assert child.info("quiet") is False and child.warn("loud") is True
    assert child.fatal("fatal") is True
    err = capsys.readouterr().err
    assert "[DEBUG] [" in err and f"[{name}]: shown" in err and "hidden" not in err
    assert "[WARN] [" in err and f"[{name}.child]: loud" in err and "quiet" not in err
    assert "[FATAL]" in err
    with pytest.raises(ValueError, match="must not be empty"):
        get_logger("")
    with pytest.raises(ValueError, match="not a logging severity"):
        logger.set_level(15)


def test_once_skip_first_and_throttle_filter_per_call_site(capsys: pytest.CaptureFixture[str]) -> None:
    from rclpy.logging import get_logger

    logger = get_logger(_name())
    results: dict[str, list[bool]] = {"once": [], "skip": [], "throttle": []}
    for attempt in range(3):
        results["once"].append(logger.info(f"once {attempt}", once=True))
        results["skip"].append(logger.info(f"skip {attempt}", skip_first=True))
        results["throttle"].append(logger.warning(f"throttle {attempt}", throttle_duration_sec=3600.0))
    assert results == {
        "once": [True, False, False],
        "skip": [False, True, True],
        "throttle": [True, False, False],
    }
    err = capsys.readouterr().err
    assert "once 0" in err and "once 1" not in err and "skip 0" not in err and "skip 2" in err
    with pytest.raises(TypeError, match="not one of the recognized logging options"):
        logger.info("x", every=2)


def test_loggers_write_whole_lines_from_many_threads(capsys: pytest.CaptureFixture[str]) -> None:
    from rclpy.logging import get_logger

    logger = get_logger(_name())

    def chatter(index: int) -> None:
        for count in range(50):
            logger.info(f"thread {index} line {count}")

    threads = [threading.Thread(target=chatter, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 200 and all(line.startswith("[INFO] [") for line in lines)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["prog", "-n", "3"], ["prog", "-n", "3"]),
        (["prog", "--ros-args", "-r", "a:=b", "--", "--reliable"], ["prog", "--reliable"]),
        (["prog", "--ros-args", "-p", "x:=1"], ["prog"]),
        (["prog", "--ros-args", "--", "-n", "--ros-args", "-r", "c:=d"], ["prog", "-n"]),
    ],
)
def test_remove_ros_args(argv: list[str], expected: list[str]) -> None:
    from rclpy.utilities import remove_ros_args

    assert remove_ros_args(args=argv) == expected


def test_logging_directory_follows_ros_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from rclpy.logging import get_logging_directory

    monkeypatch.delenv("ROS_LOG_DIR", raising=False)
    monkeypatch.setenv("ROS_HOME", str(tmp_path))
    assert get_logging_directory() == tmp_path / "log"
    monkeypatch.setenv("ROS_LOG_DIR", str(tmp_path / "elsewhere"))
    assert get_logging_directory() == tmp_path / "elsewhere"


SERIALIZE = """
import json, sys
from rclpy.serialization import serialize_message
from geometry_msgs.msg import Point
from std_msgs.msg import String
messages = [String(data='hello'), Point(x=1.0, y=-2.5, z=3.0)]
print(json.dumps([serialize_message(m).hex() for m in messages]))
"""


def test_serialize_message_gives_real_rclpy_bytes() -> None:
    from geometry_msgs.msg import Point
    from rclpy.serialization import deserialize_message, serialize_message
    from std_msgs.msg import String

    python = oracle().venv / "bin" / "python"
    real = subprocess.run(
        [str(python), "-c", SERIALIZE], capture_output=True, text=True, timeout=60, check=True
    )
    expected = json.loads(real.stdout)
    ours = [serialize_message(String(data="hello")), serialize_message(Point(x=1.0, y=-2.5, z=3.0))]
    assert [b.hex() for b in ours] == expected
    assert deserialize_message(ours[0], String).data == "hello"
    assert deserialize_message(ours[1], Point).y == -2.5
    with pytest.raises(TypeError, match="not a ROS message class"):
        serialize_message(object())


def test_event_handler_names_and_payloads() -> None:
    from rclpy.event_handler import (
        PublisherEventCallbacks,
        QoSLivelinessChangedInfo,
        QoSPublisherMatchedInfo,
        QoSRequestedIncompatibleQoSInfo,
        SubscriptionEventCallbacks,
        UnsupportedEventTypeError,
    )
    from rclpy.qos import QoSPolicyKind

    def matched(info: Any) -> None:
        pass

    callbacks = PublisherEventCallbacks(matched=matched)
    assert callbacks.matched is matched and callbacks.deadline is None and callbacks.use_default_callbacks
    assert SubscriptionEventCallbacks(message_lost=matched).message_lost is matched
    with pytest.raises(TypeError):
        PublisherEventCallbacks(matched)  # type: ignore[misc]  # keyword-only, as in rclpy
    info = QoSPublisherMatchedInfo(
        total_count=2, total_count_change=1, current_count=1, current_count_change=-1
    )
    assert (info.current_count, info.current_count_change) == (1, -1)
    assert QoSRequestedIncompatibleQoSInfo().last_policy_kind is QoSPolicyKind.INVALID
    assert QoSLivelinessChangedInfo(alive_count=1).not_alive_count == 0
    assert issubclass(UnsupportedEventTypeError, RuntimeError)
    with pytest.warns(UserWarning, match="import 'event_handler' instead"):
        import rclpy.qos_event
    assert rclpy.qos_event.PublisherEventCallbacks is PublisherEventCallbacks


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("publisher", "Publisher"),
        ("subscription", "Subscription"),
        ("client", "Client"),
        ("service", "Service"),
    ],
)
def test_entity_classes_live_where_rclpy_keeps_them(module: str, name: str) -> None:
    """``from rclpy.publisher import Publisher`` (demos' matched_event_detect) is the node's class."""
    import importlib

    import rclpy.node

    assert getattr(importlib.import_module(f"rclpy.{module}"), name) is getattr(rclpy.node, name)
