"""Liveliness events, in the style of quality_of_service_demo's liveliness.py.

Usage: events_liveliness.py automatic|manual.
automatic: a listener (lease 1 s, ``liveliness`` callback) sees a talker's publisher become
alive (it publishes once), then the talker node is destroyed; prints both events' counts.
manual: a MANUAL_BY_TOPIC publisher (lease 0.3 s) publishes once and then stays silent; prints
its first ``liveliness`` (lost) event's counts.
"""

import sys

import rclpy
from rclpy.duration import Duration
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSLivelinessPolicy, QoSProfile
from std_msgs.msg import String


def changed(info):
    return (
        f"alive {info.alive_count} ({info.alive_count_change:+d}) "
        f"not alive {info.not_alive_count} ({info.not_alive_count_change:+d})"
    )


def automatic(executor):
    qos = QoSProfile(
        depth=10, liveliness=QoSLivelinessPolicy.AUTOMATIC, liveliness_lease_duration=Duration(seconds=1)
    )
    events = []
    listener = Node("liveliness_listener")
    listener.create_subscription(
        String,
        "events_liveliness",
        lambda msg: None,
        qos,
        event_callbacks=SubscriptionEventCallbacks(liveliness=lambda info: events.append(changed(info))),
    )
    executor.add_node(listener)
    talker = Node("liveliness_talker")
    publisher = talker.create_publisher(String, "events_liveliness", qos)
    executor.add_node(talker)
    while talker.count_subscribers("events_liveliness") == 0:
        pass
    publisher.publish(String(data="alive"))
    while not events:
        executor.spin_once(timeout_sec=1.0)
    executor.remove_node(talker)
    talker.destroy_node()
    while len(events) < 2:
        executor.spin_once(timeout_sec=1.0)
    for event in events:
        print(f"liveliness changed: {event}")


def manual(executor):
    qos = QoSProfile(
        depth=10,
        liveliness=QoSLivelinessPolicy.MANUAL_BY_TOPIC,
        liveliness_lease_duration=Duration(seconds=0.3),
    )
    lost = []
    talker = Node("liveliness_talker")
    publisher = talker.create_publisher(
        String,
        "events_liveliness",
        qos,
        event_callbacks=PublisherEventCallbacks(
            liveliness=lambda info: lost.append((info.total_count, info.total_count_change))
        ),
    )
    executor.add_node(talker)
    publisher.publish(String(data="alive"))
    while not lost:
        executor.spin_once(timeout_sec=1.0)
    total, change = lost[0]
    print(f"liveliness lost: total {total} change {change}")


def main():
    rclpy.init()
    executor = SingleThreadedExecutor()
    if sys.argv[1] == "automatic":
        automatic(executor)
    else:
        manual(executor)
    rclpy.shutdown()


if __name__ == "__main__":
    main()
