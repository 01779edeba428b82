"""Ctrl-C while spinning, as rclpy behaves: KeyboardInterrupt, ok() false, shutdown() still fine."""

import rclpy
from rclpy.executors import ExternalShutdownException


def main():
    rclpy.init()
    node = rclpy.create_node("sigint_spin")
    node.create_timer(0.05, lambda: None)
    print("spinning", flush=True)
    try:
        rclpy.spin(node)
        print("spin returned")
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    except ExternalShutdownException:
        print("ExternalShutdownException")
    print("ok:", rclpy.ok())
    node.destroy_node()
    rclpy.shutdown()
    print("shutdown: fine")
    rclpy.init()
    print("init again, ok:", rclpy.ok())
    rclpy.shutdown()


if __name__ == "__main__":
    main()
