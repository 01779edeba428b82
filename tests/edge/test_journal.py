"""ExecutionJournal on real files: the record format, reopening, INTERRUPTED, fencing rules,
the directory rules, and many journals sharing the one writer thread."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from robotfleet_nodes.config import EdgeConfig
from robotfleet_nodes.edge.journal import (
    INTERRUPTED_MESSAGE,
    ExecutionJournal,
    JournalError,
    journal_dir,
)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_records_have_the_contract_format_and_are_on_disk_when_awaited(tmp_path: Path) -> None:
    journal = await ExecutionJournal.open("robot-1", tmp_path)
    assert journal.path == tmp_path / "robot-1.journal"
    await journal.start("wo-1", 1)
    assert lines(journal.path) == [
        {"e": "start", "o": "wo-1", "a": 1, "t": pytest.approx(lines(journal.path)[0]["t"])}
    ]
    await journal.end("wo-1", 1, "SUCCEEDED", "completed")
    await journal.fence("wo-2", 3)
    await journal.start("wo-3", 2)
    await journal.end("wo-3", 2, "REFUSED", "robot robot-1 battery too low")
    records = lines(journal.path)
    assert [{k: v for k, v in r.items() if k != "t"} for r in records] == [
        {"e": "start", "o": "wo-1", "a": 1},
        {"e": "end", "o": "wo-1", "a": 1, "s": "SUCCEEDED", "m": "completed"},
        {"e": "fence", "o": "wo-2", "a": 3},
        {"e": "start", "o": "wo-3", "a": 2},
        {"e": "end", "o": "wo-3", "a": 2, "s": "REFUSED", "m": "robot robot-1 battery too low"},
    ]
    assert all(isinstance(r["t"], float) for r in records)
    assert records == sorted(records, key=lambda r: r["t"])
    with pytest.raises(ValueError, match="state must be one of"):
        journal.end("wo-1", 1, "DONE", "")  # type: ignore[arg-type]
    await journal.close()
    await journal.close()
    with pytest.raises(JournalError, match="closed"):
        await journal.start("wo-4", 1)


async def test_a_user_string_cannot_forge_a_record(tmp_path: Path) -> None:
    journal = await ExecutionJournal.open("robot-1", tmp_path)
    evil = 'wo-1"}\n{"e": "end", "o": "wo-1", "a": 1, "s": "SUCCEEDED", "m": "", "t": 0}'
    await journal.start(evil, 1)
    await journal.end(evil, 1, "FAILED", "line\nbreak")
    assert len(journal.path.read_text().splitlines()) == 2
    await journal.close()
    again = await ExecutionJournal.open("robot-1", tmp_path)
    entry = again.get(evil)
    assert entry is not None and entry.state == "FAILED" and entry.message == "line\nbreak"
    assert again.get("wo-1") is None
    await again.close()


async def test_index_follows_the_records_and_is_rebuilt_on_open(tmp_path: Path) -> None:
    journal = await ExecutionJournal.open("robot-1", tmp_path)
    pending = journal.start("wo-1", 2)
    entry = journal.get("wo-1")  # before the write is durable: already RUNNING
    assert entry is not None and entry.state == "RUNNING" and entry.attempt == 2
    await pending
    await journal.end("wo-1", 2, "FAILED", "injected")
    await journal.start("wo-2", 1)
    await journal.end("wo-2", 1, "SUCCEEDED", "completed")
    await journal.start("wo-2", 2)  # never happens on an edge (DONE), but the index keeps the success
    await journal.fence("wo-3", 4)
    await journal.fence("wo-1", 1)  # older than what ran: changes nothing
    live = {o: journal.get(o) for o in ("wo-1", "wo-2", "wo-3")}
    await journal.close()
    again = await ExecutionJournal.open("robot-1", tmp_path)
    assert {o: again.get(o) for o in live} == live
    one, two, three = (again.get(o) for o in ("wo-1", "wo-2", "wo-3"))
    assert one is not None and (one.state, one.attempt, one.message) == ("FAILED", 2, "injected")
    assert one.started is not None and one.ended is not None and one.started <= one.ended
    assert two is not None and two.succeeded and two.attempt == 1
    assert three is not None and (three.state, three.known_attempt) == ("FENCED", 4)
    await again.close()


async def test_refused_attempts_fence_nothing(tmp_path: Path) -> None:
    """A robot's refusal uses no attempt: the same attempt may come back to this robot."""
    journal = await ExecutionJournal.open("robot-1", tmp_path)
    await journal.fence("wo-1", 1)
    await journal.start("wo-1", 2)
    await journal.end("wo-1", 2, "REFUSED", "busy")
    entry = journal.get("wo-1")
    assert entry is not None and entry.known_attempt == 1
    await journal.start("wo-1", 2)
    entry = journal.get("wo-1")
    assert entry is not None and entry.known_attempt == 2
    await journal.close()
    again = await ExecutionJournal.open("robot-1", tmp_path)
    entry = again.get("wo-1")
    assert entry is not None and entry.state == "INTERRUPTED" and entry.known_attempt == 2
    await again.close()


