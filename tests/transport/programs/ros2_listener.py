"""A real rclpy listener printing every message it gets as one JSON line.

``python ros2_listener.py <type> <topic> <values.json>`` (the file ``ros2_talker.py`` reads):
a reliable, volatile subscription of ``depth``. The first ``warmup`` message prints
``{"event": "ready"}`` (later ones are skipped); every other message prints
``{"event": "message", "msg": {...}}``. Exits after as many as ``messages`` holds.
"""

import json
import sys

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from ros2_plain import message_class, to_plain


def main():
    type_name, topic, path = sys.argv[1:4]
    with open(path, encoding="utf-8") as f:
        values = json.load(f)
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=values["depth"],
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )
    expected = len(values["messages"])
    state = {"ready": False, "count": 0}

    def on_message(msg):
        plain = to_plain(msg)
        if plain == values["warmup"]:
            if not state["ready"]:
                state["ready"] = True
                print(json.dumps({"event": "ready"}), flush=True)
            return
        state["count"] += 1
        print(json.dumps({"event": "message", "msg": plain}), flush=True)

    rclpy.init()
    node = Node("interop_listener")
    node.create_subscription(message_class(type_name), topic, on_message, qos)
    print(json.dumps({"event": "started"}), flush=True)
    while rclpy.ok() and state["count"] < expected:
        rclpy.spin_once(node, timeout_sec=0.5)
    print(json.dumps({"event": "done", "count": state["count"]}), flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
