"""The edge's ``/robots/<robot_id>/journal`` service (``GetExecutions``): :func:`answer`.

What the robot's execution journal says of each asked order: the one running (RUNNING or
PAUSED), one that ran here at the asked attempt or later (its end), and for any other an
UNKNOWN record, after a durable fence of that order (it will not start it at the asked
attempt any more). :class:`~robotfleet_nodes.edge.node.EdgeNode` serves it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from robotfleet_nodes.edge._executor import RunningOrder
from robotfleet_nodes.edge.journal import ExecutionJournal, JournalError
from robotfleet_nodes.idl import standard
from robotfleet_nodes.msg import ExecutionRecord
from robotfleet_nodes.srv import GetExecutions

__all__ = ["answer"]

#: journal state -> ExecutionRecord state (REFUSED and FENCED: never ran here, UNKNOWN)
_RECORD_STATES = {"RUNNING": 1, "SUCCEEDED": 3, "FAILED": 4, "CANCELLED": 5, "INTERRUPTED": 6}


async def answer(
    request: GetExecutions.Request,
    *,
    journal: ExecutionJournal | None,
    task: RunningOrder | None,
    robot_id: str,
    logger: logging.Logger,
) -> GetExecutions.Response:
    """What this robot executed of each asked order (``task``: the one running now); fence
    (durably) those it never ran.

    Raises:
        JournalError: a fence could not be written (no answer: the asker waits instead).
    """
    records: list[ExecutionRecord] = []
    writes: list[asyncio.Future[None]] = []
    attempts = list(request.attempts)
    for i, order_id in enumerate(request.order_ids):
        asked = int(attempts[i]) if i < len(attempts) else 0
        entry = journal.get(order_id) if journal is not None else None
        if task is not None and task.order_id == order_id:
            state = ExecutionRecord.STATE_PAUSED if task.paused else ExecutionRecord.STATE_RUNNING
            started = entry.started if entry is not None and entry.attempt == task.attempt else None
            records.append(_record(order_id, task.attempt, state, started=started))
            continue
        if (
            entry is not None
            and entry.state not in ("FENCED", "REFUSED")
            and (entry.attempt >= asked or entry.succeeded)
        ):
            records.append(
                _record(
                    order_id,
                    entry.attempt,
                    _RECORD_STATES.get(entry.state, ExecutionRecord.STATE_FAILED),
                    message=entry.message,
                    started=entry.started,
                    ended=entry.ended,
                )
            )
            continue
        if journal is not None:  # durable before the answer, even if fenced already (maybe in flight)
            writes.append(
                journal.fence(order_id, max(asked, entry.known_attempt if entry is not None else 0))
            )
        records.append(_record(order_id, 0, ExecutionRecord.STATE_UNKNOWN))
    if writes:
        results = await asyncio.gather(*writes, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:  # no answer beats a fence that is not durable: the asker waits instead
            raise JournalError(f"{robot_id}: could not fence: {failed[0]}")
        logger.info(
            "%s: fenced %d order(s) a question found unknown here",
            robot_id,
            len(writes),
        )
    return GetExecutions.Response(records=records)


def _record(
    order_id: str,
    attempt: int,
    state: int,
    *,
    message: str = "",
    started: float | None = None,
    ended: float | None = None,
) -> ExecutionRecord:
    """One record of the answer (times in unix seconds; ``None``: zero)."""
    return ExecutionRecord(
        order_id=order_id,
        attempt=attempt,
        state=state,
        message=message,
        started=_stamp(started),
        ended=_stamp(ended),
    )


def _stamp(t: float | None) -> Any:
    """``builtin_interfaces/Time`` of unix time ``t`` (zero when ``None``)."""
    if t is None:
        return standard.Time()
    ns = round(t * 1e9)
    return standard.Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
