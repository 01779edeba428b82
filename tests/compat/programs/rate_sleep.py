"""A Rate used from its own thread while the main thread spins the node (rclpy's pattern):
the worker sleeps 5 periods, then shuts rclpy down; a second sleep after that is interrupted."""

import threading

import rclpy
from rclpy.exceptions import ROSInterruptException
from rclpy.node import Node


def main():
    rclpy.init()
    node = Node("rate_sleep")
    rate = node.create_rate(20)
    events = []

    def worker():
        for i in range(5):
            rate.sleep()
            events.append(f"tick {i}")
        rclpy.shutdown()
        try:
            rate.sleep()
            events.append("slept after shutdown")
        except ROSInterruptException:
            events.append("ROSInterruptException")

    thread = threading.Thread(target=worker)
    thread.start()
    rclpy.spin(node)
    thread.join(timeout=30)
    for event in events:
        print(event)
    print("ok:", rclpy.ok())


if __name__ == "__main__":
    main()
