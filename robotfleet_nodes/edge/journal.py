"""``ExecutionJournal``: what one robot executed, in a local append-only file (a contract).

The file is ``<journal_dir>/<robot_id>.journal``, one JSON object per line, each made
durable (``fdatasync``) before the edge acts on it (docs/fleet.md, "Leases"):

- ``{"e": "start", "o": <order id>, "a": <attempt>, "t": <unix time>}`` before the driver
  starts the task;
- ``{"e": "end", "o": ..., "a": ..., "s": "SUCCEEDED"|"FAILED"|"CANCELLED"|"INTERRUPTED"|"REFUSED",
  "m": <message>, "t": ...}`` before the result is sent;
- ``{"e": "fence", "o": ..., "a": ..., "t": ...}`` when a question (GetExecutions) found
  nothing for the order: it is refused at that attempt or older from then on;
- ``{"e": "pause", ...}`` / ``{"e": "resume", ...}`` when the robot stopped where it was at
  its lease's end (``t``: that moment) and when a renewal let it go on: between the two the
  robot held the order without working on it (audit records; they change no state).

Opening a journal reads the file (in a thread) into an index of the latest record per
order (the last :data:`DEFAULT_MAX_ORDERS` orders) and ends every start without an end with
INTERRUPTED ("the edge stopped mid-task"). The writes of every journal of the process go
through one writer thread that commits them in groups, so an ``await`` of
:meth:`ExecutionJournal.start` never blocks the event loop and a thousand robots starting
together share a few syncs. Each open journal keeps its file open (one descriptor per robot).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from robotfleet_nodes.edge import _journal_writer
from robotfleet_nodes.errors import RobotFleetError

__all__ = [
    "DEFAULT_MAX_ORDERS",
    "INTERRUPTED_MESSAGE",
    "EndState",
    "ExecutionJournal",
    "JournalEntry",
    "JournalError",
    "journal_dir",
]

log = logging.getLogger(__name__)

#: How many orders (the latest) a journal's index remembers.
DEFAULT_MAX_ORDERS = 10_000

EndState: TypeAlias = Literal["SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED", "REFUSED"]
"""How an execution ended, as an ``end`` record's ``s`` says."""

_END_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED", "REFUSED"})
#: The message of the end record written for a start without an end.
INTERRUPTED_MESSAGE = "the edge stopped mid-task"


class JournalError(RobotFleetError, OSError):
    """The journal could not be read or made durable; the message names the file."""


@dataclass(slots=True)
class JournalEntry:
    """The latest thing a robot's journal knows about one order.

    ``state`` is ``"RUNNING"`` after a start without an end, one of :data:`EndState` after
    an end, ``"FENCED"`` after a fence (nothing executed at ``attempt`` or older).
    ``started`` / ``ended`` are unix times (``None`` when unknown / not ended). ``floor``
    is the highest attempt earlier records fenced.
    """

    order_id: str
    attempt: int
    state: str
    message: str = ""
    started: float | None = None
    ended: float | None = None
    floor: int = 0

    @property
    def succeeded(self) -> bool:
        """The order was done here (at ``attempt``)."""
        return self.state == "SUCCEEDED"

    @property
    def known_attempt(self) -> int:
        """Goals for the order at this attempt or older are stale here: it started, ended or
        was fenced at it. A REFUSED attempt never ran, so it fences nothing (a robot's
        refusal uses no attempt: the same attempt may come back)."""
        return self.floor if self.state == "REFUSED" else max(self.floor, self.attempt)