async def test_a_start_without_an_end_is_interrupted_at_the_next_open(tmp_path: Path) -> None:
    journal = await ExecutionJournal.open("robot-1", tmp_path)
    await journal.start("wo-1", 1)
    await journal.start("wo-2", 3)
    await journal.end("wo-2", 3, "SUCCEEDED", "completed")
    await journal.close()
    again = await ExecutionJournal.open("robot-1", tmp_path)
    entry = again.get("wo-1")
    assert entry is not None and (entry.state, entry.attempt, entry.message) == (
        "INTERRUPTED",
        1,
        INTERRUPTED_MESSAGE,
    )
    last = lines(again.path)[-1]
    assert {k: v for k, v in last.items() if k != "t"} == {
        "e": "end",
        "o": "wo-1",
        "a": 1,
        "s": "INTERRUPTED",
        "m": "the edge stopped mid-task",
    }
    await again.close()
    third = await ExecutionJournal.open("robot-1", tmp_path)  # nothing more to interrupt
    assert len(lines(third.path)) == 4
    await third.close()


async def test_a_torn_last_line_is_skipped_and_kept_apart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "robot-1.journal"
    path.write_text('{"e": "start", "o": "wo-1", "a": 1, "t": 1.0}\n{"e": "end", "o": "wo-1", "a"')
    journal = await ExecutionJournal.open("robot-1", tmp_path)
    assert any("line 2 is not a record" in m for m in caplog.messages)
    entry = journal.get("wo-1")
    assert entry is not None and entry.state == "INTERRUPTED"
    await journal.fence("wo-2", 1)
    await journal.close()
    text = path.read_text().splitlines()
    assert json.loads(text[-1])["e"] == "fence"
    assert json.loads(text[-2])["s"] == "INTERRUPTED"


async def test_the_index_is_bounded(tmp_path: Path) -> None:
    journal = await ExecutionJournal.open("robot-1", tmp_path, max_orders=3)
    for i in range(5):
        await journal.fence(f"wo-{i}", 1)
    assert len(journal) == 3 and journal.get("wo-1") is None and journal.get("wo-4") is not None
    await journal.close()
    again = await ExecutionJournal.open("robot-1", tmp_path, max_orders=3)
    assert len(again) == 3 and again.get("wo-1") is None and again.get("wo-4") is not None
    await again.close()


async def test_directory_is_created_private_and_bad_names_are_refused(tmp_path: Path) -> None:
    where = tmp_path / "state" / "journal"
    journal = await ExecutionJournal.open("robot-1", where)
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    await journal.close()
    for bad in ("", "..", "a/b"):
        with pytest.raises(JournalError, match="cannot name a journal file"):
            await ExecutionJournal.open(bad, where)
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(JournalError, match="permissions"):
        await ExecutionJournal.open("robot-1", blocked / "journal")


