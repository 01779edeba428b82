"""Calls ``add_two_ints`` once with the two integers given on the command line."""

from __future__ import annotations

import asyncio
import logging
import sys

from example_interfaces.srv import AddTwoInts

from robotfleet_nodes.node import Context, Node


async def call(a: int, b: int) -> int:
    async with Context(args=sys.argv[1:]) as context:
        node = Node("add_two_ints_client", context=context)
        await node.start()
        client = await node.create_client(AddTwoInts, "add_two_ints")
        if not await client.wait_for_service(timeout=10.0):
            raise SystemExit("add_two_ints is not available: start add_two_ints_server first")
        response = await client.call(AddTwoInts.Request(a=a, b=b), timeout=5.0)
        node.get_logger().info("Result of add_two_ints: %d + %d = %d", a, b, response.sum)
        return int(response.sum)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    numbers = [arg for arg in sys.argv[1:] if not arg.startswith("-")][:2]
    a, b = (int(n) for n in numbers) if len(numbers) == 2 else (2, 3)
    print(asyncio.run(call(a, b)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
