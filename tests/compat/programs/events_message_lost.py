"""Message lost events, in the style of quality_of_service_demo's message_lost_listener.py.

A subscription with a KEEP_LAST depth of 1 and a ``message_lost`` callback is not spun while
20 messages are published; then the program spins until it heard the last one. A KEEP_LAST
queue replacing its oldest sample is DDS history at work, not a lost message: real rclpy
reports no event for it, and neither does ours.
"""

import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String


def main():
    rclpy.init()
    heard = []
    lost = []
    listener = Node("message_lost_listener")
    listener.create_subscription(
        String,
        "events_message_lost",
        lambda msg: heard.append(msg.data),
        1,
        event_callbacks=SubscriptionEventCallbacks(
            message_lost=lambda info: lost.append((info.total_count, info.total_count_change))
        ),
    )
    talker = Node("message_lost_talker")
    publisher = talker.create_publisher(String, "events_message_lost", 20)
    while talker.count_subscribers("events_message_lost") == 0:
        pass
    for index in range(20):
        publisher.publish(String(data=f"msg {index}"))
    executor = SingleThreadedExecutor()
    executor.add_node(listener)
    while not heard or heard[-1] != "msg 19":
        executor.spin_once(timeout_sec=1.0)
    for _ in range(5):  # an event would be ready by now: give it a few turns
        executor.spin_once(timeout_sec=0.1)
    print(f"last heard: {heard[-1]}")
    print(f"message_lost events: {len(lost)}")
    rclpy.shutdown()


if __name__ == "__main__":
    main()
