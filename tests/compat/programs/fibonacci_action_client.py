"""A Fibonacci action client in the style of ROS 2's minimal action clients (rclpy/actions).

``fibonacci_action_client.py ORDER`` sends one goal and prints the goal response, every
feedback and the result; ``fibonacci_action_client.py ORDER cancel`` cancels the goal once
two feedbacks arrived (like client_cancel.py) and prints the cancel outcome and the result.
"""

import sys

import rclpy
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.node import Node
from test_msgs.action import Fibonacci

STATUS = {
    GoalStatus.STATUS_SUCCEEDED: "SUCCEEDED",
    GoalStatus.STATUS_CANCELED: "CANCELED",
    GoalStatus.STATUS_ABORTED: "ABORTED",
    GoalStatus.STATUS_UNKNOWN: "UNKNOWN",
}


def say(text):
    print(text, flush=True)


class FibonacciActionClient(Node):
    def __init__(self, cancel_after):
        super().__init__("fibonacci_action_client")
        self._action_client = ActionClient(self, Fibonacci, "fibonacci")
        self._cancel_after = cancel_after
        self._feedbacks = 0
        self._goal_handle = None
        self._canceling = False
        self._waiting = {"result"} | ({"cancel"} if cancel_after is not None else set())

    @property
    def done(self):
        return not self._waiting

    def send_goal(self, order):
        self._action_client.wait_for_server()
        goal_msg = Fibonacci.Goal()
        goal_msg.order = order
        self._send_goal_future = self._action_client.send_goal_async(
            goal_msg, feedback_callback=self.feedback_callback
        )
        self._send_goal_future.add_done_callback(self.goal_response_callback)

    def goal_response_callback(self, future):
        goal_handle = future.result()
        if not goal_handle.accepted:
            say("Goal rejected :(")
            self._waiting.clear()
            return
        self._goal_handle = goal_handle
        say("Goal accepted :)")
        self._get_result_future = goal_handle.get_result_async()
        self._get_result_future.add_done_callback(self.get_result_callback)
        self.maybe_cancel()

    def feedback_callback(self, feedback):
        self._feedbacks += 1
        if self._cancel_after is not None and self._feedbacks > self._cancel_after:
            return  # feedback still in flight while the cancel request travels
        say(f"Received feedback: {list(feedback.feedback.sequence)}")
        self.maybe_cancel()

    def maybe_cancel(self):
        """Cancel once the goal is accepted and enough feedback came (in either order)."""
        if self._cancel_after is None or self._goal_handle is None or self._canceling:
            return
        if self._feedbacks >= self._cancel_after:
            self._canceling = True
            say("Canceling goal")
            self._goal_handle.cancel_goal_async().add_done_callback(self.cancel_done)

    def cancel_done(self, future):
        cancel_response = future.result()
        if len(cancel_response.goals_canceling) > 0:
            say("Goal successfully canceled")
        else:
            say("Goal failed to cancel")
        self._waiting.discard("cancel")

    def get_result_callback(self, future):
        response = future.result()
        if response.status == GoalStatus.STATUS_SUCCEEDED:
            say(f"Result: {list(response.result.sequence)}")
        say(f"Goal status: {STATUS.get(response.status, response.status)}")
        self._waiting.discard("result")


def main(args=None):
    rclpy.init(args=args)
    order = int(sys.argv[1])
    cancel_after = 2 if "cancel" in sys.argv[2:] else None
    client = FibonacciActionClient(cancel_after)
    client.send_goal(order)
    while rclpy.ok() and not client.done:
        rclpy.spin_once(client, timeout_sec=1.0)
    client.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
