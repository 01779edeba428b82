"""Serves ``std_srvs/srv/SetBool`` on ``enable`` (a type both our rclpy and real ROS 2 have)."""

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_srvs.srv import SetBool


class EnableService(Node):
    def __init__(self):
        super().__init__("enable_service")
        self.enabled = False
        self.srv = self.create_service(SetBool, "enable", self.enable_callback)

    def enable_callback(self, request, response):
        self.get_logger().info(f"Incoming request: data={request.data}")
        response.success = request.data != self.enabled
        response.message = f"enabled={request.data}" if response.success else "unchanged"
        self.enabled = request.data
        return response


def main(args=None):
    try:
        with rclpy.init(args=args):
            node = EnableService()
            print("ready", flush=True)
            rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == "__main__":
    main()
