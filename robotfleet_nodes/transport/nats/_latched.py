"""Transient-local topics: one JetStream stream per subject root and domain.

Design (``docs/subjects.md``):

* The stream ``RFOS_<root>_<domain>_LATCHED`` lists the subjects of transient-local
  topics, stores them on file with ``max_msgs_per_subject`` = the largest depth any
  publisher asked for, and keeps nothing else: volatile topics never touch JetStream.
* A publisher publishes on the ordinary topic subject with core NATS (one publish, no ack
  round trip): volatile subscribers get it live, and the stream captures it.
* A transient-local subscription does NOT use a core subscription: it reads the stream
  with an ordered push consumer (``DeliverPolicy.ALL``, filtered on its subject), so it
  gets the stored messages and then the live ones from one ordered sequence: no duplicate
  and no gap, also across reconnects (the ordered consumer resumes after its last
  sequence). It skips all but its own depth of the stored history.
* A subject the stream's subjects already cover (exactly, or by a wildcard such as
  ``rfos.0.a.robots.*.*._action.status``: :func:`fleet_latched_patterns`, which the fleet
  has covered at start with ``NatsTransport.cover_latched``) needs no change of the
  stream. Only an uncovered subject makes a process create or extend the stream,
  read-modify-write: two processes adding subjects at once can race, so each update is
  read back and retried until our subject is present.
* With NATS accounts, only the fleet (and the operator) may create or update streams: a
  robot's request is refused, which JetStream shows as no reply at all (the server drops
  the request with a permission violation). After :data:`API_TIMEOUT` seconds without a
  reply the store says so once, stops asking, and the topic behaves as volatile (live
  messages only) until an operator covers the subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from nats import errors as nats_errors
from nats.aio.msg import Msg
from nats.js import api
from nats.js import errors as js_errors

from robotfleet_nodes.transport._ratelimit import OnceLogger
from robotfleet_nodes.transport.nats._replicas import stream_replicas

__all__ = [
    "API_TIMEOUT",
    "LatchedStore",
    "cover_latched_subjects",
    "fleet_latched_patterns",
    "stream_name",
    "subject_matches",
]

log = logging.getLogger(__name__)

_BAD = re.compile(r"[^A-Za-z0-9_-]")
#: Seconds a stream create/update request waits for JetStream's answer. A refused request
#: (no permission) gets none; a permitted one is answered in milliseconds.
API_TIMEOUT = 2.0


def stream_name(root: str, domain: str) -> str:
    """``RFOS_<root>_<domain>_LATCHED`` with characters streams forbid replaced by ``_``."""
    return _BAD.sub("_", f"RFOS_{root}_{domain}_LATCHED")


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether the NATS ``pattern`` (``*`` one token, ``>`` the rest) covers ``subject``."""
    want = pattern.split(".")
    have = subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(have) == len(want)


def _covered(subjects: Iterable[str], subject: str) -> bool:
    return any(subject == s or subject_matches(s, subject) for s in subjects)


def _deep_enough(current: int, depth: int) -> bool:
    return current < 0 or current >= depth  # -1: no per-subject limit


class _Refused(Exception):
    """JetStream did not answer a stream request (no permission, or not in time)."""


