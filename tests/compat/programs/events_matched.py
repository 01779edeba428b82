"""Matched events, in the style of demo_nodes_py's matched_event_detect.py.

A publisher and a subscription with ``matched`` callbacks; another node creates and destroys
peers one at a time, and after each step the program spins until the callback ran. Prints
each event's counts (and whether a callback ran on our asyncio thread: it must not).
"""

import threading

import rclpy
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future
from std_msgs.msg import String


class Detector(Node):
    def __init__(self):
        super().__init__("matched_detector")
        self.future = Future()
        self.pub = self.create_publisher(
            String, "events_pub_topic", 10, event_callbacks=PublisherEventCallbacks(matched=self.on_pub)
        )
        self.sub = self.create_subscription(
            String,
            "events_sub_topic",
            lambda msg: None,
            10,
            event_callbacks=SubscriptionEventCallbacks(matched=self.on_sub),
        )

    def report(self, who, info):
        if threading.current_thread().name.startswith("rclpy-asyncio"):
            print("a callback ran on our asyncio thread", flush=True)
        print(
            f"{who} matched: total {info.total_count} ({info.total_count_change:+d}) "
            f"current {info.current_count} ({info.current_count_change:+d})",
            flush=True,
        )
        self.future.set_result(True)

    def on_pub(self, info):
        self.report("publisher", info)

    def on_sub(self, info):
        self.report("subscription", info)

    def next_event(self):
        self.future = Future()
        return self.future


def main():
    rclpy.init()
    detector = Detector()
    peers = Node("matched_peers")
    executor = SingleThreadedExecutor()
    executor.add_node(detector)
    executor.add_node(peers)

    def step(action):
        future = detector.next_event()
        result = action()
        executor.spin_until_future_complete(future, timeout_sec=20.0)
        if not future.done():
            print("no event", flush=True)
        return result

    sub1 = step(lambda: peers.create_subscription(String, "events_pub_topic", lambda msg: None, 10))
    sub2 = step(lambda: peers.create_subscription(String, "events_pub_topic", lambda msg: None, 10))
    step(lambda: peers.destroy_subscription(sub1))
    step(lambda: peers.destroy_subscription(sub2))
    pub1 = step(lambda: peers.create_publisher(String, "events_sub_topic", 10))
    pub2 = step(lambda: peers.create_publisher(String, "events_sub_topic", 10))
    step(lambda: peers.destroy_publisher(pub1))
    step(lambda: peers.destroy_publisher(pub2))
    peers.destroy_node()
    detector.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
