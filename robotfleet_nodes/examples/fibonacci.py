"""The Fibonacci action (example_interfaces/action/Fibonacci): ``server`` or ``client N``."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from example_interfaces.action import Fibonacci

from robotfleet_nodes.action import ActionClient, ActionServer, ServerGoalHandle
from robotfleet_nodes.node import Context, Node, run_nodes


class FibonacciServer(Node):
    def __init__(self, context: Context, **options: Any) -> None:
        super().__init__("fibonacci_server", context=context, **options)

    async def on_start(self) -> None:
        self.server = await ActionServer.create(self, Fibonacci, "fibonacci", self.execute)

    async def execute(self, goal: ServerGoalHandle) -> Any:
        sequence = [0, 1]
        for _ in range(1, goal.request.order):
            sequence.append(sequence[-1] + sequence[-2])
            await goal.publish_feedback(Fibonacci.Feedback(sequence=sequence))
            await asyncio.sleep(0.1)  # pretend each step is work
        goal.succeed()
        return Fibonacci.Result(sequence=sequence)


async def send_goal(order: int) -> list[int]:
    async with Context() as context:
        node = Node("fibonacci_client", context=context)
        await node.start()
        client = await ActionClient.create(node, Fibonacci, "fibonacci")
        if not await client.wait_for_server(timeout=10.0):
            raise SystemExit("fibonacci action server not available: start `fibonacci server` first")

        def feedback(msg: Any) -> None:
            node.get_logger().info("Feedback: %s", list(msg.feedback.sequence))

        handle = await client.send_goal(Fibonacci.Goal(order=order), feedback_callback=feedback)
        result = await handle.get_result()
        node.get_logger().info("Result: %s", list(result.result.sequence))
        return list(result.result.sequence)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        order = int(sys.argv[2]) if len(sys.argv) > 2 else 10
        print(asyncio.run(send_goal(order)))
        return 0
    return run_nodes(FibonacciServer, argv=sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
