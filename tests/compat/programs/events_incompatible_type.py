"""Incompatible type events: a String publisher and an Int32 subscription on one topic.

Both have ``incompatible_type`` callbacks; the program spins until both fired and prints
their first events' counts.
"""

import rclpy
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Int32, String


def main():
    rclpy.init()
    events = {}

    def remember(who):
        def callback(info):
            events.setdefault(who, f"total {info.total_count} change {info.total_count_change}")

        return callback

    talker = Node("incompatible_type_talker")
    talker.create_publisher(
        String,
        "events_incompatible_type",
        10,
        event_callbacks=PublisherEventCallbacks(incompatible_type=remember("publisher")),
    )
    listener = Node("incompatible_type_listener")
    listener.create_subscription(
        Int32,
        "events_incompatible_type",
        lambda msg: None,
        10,
        event_callbacks=SubscriptionEventCallbacks(incompatible_type=remember("subscription")),
    )
    executor = SingleThreadedExecutor()
    executor.add_node(talker)
    executor.add_node(listener)
    while len(events) < 2:
        executor.spin_once(timeout_sec=1.0)
    for who in ("publisher", "subscription"):
        print(f"{who} incompatible type: {events[who]}")
    rclpy.shutdown()


if __name__ == "__main__":
    main()
