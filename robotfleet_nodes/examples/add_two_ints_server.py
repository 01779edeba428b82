"""Serves ``add_two_ints`` (example_interfaces/srv/AddTwoInts), as ROS 2's demo does."""

from __future__ import annotations

from typing import Any

from example_interfaces.srv import AddTwoInts

from robotfleet_nodes.node import Context, Node, run_nodes


class AddTwoIntsServer(Node):
    def __init__(self, context: Context, **options: Any) -> None:
        super().__init__("add_two_ints_server", context=context, **options)

    async def on_start(self) -> None:
        await self.create_service(AddTwoInts, "add_two_ints", self.add)

    def add(self, request: Any, response: Any) -> Any:
        response.sum = request.a + request.b
        self.get_logger().info("Incoming request a: %d b: %d", request.a, request.b)
        return response


def main() -> int:
    return run_nodes(AddTwoIntsServer)


if __name__ == "__main__":
    raise SystemExit(main())