async def test_a_failed_write_raises_a_journal_error(tmp_path: Path) -> None:
    journal = await ExecutionJournal.open("robot-1", tmp_path)
    fd = journal._fd
    assert fd is not None
    os.close(fd)  # the descriptor goes bad under the journal (as a lost disk would make it fail)
    with pytest.raises(JournalError, match="write failed"):
        await journal.start("wo-1", 1)
    await journal.close()  # closing the bad descriptor fails quietly; the journal is closed


def test_journal_dir_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert journal_dir("/x/j", {"RFOS_STATE_DIR": "/s"}) == Path("/x/j")
    assert journal_dir(None, {"EDGE_JOURNAL_DIR": "/e", "RFOS_STATE_DIR": "/s"}) == Path("/e")
    assert journal_dir(None, {"RFOS_STATE_DIR": "/s"}) == Path("/s/journal")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert journal_dir(None, {}) == tmp_path / ".local" / "state" / "robotfleet" / "journal"
    # the autouse fixture of tests/conftest.py: every test has a state directory of its own
    config = EdgeConfig.model_validate({"robot_id": "robot-1", "zone_id": "zone-1"})
    assert journal_dir(config.journal_dir).parent.name.startswith("state")


async def test_many_journals_share_one_writer_thread(tmp_path: Path) -> None:
    journals = await asyncio.gather(*(ExecutionJournal.open(f"robot-{i}", tmp_path) for i in range(100)))
    await asyncio.gather(*(j.start("wo", 1) for j in journals))
    writers = [t for t in threading.enumerate() if t.name == "rfos-journal"]
    assert len(writers) == 1
    for j in journals:
        assert [r["e"] for r in lines(j.path)] == ["start"]
    await asyncio.gather(*(j.close() for j in journals))


IDLE_PROBE = """
import asyncio, json, sys, threading
from robotfleet_nodes.edge import _journal_writer
from robotfleet_nodes.edge.journal import ExecutionJournal

def writers():
    return sum(t.name.startswith("rfos-journal") for t in threading.enumerate())

async def main():
    journals = [await ExecutionJournal.open(f"robot-{i}", sys.argv[1]) for i in range(3)]
    await asyncio.gather(*(j.start("wo", 1) for j in journals))
    seen = [writers()]
    for j in journals:
        await j.close()
        seen.append(writers())
    idle = await asyncio.to_thread(_journal_writer.wait_idle, 10.0)
    again = await ExecutionJournal.open("robot-0", sys.argv[1])  # INTERRUPTED: a new thread
    await again.fence("wo-2", 1)
    await again.close()
    idle_again = await asyncio.to_thread(_journal_writer.wait_idle, 10.0)
    print(json.dumps({"seen": seen[:3], "idle": idle, "after": writers(), "idle_again": idle_again}))

asyncio.run(main())
"""


def test_the_writer_thread_ends_when_every_journal_is_closed(tmp_path: Path) -> None:
    """In a process of its own: other tests' journals would keep this one's thread alive."""
    done = subprocess.run(
        [sys.executable, "-c", IDLE_PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["seen"][0] >= 1, "a writer thread while journals are open"
    assert all(n >= 1 for n in report["seen"][1:3]), "journals still open: it runs on"
    assert report == {**report, "idle": True, "after": 0, "idle_again": True}
    assert [r["e"] for r in lines(tmp_path / "robot-0.journal")] == ["start", "end", "fence"]


def test_a_forked_child_writes_its_own_journal(tmp_path: Path) -> None:
    """The fork server forks edges: a child has none of the parent's threads."""

    async def parent_open() -> ExecutionJournal:
        journal = await ExecutionJournal.open("parent", tmp_path)
        await journal.start("wo", 1)  # the writer thread runs now
        return journal

    parent = asyncio.run(parent_open())

    async def child() -> None:
        journal = await ExecutionJournal.open("child", tmp_path)
        await asyncio.wait_for(journal.start("wo", 1), 10.0)
        await journal.close()

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            asyncio.run(child())
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [r["e"] for r in lines(tmp_path / "child.journal")] == ["start"]
    asyncio.run(parent.close())
