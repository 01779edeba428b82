"""Deadline events, in the style of quality_of_service_demo's deadline.py.

A talker publishes 5 messages (every 0.1 s) on a topic with a 0.3 s deadline, then stops; a
listener with the same QoS hears them. Both have ``deadline`` callbacks; the program spins
until each fired once and prints the counts of their first events.
"""

import rclpy
from rclpy.duration import Duration
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import String


def main():
    rclpy.init()
    qos = QoSProfile(depth=10, deadline=Duration(seconds=0.3))
    first = {}
    heard = []

    def remember(who):
        def callback(info):
            first.setdefault(who, (info.total_count, info.total_count_change))

        return callback

    listener = Node("deadline_listener")
    listener.create_subscription(
        String,
        "events_deadline",
        lambda msg: heard.append(msg.data),
        qos,
        event_callbacks=SubscriptionEventCallbacks(deadline=remember("requested")),
    )
    talker = Node("deadline_talker")
    publisher = talker.create_publisher(
        String, "events_deadline", qos, event_callbacks=PublisherEventCallbacks(deadline=remember("offered"))
    )
    while talker.count_subscribers("events_deadline") == 0:
        pass
    sent = []

    def publish():
        if len(sent) < 5:
            sent.append(f"msg {len(sent)}")
            publisher.publish(String(data=sent[-1]))

    talker.create_timer(0.1, publish)
    executor = SingleThreadedExecutor()
    executor.add_node(listener)
    executor.add_node(talker)
    while len(first) < 2 or len(heard) < 5:
        executor.spin_once(timeout_sec=1.0)
    print(f"heard: {', '.join(heard)}")
    for who in ("offered", "requested"):
        total, change = first[who]
        print(f"{who} deadline missed: total {total} change {change}")
    rclpy.shutdown()


if __name__ == "__main__":
    main()
