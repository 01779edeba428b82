"""Node loggers also publish on ``/rosout`` (rcl_interfaces/msg/Log): a node's logger and its
child, what their level lets through; a node made with ``enable_rosout=False`` does not."""

import rclpy
from rcl_interfaces.msg import Log
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


class Talker(Node):
    def __init__(self):
        super().__init__("rosout_talker")
        self.timer = self.create_timer(0.1, self.timer_callback)

    def timer_callback(self):
        self.get_logger().info("ping")


class Listener(Node):
    def __init__(self):
        super().__init__("rosout_listener")
        self.logs = []
        self.create_subscription(Log, "/rosout", self.on_log, 100)

    def on_log(self, msg):
        if msg.name.startswith(("rosout_talker", "silent_node")):
            self.logs.append(msg)


def main():
    rclpy.init()
    talker = Talker()
    silent = Node("silent_node", enable_rosout=False)
    listener = Listener()
    executor = SingleThreadedExecutor()
    for node in (talker, silent, listener):
        executor.add_node(node)
    while rclpy.ok() and not listener.logs:
        executor.spin_once(timeout_sec=1.0)
    talker.destroy_timer(talker.timer)
    first = listener.logs[0]
    print(f"first: [{first.name}] level={first.level} msg={first.msg} function={first.function}")
    silent.get_logger().info("hidden")
    talker.get_logger().debug("below the level")
    talker.get_logger().get_child("child").warning("from a child")
    talker.get_logger().error("done")
    while rclpy.ok() and listener.logs[-1].msg != "done":
        executor.spin_once(timeout_sec=1.0)
    for log in listener.logs:
        if log.msg != "ping":
            print(f"[{log.name}] level={log.level} msg={log.msg}")
    executor.shutdown()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
