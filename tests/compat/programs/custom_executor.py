"""A custom executor (``wait_for_ready_callbacks``) and a custom callback group (a token
bucket of three, never refilled), in the style of ros2/examples' custom_executor.py and
custom_callback_group.py: the timer runs exactly three times, each on the executor's pool."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import rclpy
from rclpy.callback_groups import CallbackGroup
from rclpy.executors import Executor, TimeoutException


class ThreeTokens(CallbackGroup):
    def __init__(self):
        super().__init__()
        self.tokens = 3
        self.lock = threading.Lock()

    def can_execute(self, entity):
        return self.tokens > 0

    def beginning_execution(self, entity):
        with self.lock:
            if self.tokens > 0:
                self.tokens -= 1
                return True
            return False

    def ending_execution(self, entity):
        pass


class PoolExecutor(Executor):
    def __init__(self):
        super().__init__()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pool")
        self.nodes_seen = set()

    def spin_once(self, timeout_sec=None):
        try:
            handler, _entity, node = self.wait_for_ready_callbacks(timeout_sec=timeout_sec)
        except TimeoutException:
            return
        self.nodes_seen.add(node.get_name())
        self.pool.submit(handler)


def main():
    with rclpy.init():
        node = rclpy.create_node("throttled")
        group = ThreeTokens()
        threads = []
        node.create_timer(0.02, lambda: threads.append(threading.current_thread().name), callback_group=group)
        executor = PoolExecutor()
        executor.add_node(node)
        deadline = time.monotonic() + 1.0  # ~50 periods: only three tokens
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        executor.pool.shutdown(wait=True)
        print(
            json.dumps(
                {
                    "runs": len(threads),
                    "on_pool": all(name.startswith("pool") for name in threads),
                    "nodes": sorted(executor.nodes_seen),
                    "member": group.has_entity(node.create_timer(1.0, lambda: None, callback_group=group)),
                }
            ),
            flush=True,
        )
        node.destroy_node()


if __name__ == "__main__":
    main()
