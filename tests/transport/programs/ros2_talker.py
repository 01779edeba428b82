"""A real rclpy talker: warm-up messages until told ``go`` on stdin, then the counted ones.

``python ros2_talker.py <type> <topic> <values.json>``: ``values.json`` holds ``warmup`` (one
message as plain values), ``messages`` (the counted ones) and ``depth`` (the KEEP_LAST depth
of the reliable, volatile publisher). It publishes ``warmup`` every 0.1 s until a ``go`` line
arrives on stdin, then every message once, prints ``{"event": "sent", ...}`` and exits when
stdin closes (a reliable writer keeps its samples until then).
"""

import json
import sys
import threading

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from ros2_plain import from_plain, message_class


def main():
    type_name, topic, path = sys.argv[1:4]
    with open(path, encoding="utf-8") as f:
        values = json.load(f)
    cls = message_class(type_name)
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=values["depth"],
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )
    go, closed = threading.Event(), threading.Event()

    def read_stdin():
        for line in sys.stdin:
            if line.strip() == "go":
                go.set()
        closed.set()
        go.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    rclpy.init()
    node = Node("interop_talker")
    publisher = node.create_publisher(cls, topic, qos)
    print(json.dumps({"event": "started"}), flush=True)
    warmup = from_plain(cls, values["warmup"])
    while not go.wait(0.1):
        publisher.publish(warmup)
    if not closed.is_set():
        messages = [from_plain(cls, item) for item in values["messages"]]
        for msg in messages:
            publisher.publish(msg)
        matched = publisher.get_subscription_count()
        print(json.dumps({"event": "sent", "count": len(messages), "matched": matched}), flush=True)
        closed.wait()
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
