"""Publishes ``Hello World: N`` on ``chatter`` twice a second (ROS 2's demo talker)."""

from __future__ import annotations

from typing import Any

from std_msgs.msg import String

from robotfleet_nodes.node import Context, Node, run_nodes


class Talker(Node):
    def __init__(self, context: Context, **options: Any) -> None:
        super().__init__("talker", context=context, **options)
        self.count = 0

    async def on_start(self) -> None:
        self.pub = await self.create_publisher(String, "chatter", 10)
        self.create_timer(0.5, self.tick)

    async def tick(self) -> None:
        self.count += 1
        msg = String(data=f"Hello World: {self.count}")
        self.get_logger().info('Publishing: "%s"', msg.data)
        await self.pub.publish(msg)


def main() -> int:
    return run_nodes(Talker)


if __name__ == "__main__":
    raise SystemExit(main())
