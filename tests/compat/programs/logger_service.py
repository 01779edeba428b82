"""``Node(..., enable_logger_service=True)``: another node reads and sets its logger levels
through ``<node>/get_logger_levels`` and ``<node>/set_logger_levels`` (demo_nodes_py's
use_logger_service, printing on stdout)."""

import threading

import rclpy
from rcl_interfaces.msg import LoggerLevel
from rcl_interfaces.srv import GetLoggerLevels, SetLoggerLevels
from rclpy.executors import SingleThreadedExecutor
from rclpy.impl.logging_severity import LoggingSeverity
from rclpy.node import Node


class TestNode(Node):
    def __init__(self, remote):
        super().__init__("logger_test_node")
        self.remote = remote
        self.get_client = self.create_client(GetLoggerLevels, remote + "/get_logger_levels")
        self.set_client = self.create_client(SetLoggerLevels, remote + "/set_logger_levels")

    def call(self, client, request):
        future = client.call_async(request)
        rclpy.spin_until_future_complete(self, future)
        return future.result()

    def get_levels(self, *names):
        response = self.call(self.get_client, GetLoggerLevels.Request(names=list(names)))
        return [(level.name, level.level) for level in response.levels]

    def set_level(self, level, name=None):
        request = SetLoggerLevels.Request(levels=[LoggerLevel(name=name or self.remote, level=level)])
        result = self.call(self.set_client, request).results[0]
        return result.successful, result.reason


def main():
    rclpy.init()
    served = Node("logger_service_node", enable_logger_service=True)
    plain = Node("plain_node")
    executor = SingleThreadedExecutor()
    executor.add_node(served)
    executor.add_node(plain)
    thread = threading.Thread(target=executor.spin)
    thread.start()
    test = TestNode("logger_service_node")
    print(
        "services ready:", test.get_client.wait_for_service(10.0) and test.set_client.wait_for_service(10.0)
    )
    print("levels:", test.get_levels("logger_service_node", "other"))
    print("set DEBUG:", test.set_level(LoggingSeverity.DEBUG))
    print("levels:", test.get_levels("logger_service_node"))
    print("debug enabled:", served.get_logger().is_enabled_for(LoggingSeverity.DEBUG))
    print("set child WARN:", test.set_level(LoggingSeverity.WARN, "logger_service_node.child"))
    print("child level:", served.get_logger().get_child("child").get_effective_level().name)
    print("set 15:", test.set_level(15))
    print("set ERROR:", test.set_level(LoggingSeverity.ERROR))
    print("info enabled:", served.get_logger().is_enabled_for(LoggingSeverity.INFO))
    other = test.create_client(GetLoggerLevels, "plain_node/get_logger_levels")
    print("plain node serves:", other.wait_for_service(timeout_sec=1.0))
    executor.shutdown()
    thread.join()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
