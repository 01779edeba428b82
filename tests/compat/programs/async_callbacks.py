"""Coroutine callbacks, as ros2/examples' client_async_callback.py: an ``async def`` timer
callback awaits service calls (``await cli.call_async(req)``) while a single-threaded
executor keeps spinning (the service runs in between); the coroutine holds its callback
group until it returns."""

import threading

import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import SingleThreadedExecutor
from std_srvs.srv import SetBool


def main():
    with rclpy.init():
        node = rclpy.create_node("async_callbacks")
        node.create_service(
            SetBool, "async_enable", lambda req, res: setattr(res, "success", req.data) or res
        )
        cli = node.create_client(SetBool, "async_enable", callback_group=ReentrantCallbackGroup())
        while not cli.wait_for_service(timeout_sec=1.0):
            pass
        group = MutuallyExclusiveCallbackGroup()
        events = []
        done = threading.Event()

        async def call_twice():
            timer.cancel()
            events.append("start")
            for data in (True, False):
                response = await cli.call_async(SetBool.Request(data=data))
                events.append(f"data={data} success={response.success}")
            events.append("end")
            done.set()

        def same_group():  # must not run while call_twice is suspended (same exclusive group)
            if "start" in events and "end" not in events:
                events.append("same group ran during the coroutine")

        timer = node.create_timer(0.01, call_twice, callback_group=group)
        node.create_timer(0.01, same_group, callback_group=group)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not done.is_set():
            executor.spin_once(timeout_sec=1.0)
        for line in events:
            print(line, flush=True)
        node.destroy_node()


if __name__ == "__main__":
    main()
