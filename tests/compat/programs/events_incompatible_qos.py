"""Incompatible QoS events, in the style of quality_of_service_demo's incompatible_qos.py.

Usage: events_incompatible_qos.py reliability|durability|deadline|liveliness_policy|
liveliness_lease_duration. A publisher and a subscription (two nodes) whose QoS differ in
that policy; the program spins until both ``incompatible_qos`` callbacks fired and prints them.
"""

import sys

import rclpy
from rclpy.duration import Duration
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import (
    QoSDurabilityPolicy,
    QoSLivelinessPolicy,
    QoSPolicyKind,
    QoSProfile,
    QoSReliabilityPolicy,
)
from std_msgs.msg import String


def profiles(policy):
    offered, requested = QoSProfile(depth=10), QoSProfile(depth=10)
    if policy == "reliability":
        offered.reliability = QoSReliabilityPolicy.BEST_EFFORT
        requested.reliability = QoSReliabilityPolicy.RELIABLE
    elif policy == "durability":
        offered.durability = QoSDurabilityPolicy.VOLATILE
        requested.durability = QoSDurabilityPolicy.TRANSIENT_LOCAL
    elif policy == "deadline":
        offered.deadline = Duration(seconds=2)
        requested.deadline = Duration(seconds=1)
    elif policy == "liveliness_policy":
        offered.liveliness = QoSLivelinessPolicy.AUTOMATIC
        requested.liveliness = QoSLivelinessPolicy.MANUAL_BY_TOPIC
    else:
        offered.liveliness_lease_duration = Duration(seconds=2)
        requested.liveliness_lease_duration = Duration(seconds=1)
    return offered, requested


def main():
    offered, requested = profiles(sys.argv[1])
    rclpy.init()
    events = {}

    def remember(who):
        def callback(info):
            kind = QoSPolicyKind(info.last_policy_kind).name
            events.setdefault(
                who,
                f"total {info.total_count} change {info.total_count_change} "
                f"policy {kind} ({info.last_policy_kind})",
            )

        return callback

    talker = Node("incompatible_talker")
    talker.create_publisher(
        String,
        "events_incompatible",
        offered,
        event_callbacks=PublisherEventCallbacks(incompatible_qos=remember("offered")),
    )
    listener = Node("incompatible_listener")
    listener.create_subscription(
        String,
        "events_incompatible",
        lambda msg: None,
        requested,
        event_callbacks=SubscriptionEventCallbacks(incompatible_qos=remember("requested")),
    )
    executor = SingleThreadedExecutor()
    executor.add_node(talker)
    executor.add_node(listener)
    while len(events) < 2:
        executor.spin_once(timeout_sec=1.0)
    for who in ("offered", "requested"):
        print(f"{who} incompatible qos: {events[who]}")
    rclpy.shutdown()


if __name__ == "__main__":
    main()
