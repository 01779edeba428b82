"""The edge's side of issue 13 on a real broker: refusals, the journal, leases, GetExecutions.

The zone's side is played by :class:`FakeZone`, a small node that sends goals with an
ActionClient, publishes ``LeaseRenewal`` messages itself and asks ``/robots/<id>/journal``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import eventually

from robotfleet_nodes.action import ActionClient, ClientGoalHandle, ExecuteTask, GoalStatus
from robotfleet_nodes.config import EdgeConfig
from robotfleet_nodes.edge import _journal_writer, _lease
from robotfleet_nodes.edge._stepper import STALE_GOAL_WINDOW_S
from robotfleet_nodes.edge.driver import RobotDriver
from robotfleet_nodes.edge.journal import journal_dir
from robotfleet_nodes.edge.node import STATUS_QOS, STOPPED_GAP_S, EdgeNode, driver_from_config
from robotfleet_nodes.msg import ExecutionRecord, LeaseRenewal, RobotStatus
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.srv import GetExecutions
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

ContextFactory = Callable[[], AbstractAsyncContextManager[Context]]
Result = ExecuteTask.Result
PAUSE, STOP, FINISH = (
    ExecuteTask.Goal.LEASE_LOSS_PAUSE,
    ExecuteTask.Goal.LEASE_LOSS_STOP,
    ExecuteTask.Goal.LEASE_LOSS_FINISH,
)


@pytest.fixture
def make_context(nats_url: str, unique: str) -> ContextFactory:
    @asynccontextmanager
    async def factory() -> AsyncIterator[Context]:
        transport = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
        try:
            async with Context(transport=transport, enable_rosout=False) as context:
                yield context
        finally:
            await transport.close()

    return factory


def config(robot_id: str = "robot-7", **sim: Any) -> EdgeConfig:
    settings: dict[str, Any] = {"speed": 50.0, "work_time_s": {"pick": 0.2, "long": 60.0}, **sim}
    return EdgeConfig.model_validate(
        {"robot_id": robot_id, "zone_id": "zone-1", "status_rate_hz": 10.0, "sim": settings}
    )


def journal_lines(robot_id: str = "robot-7") -> list[dict[str, Any]]:
    path = journal_dir() / f"{robot_id}.journal"
    return [{k: v for k, v in json.loads(line).items() if k != "t"} for line in path.read_text().splitlines()]


class FakeZone:
    """The zone side: goals, renewals, revocations and journal questions for one robot."""

    def __init__(self, ctx: Context, robot_id: str = "robot-7") -> None:
        self.ctx = ctx
        self.robot_id = robot_id
        self.statuses: list[Any] = []
        self._seq = 0
        self._renewing: asyncio.Task[None] | None = None

    async def start(self) -> FakeZone:
        node = self.node = Node("zone", context=self.ctx, namespace="/zones/zone-1")
        await node.start()
        self.client = await ActionClient.create(
            node, ExecuteTask, f"/robots/{self.robot_id}/execute", status_qos=STATUS_QOS
        )
        assert await self.client.wait_for_server(timeout=10.0)
        self.leases = await node.create_publisher(LeaseRenewal, "/zones/zone-1/leases", 10)
        self.journal = await node.create_client(GetExecutions, f"/robots/{self.robot_id}/journal")
        assert await self.journal.wait_for_service(timeout=10.0)
        await node.create_subscription(
            RobotStatus, f"/robots/{self.robot_id}/status", self.statuses.append, STATUS_QOS
        )
        await eventually(lambda: self.statuses, what="a status")
        return self

    async def goal(
        self,
        order_id: str,
        attempt: int,
        *,
        task: str = "pick",
        lease_s: float = 0.0,
        on_loss: int = PAUSE,
        target: tuple[float, float] | None = (3.0, 4.0),
    ) -> ClientGoalHandle:
        goal = ExecuteTask.Goal(
            order_id=order_id,
            task=task,
            has_target=target is not None,
            target_x=target[0] if target else 0.0,
            target_y=target[1] if target else 0.0,
            attempt=attempt,
            lease_s=lease_s,
            on_lease_loss=on_loss,
        )
        handle = await self.client.send_goal(goal)
        assert handle.accepted, "the edge accepts every goal"
        return handle

    async def renew(self, order_id: str, attempt: int, status_seq: int, lease_s: float = 0.5) -> None:
        self._seq += 1
        await self.leases.publish(
            LeaseRenewal(
                granter="zone-1",
                seq=self._seq,
                lease_s=lease_s,
                holders=[self.robot_id],
                order_ids=[order_id],
                attempts=[attempt],
                status_seqs=[status_seq],
            )
        )

    async def revoke(self, order_id: str, attempt: int) -> None:
        self._seq += 1
        await self.leases.publish(
            LeaseRenewal(
                granter="zone-1",
                seq=self._seq,
                lease_s=0.5,
                revoked_holders=[self.robot_id],
                revoked_order_ids=[order_id],
                revoked_attempts=[attempt],
            )
        )

    def keep_renewing(self, order_id: str, attempt: int) -> None:
        """Renew every 0.1 s with the latest status seq received (what a zone does)."""

        async def loop() -> None:
            while True:
                await self.renew(order_id, attempt, self.statuses[-1].seq)
                await asyncio.sleep(0.1)

        self._renewing = asyncio.ensure_future(loop())

    async def stop_renewing(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing

    async def ask(self, *asked: tuple[str, int]) -> list[Any]:
        request = GetExecutions.Request(order_ids=[o for o, _ in asked], attempts=[a for _, a in asked])
        response = await self.journal.call(request, timeout=10.0)
        return list(response.records)

    async def statuses_after(self, count: int) -> list[Any]:
        """The next ``count`` status messages."""
        start = len(self.statuses)
        await eventually(lambda: len(self.statuses) >= start + count, what=f"{count} more statuses")
        return self.statuses[start : start + count]


async def result(handle: ClientGoalHandle) -> tuple[int, Any]:
    response = await handle.get_result(timeout=20.0)
    return response.status, response.result


async def test_each_refusal_kind_ends_an_accepted_goal(make_context: ContextFactory) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()

        status, res = await result(await zone.goal("wo-1", 1))  # lease_s 0: runs to its end
        assert status == GoalStatus.SUCCEEDED and res.success
        assert (res.refused, res.attempt) == (Result.REFUSED_NONE, 1)

        status, res = await result(await zone.goal("wo-1", 2))
        assert status == GoalStatus.SUCCEEDED, "done already: success, not run again"
        assert (res.success, res.refused, res.attempt) == (True, Result.REFUSED_DONE, 1)

        long = await zone.goal("wo-2", 3, task="long")
        await eventually(lambda: zone.statuses[-1].current_order_id == "wo-2", what="wo-2 executing")
        assert zone.statuses[-1].current_attempt == 3
        _, res = await result(await zone.goal("wo-3", 1))
        assert (res.success, res.refused, res.attempt) == (False, Result.REFUSED_ROBOT, 1)
        assert "busy with work order 'wo-2'" in res.message
        _, res = await result(await zone.goal("wo-2", 2))
        assert (res.refused, res.attempt) == (Result.REFUSED_STALE, 3)
        _, res = await result(await zone.goal("wo-2", 3))
        assert (res.refused, res.attempt) == (Result.REFUSED_STALE, 3)
        await long.cancel_goal()
        status, res = await result(long)
        assert status == GoalStatus.CANCELED and (res.refused, res.attempt) == (Result.REFUSED_NONE, 3)
        _, res = await result(await zone.goal("wo-2", 3))
        assert (res.refused, res.attempt) == (Result.REFUSED_STALE, 3), "ended at 3: stale"

        status, res = await result(await zone.goal("wo-4", 1, target=(math.nan, 0.0)))
        assert status == GoalStatus.ABORTED
        assert (res.success, res.refused, res.attempt) == (False, Result.REFUSED_ORDER, 1)
        assert "finite" in res.message

        assert journal_lines() == [
            {"e": "start", "o": "wo-1", "a": 1},
            {"e": "end", "o": "wo-1", "a": 1, "s": "SUCCEEDED", "m": "completed"},
            {"e": "start", "o": "wo-2", "a": 3},
            {"e": "end", "o": "wo-2", "a": 3, "s": "CANCELLED", "m": "cancelled"},
            {"e": "start", "o": "wo-4", "a": 1},
            {"e": "end", "o": "wo-4", "a": 1, "s": "REFUSED", "m": res.message},
        ]


async def test_a_robot_refusal_uses_no_attempt(make_context: ContextFactory) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(battery_start_percent=10.0), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        for _ in range(2):  # the same attempt again: still the robot's reason, not stale
            status, res = await result(await zone.goal("wo-1", 1))
            assert status == GoalStatus.ABORTED
            assert (res.refused, res.attempt) == (Result.REFUSED_ROBOT, 1)
            assert "battery too low" in res.message


async def test_a_question_during_the_start_write_sees_running(
    make_context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    write = _journal_writer.write

    def held(fd: int, data: bytes, error: Any = None) -> asyncio.Future[None]:
        durable = write(fd, data, error)
        if b'"start"' not in data:
            return durable

        async def later() -> None:
            await durable
            await gate.wait()

        return asyncio.ensure_future(later())

    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        monkeypatch.setattr(_journal_writer, "write", held)
        handle = await zone.goal("wo-1", 1)
        await eventually(lambda: edge.current_order_id == "wo-1", what="the start being written")
        (record,) = await zone.ask(("wo-1", 1))
        assert (record.state, record.attempt) == (ExecutionRecord.STATE_RUNNING, 1)
        assert zone.statuses[-1].current_order_id == "", "the driver has not started it yet"
        gate.set()
        status, res = await result(handle)
        assert status == GoalStatus.SUCCEEDED and res.success


async def test_a_cancel_or_revocation_during_the_start_write_ends_it_unstarted(
    make_context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    write = _journal_writer.write

    def held(fd: int, data: bytes, error: Any = None) -> asyncio.Future[None]:
        durable = write(fd, data, error)
        if b'"start"' not in data:
            return durable

        async def later() -> None:
            await durable
            await gate.wait()

        return asyncio.ensure_future(later())

    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        monkeypatch.setattr(_journal_writer, "write", held)
        cancelled = await zone.goal("wo-1", 1, task="long")
        await eventually(lambda: edge.current_order_id == "wo-1", what="the start being written")
        answer = await cancelled.cancel_goal()
        assert len(answer.goals_canceling) == 1
        gate.set()
        status, res = await result(cancelled)
        assert status == GoalStatus.CANCELED and not res.success
        gate.clear()
        revoked = await zone.goal("wo-2", 1, task="long", lease_s=30.0)
        await eventually(lambda: edge.current_order_id == "wo-2", what="the start being written")
        await zone.revoke("wo-2", 1)
        await eventually(lambda: edge._task is not None and edge._task.stop_reason, what="the revocation")
        gate.set()
        status, res = await result(revoked)
        assert status == GoalStatus.ABORTED and res.message == "revoked by zone-1"
        assert all(m.current_order_id == "" for m in zone.statuses), "the driver never started either"
        assert journal_lines() == [
            {"e": "start", "o": "wo-1", "a": 1},
            {"e": "end", "o": "wo-1", "a": 1, "s": "CANCELLED", "m": "cancelled"},
            {"e": "start", "o": "wo-2", "a": 1},
            {"e": "end", "o": "wo-2", "a": 1, "s": "CANCELLED", "m": "revoked by zone-1"},
        ]


async def test_lease_loss_pauses_and_only_a_fresh_status_seq_resumes(make_context: ContextFactory) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(work_time_s={"pick": 1.0}), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        handle = await zone.goal("wo-1", 1, lease_s=0.3, on_loss=PAUSE)
        await eventually(lambda: any(m.paused for m in zone.statuses), what="a paused status")
        first = next(m for m in zone.statuses if m.paused)
        assert (first.current_order_id, first.current_attempt) == ("wo-1", 1)
        held = await zone.statuses_after(3)
        assert all(m.paused and m.order_progress == first.order_progress for m in held), "no progress"
        assert first.order_progress < 1.0
        (record,) = await zone.ask(("wo-1", 1))
        assert (record.state, record.attempt) == (ExecutionRecord.STATE_PAUSED, 1)

        await zone.renew("wo-1", 1, first.seq - 1)  # answers a status from before the loss
        await zone.renew("wo-1", 2, zone.statuses[-1].seq)  # another attempt
        await zone.renew("wo-2", 1, zone.statuses[-1].seq)  # another order
        assert all(m.paused for m in await zone.statuses_after(3)), "a stale renewal does not revive"

        zone.keep_renewing("wo-1", 1)
        await eventually(lambda: not zone.statuses[-1].paused, what="resumed")
        status, res = await result(handle)
        await zone.stop_renewing()
        assert status == GoalStatus.SUCCEEDED and res.success
        assert journal_lines()[-1] == {"e": "end", "o": "wo-1", "a": 1, "s": "SUCCEEDED", "m": "completed"}


async def test_a_stopped_process_steps_only_to_the_lease_end_and_buffered_renewals_do_not_revive(
    make_context: ContextFactory,
) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(speed=1.0), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        start = edge.driver.status.pose
        lease_s = 0.4
        await zone.goal(
            "wo-1", 1, task="move", lease_s=lease_s, on_loss=PAUSE, target=(start.x + 100.0, start.y)
        )
        await eventually(lambda: zone.statuses[-1].current_order_id == "wo-1", what="executing")
        await zone.renew("wo-1", 1, zone.statuses[-1].seq, lease_s=lease_s)  # waits in a buffer
        time.sleep(3 * lease_s)  # noqa: ASYNC251 - the whole process stops (as under SIGSTOP)
        await eventually(lambda: zone.statuses[-1].paused, what="paused after the stop")
        await zone.statuses_after(3)
        assert zone.statuses[-1].paused, "the buffered renewal did not revive the lease"
        pose = edge.driver.status.pose
        # The driver ran to the lease's end (from the goal or the renewal, both before the
        # stop), not through the 3 s stop: at 1 m/s, well under 3 m.
        assert math.hypot(pose.x - start.x, pose.y - start.y) < 2 * lease_s


async def test_a_robot_stopped_with_its_process_does_not_finish_in_the_past(
    make_context: ContextFactory,
) -> None:
    """A simulated robot lives in its edge's process: stopped (SIGSTOP) past its lease, it
    did not work meanwhile, so a task it would have finished within the lease is held."""
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(work_time_s={"pick": 0.6}), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        here = edge.driver.status.pose
        await zone.goal("wo-1", 1, lease_s=1.0, on_loss=PAUSE, target=(here.x, here.y))
        await eventually(lambda: zone.statuses[-1].current_order_id == "wo-1", what="executing")
        time.sleep(STOPPED_GAP_S + 1.5)  # noqa: ASYNC251 - the whole process stops (as under SIGSTOP)
        await eventually(lambda: zone.statuses[-1].paused, what="paused after the stop")
        (record,) = await zone.ask(("wo-1", 1))
        assert record.state == ExecutionRecord.STATE_PAUSED, "it did not finish while stopped"
        assert edge.driver.status.progress < 1.0


async def test_a_goal_read_right_after_the_process_was_stopped_is_refused(
    make_context: ContextFactory,
) -> None:
    """A goal that waited in a buffer while the edge's process was stopped may be stale (its
    order moved on meanwhile, and the revocation may be read after it): refused, about the
    robot (no attempt used), for a moment after the stop; later goals run."""
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        sending = asyncio.ensure_future(zone.goal("wo-1", 1, lease_s=5.0))
        time.sleep(STOPPED_GAP_S + 1.0)  # noqa: ASYNC251 - the whole process stops (as under SIGSTOP)
        _, res = await result(await sending)
        assert (res.refused, res.attempt) == (Result.REFUSED_ROBOT, 1), res
        assert "stopped" in res.message
        await asyncio.sleep(STALE_GOAL_WINDOW_S)  # the moment after the stop passes
        _, res = await result(await zone.goal("wo-1", 1, lease_s=5.0))
        assert (res.success, res.refused) == (True, Result.REFUSED_NONE), res


async def test_a_renewal_read_after_the_lease_end_applies_the_loss_first(
    make_context: ContextFactory,
) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        await zone.goal("wo-1", 1, task="long", lease_s=1.0, on_loss=PAUSE)
        await eventually(lambda: zone.statuses[-1].current_order_id == "wo-1", what="executing")
        # what the listener does with a renewal that waited in a buffer while the process
        # was stopped for 5 s: it is read before the stepper's next pass
        late = time.monotonic() + 5.0
        edge.on_lease_renewed(
            "wo-1", 1, status_seq=zone.statuses[-1].seq, lease_s=1.0, granter="zone-1", now=late
        )
        (record,) = await zone.ask(("wo-1", 1))
        assert record.state == ExecutionRecord.STATE_PAUSED


async def test_lease_loss_with_stop_cancels_the_task(make_context: ContextFactory) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        status, res = await result(await zone.goal("wo-1", 1, task="long", lease_s=0.3, on_loss=STOP))
        assert status == GoalStatus.ABORTED
        assert (res.success, res.refused, res.attempt, res.message) == (
            False,
            Result.REFUSED_NONE,
            1,
            "lease lost",
        )
        assert journal_lines()[-1] == {"e": "end", "o": "wo-1", "a": 1, "s": "CANCELLED", "m": "lease lost"}
        (record,) = await zone.ask(("wo-1", 1))
        assert (record.state, record.message) == (ExecutionRecord.STATE_CANCELLED, "lease lost")
        assert record.started.sec > 0 and record.ended.sec >= record.started.sec


async def test_lease_loss_with_finish_runs_to_the_end(make_context: ContextFactory) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(work_time_s={"pick": 1.0}), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        status, res = await result(await zone.goal("wo-1", 1, lease_s=0.1, on_loss=FINISH))
        assert status == GoalStatus.SUCCEEDED and res.success
        assert not any(m.paused for m in zone.statuses)


class _NoPause(RobotDriver):
    """The simulator without pause support (the driver interface's default)."""

    def __init__(self, inner: RobotDriver) -> None:
        self._inner = inner

    robot_id = property(lambda self: self._inner.robot_id)
    status = property(lambda self: self._inner.status)

    def start_task(self, req: Any) -> None:
        self._inner.start_task(req)

    def cancel_task(self, task_id: str) -> bool:
        return self._inner.cancel_task(task_id)

    def step(self, now: float) -> Any:
        return self._inner.step(now)


async def test_a_driver_that_cannot_pause_stops_and_says_so_once(
    make_context: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with make_context() as edge_ctx, make_context() as ctx:
        cfg = config()
        edge = EdgeNode(cfg, context=edge_ctx, driver=_NoPause(driver_from_config(cfg)))
        await edge.start()
        zone = await FakeZone(ctx).start()
        for order in ("wo-1", "wo-2"):
            _, res = await result(await zone.goal(order, 1, task="long", lease_s=0.2, on_loss=PAUSE))
            assert (res.success, res.message) == (False, "lease lost")
    assert sum("cannot pause" in m for m in caplog.messages) == 1


async def test_a_revocation_cancels_at_once(make_context: ContextFactory) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        handle = await zone.goal("wo-1", 2, task="long", lease_s=30.0, on_loss=PAUSE)
        await eventually(lambda: zone.statuses[-1].current_order_id == "wo-1", what="executing")
        await zone.revoke("wo-1", 1)  # an older attempt: not this one
        await zone.revoke("wo-9", 2)  # another order
        await zone.statuses_after(3)
        (record,) = await zone.ask(("wo-1", 2))
        assert record.state == ExecutionRecord.STATE_RUNNING
        await zone.revoke("wo-1", 2)
        status, res = await result(handle)
        assert status == GoalStatus.ABORTED and res.message == "revoked by zone-1"
        assert journal_lines()[-1] == {
            "e": "end",
            "o": "wo-1",
            "a": 2,
            "s": "CANCELLED",
            "m": "revoked by zone-1",
        }


async def test_get_executions_answers_and_fences(make_context: ContextFactory) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        (unknown,) = await zone.ask(("wo-x", 2))
        assert (unknown.state, unknown.attempt) == (ExecutionRecord.STATE_UNKNOWN, 0)
        assert journal_lines() == [{"e": "fence", "o": "wo-x", "a": 2}], "durable before the answer"
        for attempt in (1, 2):
            _, res = await result(await zone.goal("wo-x", attempt))
            assert (res.refused, res.attempt) == (Result.REFUSED_STALE, 2)
        status, res = await result(await zone.goal("wo-x", 3))
        assert status == GoalStatus.SUCCEEDED and (res.refused, res.attempt) == (Result.REFUSED_NONE, 3)

        done, older, newer = await zone.ask(("wo-x", 3), ("wo-y", 1), ("wo-x", 4))
        assert (done.order_id, done.state, done.attempt, done.message) == (
            "wo-x",
            ExecutionRecord.STATE_SUCCEEDED,
            3,
            "completed",
        )
        assert done.started.sec > 0 and (done.ended.sec, done.ended.nanosec) >= (
            done.started.sec,
            done.started.nanosec,
        )
        assert (older.order_id, older.state) == ("wo-y", ExecutionRecord.STATE_UNKNOWN)
        assert (newer.state, newer.attempt) == (ExecutionRecord.STATE_SUCCEEDED, 3), "done is done"


async def test_a_restart_finds_the_running_task_interrupted(make_context: ContextFactory) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        await zone.goal("wo-1", 1, task="long")
        await eventually(lambda: zone.statuses[-1].current_order_id == "wo-1", what="executing")
        await edge.destroy_node()
    assert journal_lines() == [{"e": "start", "o": "wo-1", "a": 1}]
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        assert journal_lines()[-1] == {
            "e": "end",
            "o": "wo-1",
            "a": 1,
            "s": "INTERRUPTED",
            "m": "the edge stopped mid-task",
        }
        zone = await FakeZone(ctx).start()
        (record,) = await zone.ask(("wo-1", 1))
        assert (record.state, record.attempt) == (ExecutionRecord.STATE_INTERRUPTED, 1)
        _, res = await result(await zone.goal("wo-1", 1))
        assert res.refused == Result.REFUSED_STALE
        status, res = await result(await zone.goal("wo-1", 2))
        assert status == GoalStatus.SUCCEEDED and res.attempt == 2


async def test_edges_of_one_context_share_one_lease_subscription(make_context: ContextFactory) -> None:
    async with make_context() as edge_ctx, make_context() as ctx:
        edges = [
            EdgeNode(config(f"robot-{i}", work_time_s={"pick": 1.0}), context=edge_ctx) for i in range(3)
        ]
        for edge in edges:
            await edge.start()
        listener = _lease._LISTENERS[edge_ctx]["zone-1"]
        assert sorted(listener.holders) == ["robot-0", "robot-1", "robot-2"]
        assert [n.get_name() for n in edge_ctx.nodes].count("edge_leases") == 1
        zones = [await FakeZone(ctx, f"robot-{i}").start() for i in range(3)]
        handles = [await z.goal("wo-1", 1, lease_s=0.3, on_loss=PAUSE) for z in zones]
        for z in zones:
            await eventually(lambda z=z: z.statuses[-1].paused, what="paused")
        # one renewal listing all three resumes all three
        publisher = zones[0].leases
        for _ in range(60):
            await publisher.publish(
                LeaseRenewal(
                    granter="zone-1",
                    seq=1,
                    lease_s=0.5,
                    holders=[z.robot_id for z in zones],
                    order_ids=["wo-1"] * 3,
                    attempts=[1] * 3,
                    status_seqs=[z.statuses[-1].seq for z in zones],
                )
            )
            if all(h.status == GoalStatus.SUCCEEDED for h in handles):
                break
            await asyncio.sleep(0.1)
        for handle in handles:
            status, res = await result(handle)
            assert status == GoalStatus.SUCCEEDED and res.success
        for edge in edges:
            await edge.destroy_node()
        assert "zone-1" not in _lease._LISTENERS.get(edge_ctx, {})
        assert "edge_leases" not in [n.get_name() for n in edge_ctx.nodes]


async def test_user_strings_cannot_forge_log_lines(
    make_context: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    forged = "robot-7: work order wo-1 completed"
    async with make_context() as edge_ctx, make_context() as ctx:
        edge = EdgeNode(config(), context=edge_ctx)
        await edge.start()
        zone = await FakeZone(ctx).start()
        _, res = await result(await zone.goal(f"wo-1\n{forged}", 1, task=f"pick\n{forged}"))
        assert res.success
    edge_lines = [m for m in caplog.messages if m.startswith("robot-7:")]
    assert any("received work order 'wo-1\\n" in m and "task='pick\\n" in m for m in edge_lines)
    assert all("\n" not in m for m in edge_lines)


def test_state_dirs_differ_per_test(tmp_path: Path) -> None:
    """The autouse fixture: a journal of one test is never read by another."""
    assert not (journal_dir() / "robot-7.journal").exists()
