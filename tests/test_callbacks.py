"""robotfleet_nodes/_callbacks.py: cancel_and_wait (the task helpers the packages share)."""

from __future__ import annotations

import asyncio

from robotfleet_nodes._callbacks import cancel_and_wait


async def test_cancel_and_wait_ends_a_task_that_swallowed_a_cancel() -> None:
    """Python 3.11's wait_for drops a cancel that lands with the reply: the loop goes on."""
    inside = asyncio.Event()
    turns = 0

    async def loop() -> None:
        nonlocal turns
        while True:
            turns += 1
            inside.set()
            try:
                await asyncio.sleep(3600)  # a request whose reply is on its way
            except asyncio.CancelledError:
                if turns > 1:
                    raise
                # the reply won: the cancel is gone, the loop takes its next turn

    task = asyncio.create_task(loop())
    await asyncio.wait_for(inside.wait(), timeout=10)
    await asyncio.wait_for(cancel_and_wait(task, retry_s=0.05), timeout=10)
    assert task.cancelled() and turns == 2


async def test_cancel_and_wait_takes_none_and_ended_tasks() -> None:
    await cancel_and_wait(None)
    done = asyncio.create_task(asyncio.sleep(0, result=1))
    await done
    await cancel_and_wait(done)
    assert done.result() == 1
