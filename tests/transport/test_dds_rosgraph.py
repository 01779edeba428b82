"""``_rosgraph``: ROS 2's graph from ``ros_discovery_info`` and DDS discovery, as pure functions.

(The same join against a real rclpy node on Fast DDS: ``tests/cli/test_cli_dds.py``.)
"""

from __future__ import annotations

import pytest

pytest.importorskip("cyclonedds")

from robotfleet_nodes.qos import QoSProfile
from robotfleet_nodes.transport.dds import is_fastdds
from robotfleet_nodes.transport.dds._rosgraph import (
    UNKNOWN_NAMESPACE,
    UNKNOWN_NODE,
    DiscoveredEndpoint,
    nodes_of,
    ros_name,
    ros_type,
)


@pytest.mark.parametrize(
    ("dds", "ros"),
    [
        ("std_msgs::msg::dds_::String_", "std_msgs/msg/String"),
        ("rcl_interfaces::srv::dds_::ListParameters_Request_", "rcl_interfaces/srv/ListParameters"),
        ("rcl_interfaces::srv::dds_::ListParameters_Response_", "rcl_interfaces/srv/ListParameters"),
        ("my_pkg::action::dds_::Fibonacci_SendGoal_Request_", "my_pkg/action/Fibonacci_SendGoal"),
        ("my_pkg::action::dds_::Fibonacci_FeedbackMessage_", "my_pkg/action/Fibonacci_FeedbackMessage"),
        ("my_pkg::msg::dds_::Snake_case_", "my_pkg/msg/Snake_case"),
        ("org::eclipse::cyclonedds::builtin::DCPSParticipant", None),
        ("std_msgs::msg::String", None),  # no dds_ module: not a ROS 2 type
    ],
)
def test_ros_type_of_a_dds_type_name(dds: str, ros: str | None) -> None:
    assert ros_type(dds) == ros


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("rt/chatter", ("topic", "/chatter")),
        ("rt/robots/r1/status", ("topic", "/robots/r1/status")),
        ("rq/add_two_intsRequest", ("request", "/add_two_ints")),
        ("rr/add_two_intsReply", ("reply", "/add_two_ints")),
        ("rq/oddName", None),
        ("ros_discovery_info", None),
        ("DCPSPublication", None),
    ],
)
def test_ros_name_of_a_dds_topic(topic: str, expected: tuple[str, str] | None) -> None:
    assert ros_name(topic) == expected


def _ep(guid: int, participant: int, writer: bool, topic: str, type_name: str) -> DiscoveredEndpoint:
    return DiscoveredEndpoint(
        guid=bytes([guid]) * 16,
        participant=bytes([participant]) * 16,
        writer=writer,
        topic=topic,
        type_name=type_name,
        qos=QoSProfile(),
        type_hash="RIHS01_" + "0" * 64,
    )


LIST = "rcl_interfaces::srv::dds_::ListParameters_"


def test_nodes_of_joins_claims_with_discovered_endpoints() -> None:
    p1, p2 = bytes([1]) * 16, bytes([2]) * 16
    endpoints = [
        _ep(10, 1, True, "rt/chatter", "std_msgs::msg::dds_::String_"),  # talker publishes
        _ep(
            11,
            1,
            False,
            "rq/talker/list_parametersRequest",
            "rcl_interfaces::srv::dds_::ListParameters_Request_",
        ),
        _ep(
            12,
            1,
            True,
            "rr/talker/list_parametersReply",
            "rcl_interfaces::srv::dds_::ListParameters_Response_",
        ),
        _ep(13, 1, True, "rq/addRequest", "example_interfaces::srv::dds_::AddTwoInts_Request_"),  # a client
        _ep(14, 1, False, "rt/chatter", "std_msgs::msg::dds_::String_"),  # listener subscribes
        _ep(15, 1, True, "ros_discovery_info", "rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_"),
        _ep(20, 2, True, "rt/plain", "std_msgs::msg::dds_::String_"),  # nobody claims it
    ]
    claims = {
        p1: [
            ("/", "talker", [bytes([g]) * 16 for g in (10, 11, 12, 13)]),
            ("/ns", "listener", [bytes([14]) * 16]),
            ("/", "idle", []),
        ]
    }
    nodes = nodes_of(claims, endpoints)
    talker, listener, idle = nodes[p1]
    assert (talker.fqn, listener.fqn, idle.fqn) == ("/talker", "/ns/listener", "/idle")
    assert [(e.name, e.type_name) for e in talker.publishers] == [("/chatter", "std_msgs/msg/String")]
    assert [(e.name, e.type_name) for e in talker.services] == [
        ("/talker/list_parameters", "rcl_interfaces/srv/ListParameters")
    ]
    assert [e.name for e in talker.clients] == ["/add"]
    assert talker.subscriptions == []
    assert [e.name for e in listener.subscriptions] == ["/chatter"]
    assert idle.publishers == idle.subscriptions == idle.services == idle.clients == []
    (unknown,) = nodes[p2]
    assert (unknown.name, unknown.namespace) == (UNKNOWN_NODE, UNKNOWN_NAMESPACE)
    assert [e.name for e in unknown.publishers] == ["/plain"]


def test_fast_dds_participants_are_told_by_their_vendor_id() -> None:
    assert is_fastdds("010f78fdb81650e000000000000001c1")
    assert not is_fastdds("011085654a6d326f3f9e9576000001c1")  # Eclipse Cyclone DDS (1.16)
