"""Lifespan, in the style of quality_of_service_demo's lifespan.py.

A transient-local publisher (depth 10, lifespan 2 s) publishes three messages, lets them
expire, publishes one more, and only then a subscription joins: it hears the fresh message
only (every message is delivered in order, so nothing older can follow it).
"""

import time

import rclpy
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from std_msgs.msg import String


def main():
    rclpy.init()
    qos = QoSProfile(
        depth=10,
        reliability=QoSReliabilityPolicy.RELIABLE,
        durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
        lifespan=Duration(seconds=2),
    )
    talker = Node("lifespan_talker")
    publisher = talker.create_publisher(String, "events_lifespan", qos)
    for index in range(3):
        publisher.publish(String(data=f"old {index}"))
    time.sleep(4.0)  # the scenario: let the first messages outlive their lifespan
    publisher.publish(String(data="fresh"))
    heard = []
    listener = Node("lifespan_listener")
    listener.create_subscription(String, "events_lifespan", lambda msg: heard.append(msg.data), qos)
    executor = SingleThreadedExecutor()
    executor.add_node(talker)
    executor.add_node(listener)
    while "fresh" not in heard:
        executor.spin_once(timeout_sec=1.0)
    print(f"heard: {', '.join(heard)}")
    rclpy.shutdown()


if __name__ == "__main__":
    main()
