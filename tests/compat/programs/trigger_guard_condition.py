"""ros2/examples' trigger_guard_condition, without its 2 s wait: a timer triggers a guard
condition whose callback shuts rclpy down (prints what ran, in order)."""

import rclpy
from rclpy.executors import ExternalShutdownException


def main(args=None):
    try:
        with rclpy.init(args=args):
            node = rclpy.create_node("demo_guard_condition")
            executor = rclpy.executors.SingleThreadedExecutor()
            executor.add_node(node)

            def guard_condition_callback():
                rclpy.shutdown()
                print("guard callback called shutdown", flush=True)

            def timer_callback():
                guard_condition.trigger()
                print("timer callback triggered guard condition", flush=True)

            node.create_timer(timer_period_sec=0.2, callback=timer_callback)
            guard_condition = node.create_guard_condition(guard_condition_callback)

            loops = 0
            while rclpy.ok():
                executor.spin_once()
                loops += 1
            print(f"loops: {loops}", flush=True)
    except (KeyboardInterrupt, ExternalShutdownException):
        print("interrupted", flush=True)


if __name__ == "__main__":
    main()
