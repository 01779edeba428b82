"""Calls ``add_two_ints`` once with call_async + spin_until_future_complete (ROS 2's minimal client)."""

import sys

import rclpy
from example_interfaces.srv import AddTwoInts
from rclpy.node import Node


class MinimalClientAsync(Node):
    def __init__(self):
        super().__init__("minimal_client_async")
        self.cli = self.create_client(AddTwoInts, "add_two_ints")
        while not self.cli.wait_for_service(timeout_sec=1.0):
            self.get_logger().info("service not available, waiting again...")
        self.req = AddTwoInts.Request()

    def send_request(self, a, b):
        self.req.a = a
        self.req.b = b
        self.future = self.cli.call_async(self.req)
        rclpy.spin_until_future_complete(self, self.future)
        return self.future.result()


def main(args=None):
    rclpy.init(args=args)
    minimal_client = MinimalClientAsync()
    response = minimal_client.send_request(int(sys.argv[1]), int(sys.argv[2]))
    print(f"Result of add_two_ints: for {sys.argv[1]} + {sys.argv[2]} = {response.sum}", flush=True)
    minimal_client.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
