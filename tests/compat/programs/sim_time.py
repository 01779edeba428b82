"""use_sim_time: a node's ROS clock follows /clock, its timers and sleep_until run on that
time; a node without it keeps system time. Prints what it sees, the same under real rclpy."""

import threading
import time

import rclpy
from rclpy.clock_type import ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.time import Time
from rosgraph_msgs.msg import Clock


def until(condition, timeout=20.0):
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def main():
    rclpy.init()
    node = Node("sim_listener", cli_args=["--ros-args", "-p", "use_sim_time:=true"])
    wall = Node("wall_clock_node")
    publisher = wall.create_publisher(Clock, "/clock", 10)
    clock = node.get_clock()
    print("active:", clock.ros_time_is_active, "wall node active:", wall.get_clock().ros_time_is_active)
    print("now before /clock:", clock.now().nanoseconds)
    print("wall node is recent:", wall.get_clock().now().nanoseconds > 1_700_000_000 * 10**9)

    ticks = []
    node.create_timer(1.0, lambda: ticks.append(clock.now().nanoseconds // 10**9))
    slept = []
    target = Time(seconds=102, clock_type=ClockType.ROS_TIME)

    def sleeper():
        slept.append(clock.sleep_until(target))
        slept.append(clock.now() >= target)

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()

    def publish_until_seen(seconds):
        msg = Clock()
        msg.clock = Time(seconds=seconds, clock_type=ClockType.ROS_TIME).to_msg()

        def seen():
            if clock.now().nanoseconds >= int(seconds * 10**9):
                return True
            publisher.publish(msg)
            time.sleep(0.05)
            return False

        return until(seen)

    sleeping = threading.Thread(target=sleeper)
    sleeping.start()
    for step in range(7):
        seconds = 100 + step * 0.5
        assert publish_until_seen(seconds), seconds
        if seconds == int(seconds):
            assert until(lambda s=seconds: len(ticks) >= s - 99), (seconds, ticks)
    sleeping.join(timeout=20)
    print("now after /clock 103:", clock.now().nanoseconds)
    print("ticks at:", ticks)
    print("sleep_until 102:", slept)
    executor.shutdown()
    spinner.join(timeout=10)
    node.destroy_node()
    wall.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
