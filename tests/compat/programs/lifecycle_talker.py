"""A lifecycle talker in the style of ROS 2's lifecycle_py demo (demos/lifecycle_py/talker.py).

Publishes "Lifecycle HelloWorld #N" on ``lifecycle_chatter`` while active; its transitions
are driven from outside through ``lc_talker/change_state`` (see lifecycle_driver.py).
Prints each transition callback on stdout ("ready" first).
"""

import rclpy
import std_msgs.msg
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import Node, State, TransitionCallbackReturn


def say(text):
    print(text, flush=True)


class LifecycleTalker(Node):
    """Our lifecycle talker node."""

    def __init__(self, node_name, **kwargs):
        self._count = 0
        self._pub = None
        self._timer = None
        super().__init__(node_name, **kwargs)

    def publish(self):
        msg = std_msgs.msg.String()
        msg.data = "Lifecycle HelloWorld #" + str(self._count)
        self._count += 1
        if self._pub is None or not self._pub.is_activated:
            self.get_logger().info("Lifecycle publisher is inactive. Messages are not published.")
        else:
            self.get_logger().info(f"Lifecycle publisher is active. Publishing: [{msg.data}]")
        if self._pub is not None:
            self._pub.publish(msg)

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        self._pub = self.create_lifecycle_publisher(std_msgs.msg.String, "lifecycle_chatter", 10)
        self._timer = self.create_timer(0.1, self.publish)
        say(f"on_configure() is called from {state.label}.")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        say(f"on_activate() is called from {state.label}.")
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        say(f"on_deactivate() is called from {state.label}.")
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self.destroy_timer(self._timer)
        self.destroy_publisher(self._pub)
        self._pub = self._timer = None
        say(f"on_cleanup() is called from {state.label}.")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self.destroy_publisher(self._pub)
        say(f"on_shutdown() is called from {state.label}.")
        return TransitionCallbackReturn.SUCCESS


def main():
    try:
        with rclpy.init():
            executor = SingleThreadedExecutor()
            lc_node = LifecycleTalker("lc_talker")
            executor.add_node(lc_node)
            say("ready")
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == "__main__":
    main()
