"""Helpers every test directory uses: polling with a deadline, HTTP calls, JSON-lines peers.

On ``sys.path`` through the root ``conftest.py`` (a unique module name, never ``conftest``).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> Any:
    """The JSON body of ``GET url`` (blocking)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def poll_until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Blocking: call ``check()`` (e.g. an HTTP query) until it returns something true.

    ``OSError`` (a server not listening yet) counts as not yet; fails after ``timeout`` s.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, grandchildren, ...), as ``/proc`` has them now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


async def eventually(
    condition: Callable[[], Any], *, timeout: float = TIMEOUT, what: str = "condition"
) -> Any:
    """Poll ``condition()`` (sync or async) until truthy and return it; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def jetstream_domain_answers(nc: Any, domain: str, *, what: str, timeout: float = 10) -> None:
    """Return once JetStream domain ``domain`` answers ``nc`` (a leaf link is up); fail after
    ``timeout`` s."""

    async def answers() -> bool:
        try:
            await nc.jetstream(domain=domain).account_info()
        except Exception:
            return False
        return True

    await eventually(answers, timeout=timeout, what=what)


def http_request(
    base: str, method: str, path: str, body: Any = None, raw: bytes | None = None, *, timeout: float = TIMEOUT
) -> tuple[int, Any, str]:
    """``(status, JSON or text body, content type)`` of one blocking request to ``base + path``."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        content_type = response.getheader("Content-Type") or ""
        parsed = (
            json.loads(payload or b"null")
            if content_type.startswith("application/json")
            else payload.decode()
        )
        return response.status, parsed, content_type
    finally:
        conn.close()


async def http_call(
    base: str, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, Any]:
    """``(status, body)`` of :func:`http_request`, run off the event loop."""
    status, parsed, _ = await asyncio.to_thread(http_request, base, method, path, body, raw)
    return status, parsed


class JsonLinesPeer:
    """A subprocess that reports events as one JSON object per stdout line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """The first event (seen so far or arriving within ``timeout``) for which ``predicate`` holds."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"peer event not seen; got {self.events[-5:]}"
            assert self.process.stdout is not None
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(), remaining)
            except TimeoutError:
                continue
            assert line, f"peer exited: {self.events[-5:]}"
            self.events.append(json.loads(line))

    async def stop(self) -> None:
        """Close its stdin (the peer's signal to exit) and wait; kill it after 5 s."""
        if self.process.returncode is not None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@asynccontextmanager
async def json_lines_peer(script: Path, *args: str) -> AsyncIterator[JsonLinesPeer]:
    """Run ``python script args...`` until it reports ``{"event": "ready"}``; stop it on exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    peer = JsonLinesPeer(process)
    try:
        await peer.wait_for(lambda e: e["event"] == "ready")
        yield peer
    finally:
        await peer.stop()


def journal_records(robot_id: str) -> list[dict[str, Any]]:
    """Every record of ``robot_id``'s execution journal (``e`` start/end/fence..., ``o`` order,
    ``a`` attempt, ``s`` end state) in the journal directory the tests use; [] if none."""
    from robotfleet_nodes.edge.journal import journal_dir

    path = journal_dir() / f"{robot_id}.journal"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
