"""A node with parameters and pre-set / on-set / post-set callbacks (in the style of ROS 2's
demo_nodes_py ``set_parameters_callback.py``); prints ``ready`` once its parameters are declared."""

import threading

import rclpy
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter


class ParameterServer(Node):
    def __init__(self):
        super().__init__("param_server")
        speed_range = FloatingPointRange(from_value=-100.0, to_value=100.0, step=0.0)
        self.declare_parameter(
            "speed",
            1.0,
            ParameterDescriptor(description="forward speed in m/s", floating_point_range=[speed_range]),
        )
        self.declare_parameter("name", "robot")
        self.declare_parameter("ids", [1, 2, 3])
        self.declare_parameter("enabled", True)
        self.declare_parameter("last_change", "")
        self.declare_parameter("mode", "auto", ParameterDescriptor(dynamic_typing=True))
        self.declare_parameter("serial", "SN-1", ParameterDescriptor(read_only=True))
        for name in ("speed", "name", "ids", "enabled", "serial"):
            self.get_logger().info(f"declared {name} = {self.show(self.get_parameter(name).value)}")

        def pre_set(parameters):
            # a change of speed also records what changed last
            modified = list(parameters)
            if any(p.name == "speed" for p in parameters):
                modified.append(Parameter("last_change", Parameter.Type.STRING, "speed"))
            return modified

        def on_set(parameters):
            for p in parameters:
                if p.name == "name" and not p.value:
                    return SetParametersResult(successful=False, reason="name must not be empty")
                if p.name == "speed" and p.value < 0.0:
                    return SetParametersResult(successful=False, reason="speed must not be negative")
            return SetParametersResult(successful=True)

        def post_set(parameters):
            on_main = threading.current_thread() is threading.main_thread()
            for p in parameters:
                self.get_logger().info(f"post-set {p.name} = {self.show(p.value)} (main thread: {on_main})")

        self.add_pre_set_parameters_callback(pre_set)
        self.add_on_set_parameters_callback(on_set)
        self.add_post_set_parameters_callback(post_set)

    @staticmethod
    def show(value):
        return value if isinstance(value, bool | int | float | str) or value is None else list(value)


def main(args=None):
    try:
        with rclpy.init(args=args):
            node = ParameterServer()
            print("ready", flush=True)
            rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == "__main__":
    main()
