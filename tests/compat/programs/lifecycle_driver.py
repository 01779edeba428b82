"""Drives lifecycle_talker.py through its lifecycle services, like ``ros2 lifecycle set``.

Prints the talker's state after each transition, its available transitions, whether each
change_state request succeeded, and whether lifecycle_chatter carried messages while the
talker was active.
"""

import threading

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetAvailableTransitions, GetState
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String


def say(text):
    print(text, flush=True)


class LifecycleDriver(Node):
    def __init__(self):
        super().__init__("lifecycle_driver")
        self._change = self.create_client(ChangeState, "lc_talker/change_state")
        self._get = self.create_client(GetState, "lc_talker/get_state")
        self._transitions = self.create_client(GetAvailableTransitions, "lc_talker/get_available_transitions")
        self.heard = threading.Event()
        self.create_subscription(String, "lifecycle_chatter", self.listener_callback, 10)

    def listener_callback(self, msg):
        if msg.data.startswith("Lifecycle HelloWorld #"):
            self.heard.set()

    def call(self, client, request):
        client.wait_for_service()
        return client.call(request)

    def state(self):
        return self.call(self._get, GetState.Request()).current_state.label

    def change(self, transition_id=0, label=""):
        request = ChangeState.Request()
        request.transition = Transition(id=transition_id, label=label)
        success = self.call(self._change, request).success
        say(f"{label or transition_id}: success={success} state={self.state()}")

    def available(self):
        response = self.call(self._transitions, GetAvailableTransitions.Request())
        return [t.transition.label for t in response.available_transitions]


def main():
    rclpy.init()
    driver = LifecycleDriver()
    executor = SingleThreadedExecutor()
    executor.add_node(driver)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    say(f"state={driver.state()} available={driver.available()}")
    driver.change(Transition.TRANSITION_CONFIGURE)
    say(f"available={driver.available()}")
    driver.change(Transition.TRANSITION_DEACTIVATE)  # not allowed from inactive
    driver.change(label="activate")
    say(f"heard while active: {driver.heard.wait(30)}")
    driver.change(label="deactivate")
    driver.change(Transition.TRANSITION_CLEANUP)
    driver.change(label="shutdown")
    say(f"available={driver.available()}")
    executor.shutdown()
    spinner.join(timeout=10)
    driver.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
