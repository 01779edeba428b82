"""The real-rclpy side of ``sensors.py``: a publisher, a subscriber, or both in one process.

Run with ``.venv-ros2/bin/python`` (real rclpy, Fast DDS); imports only rclpy and the message
packages. Reliable, volatile, KEEP_LAST ``depth``. Times are ``time.monotonic()`` (one clock
for every process of the machine). The sequence number travels in ``header.stamp.sec`` (in
``linear.x`` for Twist, in the first 10 characters for String). One JSON object per stdout line.

``pub <type> <seconds> <max_n> <lat_n> <lat_gap> <depth>``: publishes warm-up messages every
0.05 s until ``go`` on stdin, then back to back for ``seconds`` (at most ``max_n``), prints
``sent``; then ``lat_n`` messages ``lat_gap`` s apart, prints ``lat_sent``; exits when stdin closes.
``sub <type> <depth>``: prints ``ready`` on the first warm-up; prints ``received`` when stdin closes.
``both <type> <seconds> <max_n> <lat_n> <lat_gap> <depth>``: both in one process (a spinning
thread for the subscription), prints ``sent``, ``lat_sent`` and ``received``.
"""

import array
import json
import sys
import threading
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

WARM = 2_000_000
LAT = 1_000_000


def _say(**event):
    print(json.dumps(event), flush=True)


def build(kind):
    if kind == "String":
        from std_msgs.msg import String

        return String(data="0" * 100)
    if kind == "Twist":
        from geometry_msgs.msg import Twist

        return Twist()
    if kind == "Imu":
        from sensor_msgs.msg import Imu

        return Imu()
    if kind == "Odometry":
        from nav_msgs.msg import Odometry

        return Odometry()
    if kind == "LaserScan":
        from sensor_msgs.msg import LaserScan

        return LaserScan(ranges=array.array("f", [1.0] * 1080), intensities=array.array("f", [1.0] * 1080))
    if kind == "PointCloud2":
        from sensor_msgs.msg import PointCloud2

        return PointCloud2(height=1, width=1 << 16, point_step=16, row_step=1 << 20, data=bytes(1 << 20))
    if kind.startswith("Image"):
        from sensor_msgs.msg import Image

        w, h = (640, 480) if kind == "Image640" else (1920, 1080)
        return Image(height=h, width=w, encoding="rgb8", step=w * 3, data=bytes(w * h * 3))
    if kind == "OccupancyGrid":
        from nav_msgs.msg import OccupancyGrid

        msg = OccupancyGrid()
        msg.info.width = msg.info.height = 4000
        msg.data = array.array("b", bytes(4000 * 4000))
        return msg
    raise SystemExit(f"unknown type {kind}")


def set_seq(msg, seq):
    if hasattr(msg, "header"):
        msg.header.stamp.sec = seq
    elif hasattr(msg, "linear"):
        msg.linear.x = float(seq)
    else:
        msg.data = f"{seq:010d}" + msg.data[10:]


def get_seq(msg):
    if hasattr(msg, "header"):
        return msg.header.stamp.sec
    if hasattr(msg, "linear"):
        return int(msg.linear.x)
    return int(msg.data[:10])


def _stdin_watch(go, lat, closed):
    for line in sys.stdin:
        if line.strip() == "go":
            go.set()
        elif line.strip() == "lat":
            lat.set()
    closed.set()
    go.set()
    lat.set()


def publish(node, kind, args, qos, *, go, lat):
    seconds, max_n, lat_n, lat_gap = float(args[0]), int(args[1]), int(args[2]), float(args[3])
    from rclpy.serialization import serialize_message

    msg = build(kind)
    size = len(serialize_message(msg))
    pub = node.create_publisher(type(msg), "/sensors_bench", qos)
    failed = {"count": 0, "error": ""}

    def send():
        # Fast DDS refuses a reliable publish whose history is full past max_blocking_time.
        try:
            pub.publish(msg)
        except Exception as exc:
            failed["count"] += 1
            failed["error"] = failed["error"] or f"{type(exc).__name__}: {exc}"
            return False
        return True

    set_seq(msg, WARM)
    while not go.wait(0.05):
        send()
    start = time.monotonic()
    count = 0
    while count < max_n and time.monotonic() - start < seconds:
        set_seq(msg, count)
        count += send()
    _say(event="sent", count=count, start=start, end=time.monotonic(), bytes=size)
    lat.wait(60)
    times = {}
    for k in range(lat_n):
        set_seq(msg, LAT + k)
        times[k] = time.monotonic()
        if not send():
            del times[k]
        time.sleep(lat_gap)
    _say(event="lat_sent", times=times, publish_failed=failed["count"], publish_error=failed["error"])


def subscribe(node, kind, qos, state):
    def on_message(msg):
        seq = get_seq(msg)
        now = time.monotonic()
        if seq == WARM:
            if not state["ready"]:
                state["ready"] = True
                _say(event="ready")
        elif seq >= LAT:
            state["lat"][seq - LAT] = now
        else:
            state["count"] += 1
            state["last"] = now

    node.create_subscription(type(build(kind)), "/sensors_bench", on_message, qos)


def main():
    role, kind = sys.argv[1], sys.argv[2]
    depth = int(sys.argv[-1])
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )
    rclpy.init()
    node = rclpy.create_node(f"sensors_bench_{role}")
    go, lat, closed = threading.Event(), threading.Event(), threading.Event()
    threading.Thread(target=_stdin_watch, args=(go, lat, closed), daemon=True).start()
    state = {"ready": False, "count": 0, "last": 0.0, "lat": {}}
    if role in ("sub", "both"):
        subscribe(node, kind, qos, state)
    if role == "pub":
        publish(node, kind, sys.argv[3:7], qos, go=go, lat=lat)
        closed.wait()
    elif role == "sub":
        while not closed.is_set():
            rclpy.spin_once(node, timeout_sec=0.05)
    else:
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        auto_go, auto_lat = threading.Event(), threading.Event()
        threading.Thread(target=lambda: (time.sleep(0.3), auto_go.set()), daemon=True).start()
        threading.Thread(
            target=lambda: (auto_go.wait(), time.sleep(0.3 + float(sys.argv[3])), auto_lat.set()), daemon=True
        ).start()
        publish(node, kind, sys.argv[3:7], qos, go=auto_go, lat=auto_lat)
        time.sleep(0.5)
        executor.shutdown(timeout_sec=1.0)
        spinner.join(timeout=2.0)
    if role != "pub":
        _say(event="received", count=state["count"], last=state["last"], lat=state["lat"])
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
