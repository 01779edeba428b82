"""One process, an action server node and a client node: N blocking ``send_goal`` round trips.

Imports only ``rclpy`` and ``test_msgs``, so it runs under ours and under real rclpy alike
(benchmarks/rclpy_actions.py runs it in both). Prints one JSON line of the round-trip times
in seconds (send_goal -> accepted -> result, a goal of order 2 with one feedback).
"""

import json
import sys
import threading
import time

import rclpy
from rclpy.action import ActionClient, ActionServer
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from test_msgs.action import Fibonacci


def execute(goal_handle):
    goal_handle.publish_feedback(Fibonacci.Feedback(sequence=[0, 1]))
    goal_handle.succeed()
    return Fibonacci.Result(sequence=[0, 1, 1])


def main():
    goals = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rclpy.init()
    server_node, client_node = Node("roundtrip_server"), Node("roundtrip_client")
    ActionServer(server_node, Fibonacci, "roundtrip", execute)
    client = ActionClient(client_node, Fibonacci, "roundtrip")
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(server_node)
    executor.add_node(client_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    client.wait_for_server()
    for _ in range(5):  # warm-up: discovery, first-use costs
        client.send_goal(Fibonacci.Goal(order=2))
    times = []
    for _ in range(goals):
        start = time.perf_counter()
        response = client.send_goal(Fibonacci.Goal(order=2))
        times.append(time.perf_counter() - start)
        assert list(response.result.sequence) == [0, 1, 1]
    print(json.dumps({"round_trips_s": times}), flush=True)
    executor.shutdown()
    spinner.join(timeout=10)
    rclpy.shutdown()


if __name__ == "__main__":
    main()
