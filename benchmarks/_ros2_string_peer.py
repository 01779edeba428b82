"""The real-rclpy side of ``ros2_dds_interop.py``: a ``std_msgs/String`` talker or listener.

Run with ``.venv-ros2/bin/python`` (real rclpy, Fast DDS); imports only rclpy and std_msgs.
Both sides are reliable, volatile, KEEP_LAST ``depth``. Times are ``time.monotonic()`` (one
clock for every process of the machine). One JSON object per stdout line.

``talker <topic> <count> <depth>``: publishes ``warm-up`` every 0.1 s until ``go`` arrives on
stdin, then ``count`` messages back to back; prints ``sent`` (count, start, end); exits when
stdin closes.
``listener <topic> <depth>``: prints ``ready`` on the first ``warm-up``, counts every other
message and prints ``count`` lines while the count grows; prints ``received`` (count, last)
and exits when stdin closes.
"""

import json
import sys
import threading
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

WARM_UP = "warm-up"


def _say(**event):
    print(json.dumps(event), flush=True)


def _watch_stdin(go, closed):
    for line in sys.stdin:
        if line.strip() == "go":
            go.set()
    closed.set()
    go.set()


def talker(node, topic, count, qos):
    publisher = node.create_publisher(String, topic, qos)
    go, closed = threading.Event(), threading.Event()
    threading.Thread(target=_watch_stdin, args=(go, closed), daemon=True).start()
    warm_up = String(data=WARM_UP)
    while not go.wait(0.1):
        publisher.publish(warm_up)
    msg = String()
    start = time.monotonic()
    for i in range(count):
        msg.data = f"b {i}"
        publisher.publish(msg)
    _say(event="sent", count=count, start=start, end=time.monotonic())
    closed.wait()


def listener(node, topic, qos):
    state = {"ready": False, "count": 0, "last": 0.0}

    def on_message(msg):
        if msg.data == WARM_UP:
            if not state["ready"]:
                state["ready"] = True
                _say(event="ready")
            return
        state["count"] += 1
        state["last"] = time.monotonic()

    node.create_subscription(String, topic, on_message, qos)
    go, closed = threading.Event(), threading.Event()
    threading.Thread(target=_watch_stdin, args=(go, closed), daemon=True).start()
    reported = 0
    while not closed.is_set():
        rclpy.spin_once(node, timeout_sec=0.05)
        if state["count"] != reported:
            reported = state["count"]
            _say(event="count", count=reported)
    _say(event="received", count=state["count"], last=state["last"])


def main():
    role, topic = sys.argv[1], sys.argv[2]
    depth = int(sys.argv[-1])
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )
    rclpy.init()
    node = Node(f"bench_{role}")
    if role == "talker":
        talker(node, topic, int(sys.argv[3]), qos)
    else:
        listener(node, topic, qos)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
