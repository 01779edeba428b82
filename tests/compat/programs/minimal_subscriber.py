"""Prints what arrives on ``topic`` and exits after 5 messages (ROS 2's minimal subscriber)."""

import rclpy
from rclpy.node import Node
from std_msgs.msg import String


class MinimalSubscriber(Node):
    def __init__(self):
        super().__init__("minimal_subscriber")
        self.subscription = self.create_subscription(String, "topic", self.listener_callback, 10)
        self.received = 0

    def listener_callback(self, msg):
        self.get_logger().info(f'I heard: "{msg.data}"')
        print(f"I heard: {msg.data}", flush=True)
        self.received += 1


def main(args=None):
    rclpy.init(args=args)
    minimal_subscriber = MinimalSubscriber()
    while rclpy.ok() and minimal_subscriber.received < 5:
        rclpy.spin_once(minimal_subscriber, timeout_sec=1.0)
    minimal_subscriber.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
