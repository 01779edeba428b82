"""Transient-local topics: one JetStream stream per subject root and domain.

Design (``docs/subjects.md``):

* The stream ``RFOS_<root>_<domain>_LATCHED`` lists the exact subjects of transient-local
  topics (added on demand by publishers and subscribers), stores them on file with
  ``max_msgs_per_subject`` = the largest depth any publisher asked for, and keeps nothing
  else: volatile topics never touch JetStream.
* A publisher publishes on the ordinary topic subject with core NATS (one publish, no ack
  round trip): volatile subscribers get it live, and the stream captures it.
* A transient-local subscription does NOT use a core subscription: it reads the stream
  with an ordered push consumer (``DeliverPolicy.ALL``, filtered on its subject), so it
  gets the stored messages and then the live ones from one ordered sequence: no duplicate
  and no gap, also across reconnects (the ordered consumer resumes after its last
  sequence). It skips all but its own depth of the stored history.
* Subject lists are updated read-modify-write; two processes adding subjects at once can
  race, so each update is read back and retried until our subject is present.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.msg import Msg
from nats.js import api
from nats.js import errors as js_errors

__all__ = ["LatchedStore", "stream_name"]

log = logging.getLogger(__name__)

_BAD = re.compile(r"[^A-Za-z0-9_-]")


def stream_name(root: str, domain: str) -> str:
    """``RFOS_<root>_<domain>_LATCHED`` with characters streams forbid replaced by ``_``."""
    return _BAD.sub("_", f"RFOS_{root}_{domain}_LATCHED")


class LatchedStore:
    """Keeps the latched stream's subject list and depth up to date; subscribes readers."""

    def __init__(self, nc: Any, root: str, domain: str) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self.name = stream_name(root, domain)
        self._lock = asyncio.Lock()
        self._subjects: set[str] = set()
        self._depth = 0
        self._available: bool | None = None

    async def available(self) -> bool:
        """Whether the server has JetStream (checked once; logged once when missing)."""
        if self._available is None:
            try:
                await self._js.account_info()
                self._available = True
            except Exception as exc:
                self._available = False
                log.warning("JetStream is not available (%s): transient-local topics behave as volatile", exc)
        return self._available

    async def ensure(self, subject: str, depth: int) -> None:
        """Make the stream store ``subject`` keeping at least ``depth`` messages per subject."""
        if subject in self._subjects and depth <= self._depth:
            return
        async with self._lock:
            for _attempt in range(10):
                try:
                    info = await self._js.stream_info(self.name)
                except js_errors.NotFoundError:
                    config = api.StreamConfig(
                        name=self.name,
                        subjects=[subject],
                        max_msgs_per_subject=max(depth, 1),
                        storage=api.StorageType.FILE,
                        discard=api.DiscardPolicy.OLD,
                    )
                    try:
                        await self._js.add_stream(config)
                    except js_errors.BadRequestError:
                        continue  # created concurrently by another process: read it again
                    self._subjects.add(subject)
                    self._depth = max(depth, 1)
                    return
                config = info.config
                subjects = list(config.subjects or [])
                current = config.max_msgs_per_subject or 0
                if subject in subjects and current >= depth:
                    self._subjects = set(subjects)
                    self._depth = current
                    return
                if subject not in subjects:
                    subjects.append(subject)
                config.subjects = subjects
                config.max_msgs_per_subject = max(current, depth, 1)
                await self._js.update_stream(config)
                # loop: read back to confirm nobody overwrote our change
            raise RuntimeError(f"could not add {subject} to stream {self.name} (concurrent updates)")

    async def prepare_subscriber(self, subject: str) -> int:
        """Ensure ``subject`` is stored; return how many messages are stored for it now."""
        await self.ensure(subject, 1)
        info = await self._js.stream_info(self.name, subjects_filter=subject)
        return int((info.state.subjects or {}).get(subject, 0))

    async def subscribe(self, subject: str, cb: Callable[[Msg], Awaitable[None]]) -> Any:
        """An ordered consumer over ``subject``: stored messages, then live ones."""
        return await self._js.subscribe(
            subject,
            stream=self.name,
            cb=cb,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.ALL,
        )
