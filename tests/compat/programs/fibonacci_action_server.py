"""A Fibonacci action server in the style of ROS 2's minimal action server (rclpy/actions).

Rejects orders above 40, accepts cancel requests, aborts order 0; executes goals in
parallel on a multi-threaded executor. Prints what it does on stdout ("ready" first).
"""

import time

import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from test_msgs.action import Fibonacci


def say(text):
    print(text, flush=True)


class FibonacciActionServer(Node):
    def __init__(self):
        super().__init__("fibonacci_action_server")
        self._action_server = ActionServer(
            self,
            Fibonacci,
            "fibonacci",
            execute_callback=self.execute_callback,
            callback_group=ReentrantCallbackGroup(),
            goal_callback=self.goal_callback,
            cancel_callback=self.cancel_callback,
        )

    def destroy(self):
        self._action_server.destroy()
        super().destroy_node()

    def goal_callback(self, goal_request):
        """Accept or reject a client request to begin an action."""
        if goal_request.order > 40:
            say(f"Rejecting goal of order {goal_request.order}")
            return GoalResponse.REJECT
        say(f"Accepting goal of order {goal_request.order}")
        return GoalResponse.ACCEPT

    def cancel_callback(self, goal_handle):
        """Accept every cancel request."""
        say("Received cancel request")
        return CancelResponse.ACCEPT

    def execute_callback(self, goal_handle):
        """Execute a goal: one feedback per step."""
        say("Executing goal...")
        if goal_handle.request.order == 0:
            goal_handle.abort()
            say("Goal aborted")
            return Fibonacci.Result()
        feedback_msg = Fibonacci.Feedback()
        feedback_msg.sequence = [0, 1]
        for i in range(1, goal_handle.request.order):
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
                say("Goal canceled")
                return Fibonacci.Result(sequence=feedback_msg.sequence)
            feedback_msg.sequence.append(feedback_msg.sequence[i] + feedback_msg.sequence[i - 1])
            goal_handle.publish_feedback(feedback_msg)
            time.sleep(float(goal_handle.request.order) / 100.0)
        goal_handle.succeed()
        result = Fibonacci.Result()
        result.sequence = feedback_msg.sequence
        say(f"Returning result: {list(result.sequence)}")
        return result


def main(args=None):
    try:
        with rclpy.init(args=args):
            server = FibonacciActionServer()
            say("ready")
            executor = MultiThreadedExecutor()
            rclpy.spin(server, executor=executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == "__main__":
    main()
