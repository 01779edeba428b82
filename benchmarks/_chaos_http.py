"""The chaos benchmarks' HTTP side: requests to the fleet's API and the order submitter.

:class:`Submitter` submits orders ``<prefix>-<k>`` at a steady rate from a thread pool with
client-chosen ids; a 503 is retried with the same id after its ``Retry-After``, and so are
connection errors and every other 5xx (each counted). Given several fleet instances
(``ports``), it sends to the one that last accepted, and moves to the next one on a 503 or a
connection error: a standby answers writes 503 naming the leader, a killed leader answers
nothing. Every acceptance is time-stamped (``accepted_when``), so a benchmark can tell how long
writes were unavailable around a fault (:func:`longest_gap`).
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GIVE_UP_S", "Submitter", "get_json", "longest_gap", "request"]

#: A submission retried this long is given up (counted).
GIVE_UP_S = 180.0


def request(
    port: int, method: str, path: str, body: Any = None, timeout: float = 10.0, *, token: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to ``127.0.0.1:port``: (status, lower-cased headers, body); ``token``:
    an API token (a secured fleet)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def get_json(port: int, path: str, timeout: float = 10.0) -> Any:
    """``GET path`` as JSON; ``OSError`` for any status but 200."""
    status, _, body = request(port, "GET", path, timeout=timeout)
    if status != 200:
        raise OSError(f"GET {path}: HTTP {status}")
    return json.loads(body)


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest interval within [start, end] that holds none of ``times`` (sorted or not)."""
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return round(max(b - a for a, b in itertools.pairwise(edges)), 3)


def _names_leader(body: bytes) -> bool:
    """Whether a 503 body is a standby's (its JSON names the leader)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and "leader" in answer


@dataclass
class Submitter:
    """Submits orders ``<prefix>-<k>`` at ``rate``/s, retrying with the same id (module docstring)."""

    ports: list[int]
    rate: float
    prefix: str
    area: str = "area-1"
    task: str = "pick"
    threads: int = 96
    token: str | None = None  # an API token, for a secured fleet
    submitted: int = 0
    accepted: dict[str, int] = field(default_factory=dict)  # id -> the 2xx status
    accepted_when: dict[str, float] = field(default_factory=dict)  # id -> when it was accepted
    sent_when: dict[str, float] = field(default_factory=dict)  # id -> when it was first POSTed
    http_503: int = 0
    other_5xx: list[dict[str, Any]] = field(default_factory=list)
    http_4xx: list[dict[str, Any]] = field(default_factory=list)
    connection_errors: int = 0
    timeouts: int = 0
    given_up: list[str] = field(default_factory=list)
    _current: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _pool: ThreadPoolExecutor | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start submitting."""
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="submit")
        self._thread = threading.Thread(target=self._schedule, name="schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop submitting new orders and wait for the retries under way (each up to GIVE_UP_S)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _schedule(self) -> None:
        assert self._pool is not None
        began = time.monotonic()
        k = 0
        while not self._stop.is_set():
            delay = began + k / self.rate - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            k += 1
            with self._lock:
                self.submitted += 1
            self._pool.submit(self._submit, f"{self.prefix}-{k:06d}")

    def _port(self) -> int:
        with self._lock:
            return self.ports[self._current % len(self.ports)]

    def _next_port(self, failed: int) -> None:
        """Move on from ``failed`` (unless another thread already did)."""
        with self._lock:
            if self.ports[self._current % len(self.ports)] == failed:
                self._current += 1

    def _submit(self, order_id: str) -> None:
        body = {"id": order_id, "area_id": self.area, "task": self.task}
        with self._lock:
            self.sent_when[order_id] = time.time()
        deadline = time.monotonic() + GIVE_UP_S
        while time.monotonic() < deadline:
            port = self._port()
            try:
                status, headers, text = request(port, "POST", "/api/work-orders", body, token=self.token)
            except TimeoutError:
                with self._lock:
                    self.timeouts += 1
                self._next_port(port)
                time.sleep(0.2)
                continue
            except (OSError, http.client.HTTPException):
                with self._lock:
                    self.connection_errors += 1
                self._next_port(port)
                time.sleep(0.2 if len(self.ports) > 1 else 0.5)
                continue
            if 200 <= status < 300:
                with self._lock:
                    self.accepted[order_id] = status
                    self.accepted_when[order_id] = time.time()
                return
            if status == 503:
                with self._lock:
                    self.http_503 += 1
                if len(self.ports) > 1 and _names_leader(text):  # a standby: try the next
                    self._next_port(port)
                    time.sleep(0.05)
                    continue
                try:
                    wait = float(headers.get("retry-after", "1"))
                except ValueError:
                    wait = 1.0
                time.sleep(min(max(wait, 0.1), 10.0 if len(self.ports) == 1 else 1.0))
                continue
            record = {
                "id": order_id,
                "status": status,
                "t": round(time.time(), 3),
                "body": text[:200].decode("utf-8", "replace"),
            }
            with self._lock:
                (self.other_5xx if status >= 500 else self.http_4xx).append(record)
            if status < 500:
                return
            time.sleep(0.5)
        with self._lock:
            self.given_up.append(order_id)

    def summary(self) -> dict[str, Any]:
        """The counts for the JSON document."""
        return {
            "orders_submitted": self.submitted,
            "orders_accepted": len(self.accepted),
            "accepted_as_200_resubmission": sum(1 for s in self.accepted.values() if s == 200),
            "http_503": self.http_503,
            "http_5xx_other_than_503": len(self.other_5xx),
            "http_5xx_other_than_503_samples": self.other_5xx[:5],
            "http_4xx": len(self.http_4xx),
            "http_4xx_samples": self.http_4xx[:5],
            "connection_errors_retried": self.connection_errors,
            "timeouts_retried": self.timeouts,
            "given_up": len(self.given_up),
        }
