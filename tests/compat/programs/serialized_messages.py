"""Serialized messages: ``publish(bytes)`` and ``create_subscription(..., raw=True)``.

A talker publishes ``serialize_message(String(...))`` bytes; a raw subscription gets the bytes
(exactly ``serialize_message``'s) and a typed one the message (demo_nodes_py's
listener_serialized). Exits after both got 3 messages.
"""

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import String


class SerializedTalker(Node):
    def __init__(self):
        super().__init__("serialized_talker")
        self.publisher = self.create_publisher(String, "chatter_serialized", 10)
        self.timer = self.create_timer(0.1, self.timer_callback)

    def timer_callback(self):
        self.publisher.publish(serialize_message(String(data="Hello World: 7")))


class SerializedListener(Node):
    def __init__(self):
        super().__init__("serialized_listener")
        self.raw = []
        self.typed = []
        self.create_subscription(String, "chatter_serialized", self.raw.append, 10, raw=True)
        self.create_subscription(String, "chatter_serialized", self.typed.append, 10)


def main():
    rclpy.init()
    talker = SerializedTalker()
    listener = SerializedListener()
    executor = SingleThreadedExecutor()
    executor.add_node(talker)
    executor.add_node(listener)
    while rclpy.ok() and (len(listener.raw) < 3 or len(listener.typed) < 3):
        executor.spin_once(timeout_sec=1.0)
    first = listener.raw[0]
    print(f"raw type: {type(first).__name__}", flush=True)
    print(f"I heard: {first!r}", flush=True)
    print(f"same as serialize_message: {first == serialize_message(String(data='Hello World: 7'))}")
    print(f"deserialized: {deserialize_message(first, String).data}")
    print(f"typed: {type(listener.typed[0]).__name__} {listener.typed[0].data}")
    try:
        talker.publisher.publish(42)
    except TypeError:
        print("publish(42): TypeError")
    executor.shutdown()
    talker.destroy_node()
    listener.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
