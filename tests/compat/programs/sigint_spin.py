"""Ctrl-C while spinning, as rclpy behaves: KeyboardInterrupt, ok() false, shutdown() still fine."""

import rclpy
from rclpy.executors import ExternalShutdownException


def main():
    rclpy.init()
    node = rclpy.create_node("sigint_spin")
    ticks = []

    def tick():  # "spinning" once spin() runs callbacks, so Ctrl-C lands inside it
        if not ticks:
            print("spinning", flush=True)
        ticks.append(1)

    node.create_timer(0.05, tick)
    try:
        rclpy.spin(node)
        print("spin returned")
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    except ExternalShutdownException:
        print("ExternalShutdownException")
    print("ok:", rclpy.ok())
    node.destroy_node()
    # try_shutdown, as ros2/examples do: real rclpy's signal handler may have shut the
    # context down already (then spin raised ExternalShutdownException and shutdown() would
    # raise "already shut down"); ours shuts down here.
    rclpy.try_shutdown()
    print("shutdown: fine")
    rclpy.init()
    print("init again, ok:", rclpy.ok())
    rclpy.shutdown()


if __name__ == "__main__":
    main()