class LatchedStore:
    """Keeps the latched stream covering our transient-local subjects; subscribes readers."""

    def __init__(self, nc: Any, root: str, domain: str, *, api_timeout: float = API_TIMEOUT) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._api = nc.jetstream(timeout=api_timeout)  # stream info / create / update
        self._api_timeout = api_timeout
        self.name = stream_name(root, domain)
        self._lock = asyncio.Lock()
        self._subjects: list[str] = []  # the stream's subjects, as last read
        self._depth = 0
        self._available: bool | None = None
        self._refused = False  # a create/update went unanswered: never ask again
        self._volatile = OnceLogger(log)

    async def available(self) -> bool:
        """Whether the server has JetStream (checked once; logged once when missing)."""
        if self._available is None:
            try:
                await self._api.account_info()
                self._available = True
            except Exception as exc:
                self._available = False
                log.warning("JetStream is not available (%s): transient-local topics behave as volatile", exc)
        return self._available

    async def ensure(self, subject: str, depth: int) -> bool:
        """Make the stream store ``subject`` keeping at least ``depth`` messages per subject.

        Returns False when the stream does not cover ``subject`` and we may not change it
        (logged once per subject): the topic then behaves as volatile. A covered subject
        whose stream keeps fewer than ``depth`` messages stays stored when the stream may
        not be deepened (logged once).
        """
        if _covered(self._subjects, subject) and _deep_enough(self._depth, depth):
            return True
        async with self._lock:
            try:
                return await self._ensure(subject, depth)
            except _Refused as exc:
                self._refused = True
                self._say_volatile(subject, str(exc))
                return False

    async def _ensure(self, subject: str, depth: int) -> bool:
        for _attempt in range(10):
            info = await self._info()
            if info is None:
                if self._refused:
                    self._say_volatile(subject, "the stream does not exist and we may not create it")
                    return False
                await self._create(subject, depth)
                continue  # read back: created by us, or concurrently by another process
            config = info.config
            self._subjects = list(config.subjects or [])
            self._depth = config.max_msgs_per_subject if config.max_msgs_per_subject is not None else -1
            covered = _covered(self._subjects, subject)
            if covered and _deep_enough(self._depth, depth):
                return True
            if self._refused:
                if covered:
                    self._volatile.log(
                        ("depth", subject),
                        logging.WARNING,
                        "%s: stream %s keeps %d message(s) per subject, fewer than the %d asked for, "
                        "and this identity may not change it",
                        subject,
                        self.name,
                        self._depth,
                        depth,
                    )
                    return True
                self._say_volatile(subject, "the stream does not cover it and we may not extend it")
                return False
            if not covered:
                config.subjects = [*self._subjects, subject]
            config.max_msgs_per_subject = max(self._depth, depth, 1)
            try:
                await self._request(self._api.update_stream(config))
            except _Refused:
                if covered:  # still stored, only shallower than asked
                    self._refused = True
                    continue
                raise
            # loop: read back to confirm nobody overwrote our change
        raise RuntimeError(f"could not add {subject} to stream {self.name} (concurrent updates)")

    async def _info(self) -> Any:
        try:
            return await self._request(self._api.stream_info(self.name))
        except js_errors.NotFoundError:
            return None

    async def _create(self, subject: str, depth: int) -> None:
        config = api.StreamConfig(
            name=self.name,
            subjects=[subject],
            max_msgs_per_subject=max(depth, 1),
            storage=api.StorageType.FILE,
            discard=api.DiscardPolicy.OLD,
            num_replicas=stream_replicas(self._nc),
        )
        with contextlib.suppress(js_errors.BadRequestError):  # created concurrently: read it again
            await self._request(self._api.add_stream(config))

    async def _request(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except (nats_errors.TimeoutError, TimeoutError, nats_errors.NoRespondersError) as exc:
            raise _Refused(
                f"JetStream did not answer within {self._api_timeout:g} s ({type(exc).__name__}): this "
                "identity may not manage the stream"
            ) from None

    def _say_volatile(self, subject: str, why: str) -> None:
        self._volatile.log(
            subject,
            logging.WARNING,
            "%s: transient-local, but stream %s does not store it (%s); it behaves as volatile "
            "(live messages only). Operator: cover the subject with the fleet's latched subjects "
            "(cover_latched_subjects), or give this identity JetStream rights on the stream",
            subject,
            self.name,
            why,
        )

    async def prepare_subscriber(self, subject: str) -> int | None:
        """Ensure ``subject`` is stored; how many messages are stored for it now.

        ``None`` when the stream does not store it (the subscription then reads live
        messages only, as for a volatile topic).
        """
        if not await self.ensure(subject, 1):
            return None
        try:
            info = await self._request(self._api.stream_info(self.name, subjects_filter=subject))
        except _Refused as exc:
            self._say_volatile(subject, str(exc))
            return None
        return int((info.state.subjects or {}).get(subject, 0))

    async def cover(self, patterns: Iterable[str], depth: int = 1) -> None:
        """Create the stream, or extend it, so it stores every subject of ``patterns``.

        For the process allowed to manage streams (the fleet, at start): afterwards
        publishers and subscribers on covered subjects never need to change the stream.
        Raises nats-py's errors when refused.
        """
        wanted = list(dict.fromkeys(patterns))
        async with self._lock:
            for _attempt in range(10):
                try:
                    info = await self._js.stream_info(self.name)
                except js_errors.NotFoundError:
                    config = api.StreamConfig(
                        name=self.name,
                        subjects=wanted,
                        max_msgs_per_subject=max(depth, 1),
                        storage=api.StorageType.FILE,
                        discard=api.DiscardPolicy.OLD,
                        num_replicas=stream_replicas(self._nc),
                    )
                    with contextlib.suppress(js_errors.BadRequestError):  # created concurrently
                        await self._js.add_stream(config)
                    continue
                config = info.config
                subjects = list(config.subjects or [])
                current = config.max_msgs_per_subject if config.max_msgs_per_subject is not None else -1
                missing = [p for p in wanted if p not in subjects]
                if not missing and _deep_enough(current, depth):
                    self._subjects, self._depth = subjects, current
                    return
                # A pattern that overlaps a listed subject is refused by JetStream: the
                # pattern replaces the exact subjects it covers.
                kept = [s for s in subjects if not any(subject_matches(p, s) for p in missing)]
                config.subjects = [*kept, *missing]
                config.max_msgs_per_subject = max(current, depth, 1)
                await self._js.update_stream(config)
            raise RuntimeError(f"could not extend stream {self.name} with {wanted} (concurrent updates)")

    async def subscribe(self, subject: str, cb: Callable[[Msg], Awaitable[None]]) -> Any:
        """An ordered consumer over ``subject``: stored messages, then live ones."""
        return await self._js.subscribe(
            subject,
            stream=self.name,
            cb=cb,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.ALL,
        )


def fleet_latched_patterns(prefix: str) -> list[str]:
    """The subjects the fleet has the latched stream cover at start (``prefix`` = ``<root>.<domain>``).

    ROS 2's usual transient-local topics, site-wide and per robot: ``/map``,
    ``/robots/<id>/map`` and ``/robots/<id>/robot_description`` (a secured robot may not
    change the stream itself; other latched topics need the operator's
    :meth:`~NatsTransport.cover_latched`). Action status topics are not covered: the
    fleet's robots publish them for every goal, and storing those would cost JetStream a
    write per goal state.
    """
    return [f"{prefix}.t.map", f"{prefix}.t.robots.*.map", f"{prefix}.t.robots.*.robot_description"]


async def cover_latched_subjects(
    nc: Any, root: str, domain: str, patterns: Iterable[str], depth: int = 1
) -> None:
    """Create or extend the latched stream of ``root``/``domain`` to store ``patterns``.

    ``nc`` is a nats-py connection; the fleet calls :meth:`NatsTransport.cover_latched`.
    Raises nats-py's errors (a refusal: this identity may not manage streams).
    """
    await LatchedStore(nc, root, domain).cover(patterns, depth)
