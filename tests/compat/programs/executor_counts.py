"""A 1 s blocking callback (a 0.5 s timer) beside a 10 Hz timer, spun for 3 s.

Usage: executor_counts.py single|multi|multi-groups. Prints one JSON line: the fast ticks,
the fast ticks that ran while the blocking callback was inside its sleep, and whether any
callback ran on a thread named ``rclpy-asyncio`` (our asyncio thread).
"""

import json
import sys
import threading
import time

import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node


class Counts(Node):
    def __init__(self, groups):
        super().__init__("executor_counts")
        slow_group = MutuallyExclusiveCallbackGroup() if groups else None
        fast_group = MutuallyExclusiveCallbackGroup() if groups else None
        self.ticks = 0
        self.during_block = 0
        self.blocking = False
        self.on_asyncio_thread = False
        self.create_timer(0.5, self.block, callback_group=slow_group)
        self.create_timer(0.1, self.tick, callback_group=fast_group)

    def _check_thread(self):
        if threading.current_thread().name.startswith("rclpy-asyncio"):
            self.on_asyncio_thread = True

    def block(self):
        self._check_thread()
        self.blocking = True
        time.sleep(1.0)
        self.blocking = False

    def tick(self):
        self._check_thread()
        self.ticks += 1
        if self.blocking:
            self.during_block += 1


def main():
    mode = sys.argv[1]
    rclpy.init()
    node = Counts(groups=mode == "multi-groups")
    executor = SingleThreadedExecutor() if mode == "single" else MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=max(end - time.monotonic(), 0.0))
    result = {
        "ticks": node.ticks,
        "during_block": node.during_block,
        "on_asyncio_thread": node.on_asyncio_thread,
    }
    print(json.dumps(result), flush=True)
    executor.shutdown(timeout_sec=0)
    rclpy.shutdown()


if __name__ == "__main__":
    main()
