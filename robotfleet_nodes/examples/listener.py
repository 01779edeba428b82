"""Prints every message on ``chatter`` (ROS 2's demo listener)."""

from __future__ import annotations

from typing import Any

from std_msgs.msg import String

from robotfleet_nodes.node import Context, Node, run_nodes


class Listener(Node):
    def __init__(self, context: Context, **options: Any) -> None:
        super().__init__("listener", context=context, **options)

    async def on_start(self) -> None:
        await self.create_subscription(String, "chatter", self.on_message, 10)

    def on_message(self, msg: String) -> None:
        self.get_logger().info('I heard: "%s"', msg.data)


def main() -> int:
    return run_nodes(Listener)


if __name__ == "__main__":
    raise SystemExit(main())
