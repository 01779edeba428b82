"""Calls ``enable`` three times: call_async + spin_until_future_complete, then the blocking
``call`` from the main thread while an executor spins the node on another thread."""

import sys
import threading

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from std_srvs.srv import SetBool


def show(request, response):
    print(f"data={request.data} success={response.success} message={response.message}", flush=True)


def main(args=None):
    try:
        with rclpy.init(args=args):
            node = rclpy.create_node("enable_client")
            cli = node.create_client(SetBool, "enable")
            while not cli.wait_for_service(timeout_sec=1.0):
                node.get_logger().info("service not available, waiting again...")

            first = SetBool.Request(data=sys.argv[1] == "on")
            future = cli.call_async(first)
            rclpy.spin_until_future_complete(node, future)
            show(first, future.result())

            executor = MultiThreadedExecutor()
            executor.add_node(node)
            spinner = threading.Thread(target=executor.spin, daemon=True)
            spinner.start()
            for data in (first.data, not first.data):
                request = SetBool.Request(data=data)
                show(request, cli.call(request, timeout_sec=30.0))
            executor.shutdown()
            spinner.join(timeout=10)
            node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == "__main__":
    main()