def _apply(
    entries: OrderedDict[str, JournalEntry],
    kind: str,
    order_id: str,
    attempt: int,
    *,
    t: float,
    state: str = "",
    message: str = "",
) -> None:
    """Fold one record into the index (the same rules for replay and for new records)."""
    old = entries.get(order_id)
    if old is not None and old.succeeded:
        return  # a done order stays done
    if kind == "start":
        entry = JournalEntry(order_id, attempt, "RUNNING", started=t, floor=old.known_attempt if old else 0)
    elif kind == "end":
        if old is not None and old.attempt == attempt and old.state == "RUNNING":
            entry = JournalEntry(order_id, attempt, state, message, old.started, t, old.floor)
        else:
            entry = JournalEntry(order_id, attempt, state, message, None, t, old.known_attempt if old else 0)
    else:  # fence
        floor = old.known_attempt if old else 0
        if old is not None and old.attempt >= attempt and old.state != "REFUSED":
            return  # it knows as much already (a fence never hides what ran)
        entry = JournalEntry(order_id, attempt, "FENCED", floor=floor)
    entries[order_id] = entry
    entries.move_to_end(order_id)


def journal_dir(configured: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The journal directory: ``configured`` (``EdgeConfig.journal_dir``), else
    ``$EDGE_JOURNAL_DIR``, else ``$RFOS_STATE_DIR/journal``, else
    ``~/.local/state/robotfleet/journal``.

    ``EdgeConfig`` applies ``EDGE_JOURNAL_DIR`` to ``journal_dir`` already; it is read here
    too for edges built from a config made in code.
    """
    env = os.environ if environ is None else environ
    chosen = configured or env.get("EDGE_JOURNAL_DIR")
    if chosen:
        return Path(chosen).expanduser()
    state = env.get("RFOS_STATE_DIR")
    if state:
        return Path(state).expanduser() / "journal"
    return Path.home() / ".local" / "state" / "robotfleet" / "journal"


def _record(**fields: Any) -> bytes:
    return (json.dumps(fields) + "\n").encode()


class ExecutionJournal:
    """One robot's execution journal: an index in memory, durable appends to its file.

    Build it with :meth:`open`. :meth:`start`, :meth:`end` and :meth:`fence` update the
    index at once (a question asked while the record is being written sees it) and
    return once the record is durable.
    """

    def __init__(self, path: Path, fd: int, entries: OrderedDict[str, JournalEntry], max_orders: int) -> None:
        self.path = path
        self._fd: int | None = fd
        self._entries = entries
        self._max = max_orders

    @classmethod
    async def open(
        cls, robot_id: str, directory: Path | str, *, max_orders: int = DEFAULT_MAX_ORDERS
    ) -> ExecutionJournal:
        """Open (or create) ``<directory>/<robot_id>.journal`` and read it.

        The directory is created with mode 0700. Every start without an end gets an end
        INTERRUPTED, durable before this returns.

        Raises:
            JournalError: the directory or file cannot be created or read.
        """
        if not robot_id or "/" in robot_id or robot_id in (".", ".."):
            raise JournalError(f"robot id {robot_id!r} cannot name a journal file")
        path = Path(directory) / f"{robot_id}.journal"
        try:
            fd, entries, torn = await asyncio.to_thread(_load, path, max_orders)
        except OSError as exc:
            raise JournalError(f"journal {path}: {exc}; check the directory's permissions") from exc
        journal = cls(path, fd, entries, max_orders)
        prefix = b"\n" if torn else b""  # a torn last line (crash mid-write) stays a line of its own
        interrupted = [e for e in entries.values() if e.state == "RUNNING"]
        if interrupted or prefix:
            now = time.time()
            data = prefix + b"".join(
                _record(e="end", o=e.order_id, a=e.attempt, s="INTERRUPTED", m=INTERRUPTED_MESSAGE, t=now)
                for e in interrupted
            )
            for e in interrupted:
                e.state, e.message, e.ended = "INTERRUPTED", INTERRUPTED_MESSAGE, now
                log.warning(
                    "%s: order %r attempt %d was interrupted (the edge stopped mid-task)",
                    robot_id,
                    e.order_id,
                    e.attempt,
                )
            await journal._write(data)
        return journal

    def get(self, order_id: str) -> JournalEntry | None:
        """The latest entry of ``order_id``; ``None`` when this robot knows nothing of it."""
        return self._entries.get(order_id)

    def __len__(self) -> int:
        return len(self._entries)

    def start(self, order_id: str, attempt: int) -> asyncio.Future[None]:
        """Record that ``order_id`` at ``attempt`` starts.

        The index says RUNNING at once; the returned future resolves once the record is
        durable (raises :class:`JournalError` if it cannot be).
        """
        now = time.time()
        self._apply("start", order_id, attempt, t=now)
        return self._write(_record(e="start", o=order_id, a=attempt, t=now))

    def end(self, order_id: str, attempt: int, state: EndState, message: str = "") -> asyncio.Future[None]:
        """Record how ``order_id`` at ``attempt`` ended (index at once, future: durable)."""
        if state not in _END_STATES:
            raise ValueError(f"state must be one of {sorted(_END_STATES)}, got {state!r}")
        now = time.time()
        self._apply("end", order_id, attempt, t=now, state=state, message=message)
        return self._write(_record(e="end", o=order_id, a=attempt, s=state, m=message, t=now))

    def fence(self, order_id: str, attempt: int) -> asyncio.Future[None]:
        """Record that nothing ran for ``order_id`` at ``attempt`` or older here, so later
        goals at those attempts are refused (index at once, future: durable)."""
        now = time.time()
        self._apply("fence", order_id, attempt, t=now)
        return self._write(_record(e="fence", o=order_id, a=attempt, t=now))

    def pause(self, order_id: str, attempt: int, *, at: float | None = None) -> asyncio.Future[None]:
        """Record that the robot stopped working on ``order_id`` at unix time ``at`` (default
        now) and holds it; the future resolves once the record is durable."""
        return self._write(_record(e="pause", o=order_id, a=attempt, t=time.time() if at is None else at))

    def resume(self, order_id: str, attempt: int) -> asyncio.Future[None]:
        """Record that the robot works on ``order_id`` again (future: durable)."""
        return self._write(_record(e="resume", o=order_id, a=attempt, t=time.time()))

    async def close(self) -> None:
        """Close the file after the writes queued so far; safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                await _journal_writer.close_file(fd)

    def _apply(
        self, kind: str, order_id: str, attempt: int, *, t: float, state: str = "", message: str = ""
    ) -> None:
        entries = self._entries
        _apply(entries, kind, order_id, attempt, t=t, state=state, message=message)
        while len(entries) > self._max:
            entries.popitem(last=False)

    def _write(self, data: bytes) -> asyncio.Future[None]:
        fd = self._fd
        if fd is None:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_exception(JournalError(f"journal {self.path} is closed; open it again"))
            return future
        return _journal_writer.write(fd, data, self._error)

    def _error(self, exc: OSError) -> JournalError:
        return JournalError(f"journal {self.path}: write failed: {exc}; check the disk and its permissions")


def _load(path: Path, max_orders: int) -> tuple[int, OrderedDict[str, JournalEntry], bool]:
    """Create the directory, read the file into an index, open it for appending (blocking)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    entries: OrderedDict[str, JournalEntry] = OrderedDict()
    torn = False
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    if data and not data.endswith(b"\n"):
        torn = True
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            kind, order_id, attempt = rec["e"], str(rec["o"]), int(rec["a"])
            t = float(rec.get("t", 0.0))
        except (ValueError, KeyError, TypeError):
            log.warning("journal %s: line %d is not a record; skipped", path, number)
            continue
        if kind == "end" and rec.get("s") in _END_STATES:
            _apply(entries, kind, order_id, attempt, t=t, state=str(rec["s"]), message=str(rec.get("m", "")))
        elif kind in ("start", "fence"):
            _apply(entries, kind, order_id, attempt, t=t)
        elif kind in ("pause", "resume"):
            continue  # audit only
        else:
            log.warning("journal %s: line %d has an unknown record kind; skipped", path, number)
            continue
        if len(entries) > max_orders:
            entries.popitem(last=False)
    fd = _journal_writer.open_file(str(path))
    return fd, entries, torn
