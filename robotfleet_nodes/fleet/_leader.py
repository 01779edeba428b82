"""The fleet leader lease: one of several fleet instances leads, the others stand by.

The lease is the key ``leader`` of the JetStream key-value bucket
``RFOS_<root>_<domain>_FLEET_LEADER``; its value is JSON ``{instance, epoch, url, since}``.

- **Acquire**: create the key (none yet), or compare-and-set on the revision last seen when
  that revision is older than ``lease_s`` on this instance's own monotonic clock, names
  this instance (a restart, or a leader that stood down for want of the broker, takes its
  own lease back at once, also when its last renewal was stored but the answer lost: the
  compare-and-set proves nobody took over meanwhile) or is
  vacant (a leader stopped cleanly). Each take-over writes ``epoch + 1``: the epoch is the fencing token.
- **Renew**: the leader writes the same record every ``renew_period_s`` by compare-and-set
  on its own last revision. A lost compare-and-set (another instance took over) deposes
  it at once; failed renewals (broker unreachable) depose it once
  ``lease_s - renew_period_s`` passed since the start of its last successful renewal, so
  it stops before a standby, which counts ``lease_s`` from the moment it *saw* that
  renewal, may take over. No wall-clock time is compared between machines.
- **Release**: a leader that stops cleanly writes the record vacant (instance ``""``), so a
  standby takes over at its next look instead of after ``lease_s``.

:meth:`LeaderLease.holds` is the check made right before a dispatch or a store write.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from nats.js import api as js_api
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from robotfleet_nodes._callbacks import cancel_and_wait
from robotfleet_nodes.config import FailoverConfig
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.fleet.protocol import open_key_value
from robotfleet_nodes.transport import NatsTransport

__all__ = ["LEADER_KEY", "LeaderLease", "LeaderRecord", "NotLeader", "leader_bucket"]

log = logging.getLogger(__name__)

#: The key of the lease in its bucket.
LEADER_KEY = "leader"
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def leader_bucket(root: str, domain: str) -> str:
    """``RFOS_<root>_<domain>_FLEET_LEADER``: the bucket of the fleet leader lease."""
    return f"RFOS_{_SAFE.sub('_', root)}_{_SAFE.sub('_', domain)}_FLEET_LEADER"


class NotLeader(RobotFleetError, RuntimeError):
    """A write reached a standby instance: send it to the leader (``leader``, ``leader_url``)."""

    #: the HTTP status it is answered with (and audited as)
    status = 503

    def __init__(self, message: str, *, leader: str | None, leader_url: str | None) -> None:
        super().__init__(message)
        self.leader = leader
        self.leader_url = leader_url


@dataclass(frozen=True, slots=True)
class LeaderRecord:
    """The lease's value: who leads (``""``: nobody), since which take-over (``epoch``), its
    HTTP URL (``""``: unknown) and since when (wall clock, for people only)."""

    instance: str
    epoch: int
    url: str = ""
    since: float = 0.0

    def encode(self) -> bytes:
        return json.dumps(
            {"instance": self.instance, "epoch": self.epoch, "url": self.url, "since": self.since}
        ).encode()

    @staticmethod
    def decode(data: bytes | None) -> LeaderRecord | None:
        """The record in ``data``, or None for an empty or unreadable value."""
        if not data:
            return None
        try:
            raw = json.loads(data)
            return LeaderRecord(
                str(raw["instance"]),
                int(raw["epoch"]),
                str(raw.get("url") or ""),
                float(raw.get("since") or 0),
            )
        except (ValueError, KeyError, TypeError):
            return None


class LeaderLease:
    """This instance's side of the leader lease (see the module docstring).

    ``changed`` is set whenever :attr:`is_leader` flips; ``url()`` gives the HTTP URL to
    advertise (read at every renewal: it may become known after the lease started).
    """

    def __init__(self, transport: NatsTransport, config: FailoverConfig, *, url: Any = None) -> None:
        mapper = transport.mapper
        self.bucket = leader_bucket(mapper.root, mapper.domain)
        self.instance = config.instance_id
        self.lease_s = config.lease_s
        self.period_s = config.renew_period_s
        #: How long one look or renewal waits for the bucket's answer [s]: well within the lease.
        self.request_timeout_s = min(2.0, max(0.5, config.lease_s / 2))
        self.changed = asyncio.Event()
        self._transport = transport
        self._url = url or (lambda: "")
        self._kv: Any = None
        self._task: asyncio.Task[None] | None = None
        self._leading = False
        self._epoch = 0
        self._since = 0.0
        self._revision = 0  # the revision last written (leader) or seen (standby)
        self._written = -1  # the revision this instance wrote last
        self._seen_at = 0.0  # monotonic: when ``_revision`` was first seen
        self._valid_until = 0.0  # monotonic: the leader stops dispatching at this time
        self._first_look = True
        self._stopping = False
        #: the latest record seen (None: no leader known)
        self.record: LeaderRecord | None = None

    # -- state -----------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """True while this instance leads (its lease renewed in time)."""
        return self._leading

    @property
    def epoch(self) -> int:
        """The epoch (fencing token) of the current leadership, as last seen."""
        return self._epoch

    def holds(self) -> bool:
        """True while this instance leads and its lease is still valid on its own clock."""
        return self._leading and time.monotonic() < self._valid_until

    @property
    def leader(self) -> str | None:
        """The leading instance's id, or None when none is known."""
        return self.record.instance if self.record is not None and self.record.instance else None

    @property
    def leader_url(self) -> str | None:
        """The leader's HTTP URL, or None when unknown."""
        return self.record.url or None if self.record is not None and self.record.instance else None

    def not_leader(self, what: str) -> NotLeader:
        """The error a write on this standby raises (it names the leader and its URL)."""
        leader, url = self.leader, self.leader_url
        if leader is None:
            where = "no leader is known yet (an instance takes over within the lease time)"
        else:
            where = f"the leader is {leader}" + (f" ({url})" if url else "") + ": send writes there"
        return NotLeader(
            f"{what}: this fleet instance ({self.instance}) is a standby; {where}",
            leader=leader,
            leader_url=url,
        )

    # -- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open (or create) the bucket, make one attempt to lead, then keep the lease in the background."""
        # Requests of its own with a short timeout: a look or renewal sent while the broker
        # is away must fail (and be sent again) within the lease, not after JetStream's 5 s
        # default (measured: a single fleet led again 6 s after its broker came back).
        js = self._transport.client.jetstream(timeout=self.request_timeout_s)
        self._kv = await open_key_value(
            js,
            js_api.KeyValueConfig(
                bucket=self.bucket,
                history=1,
                storage=js_api.StorageType.FILE,
                replicas=self._transport.stream_replicas(),  # R3 on a cluster
            ),
        )
        await self._step()
        self._task = asyncio.create_task(self._run(), name="fleet leader lease")

    async def stop(self) -> None:
        """Stop keeping the lease; a leader writes it vacant so a standby takes over at once."""
        self._stopping = True
        task, self._task = self._task, None
        await cancel_and_wait(task, retry_s=self.period_s)  # a swallowed cancel hung stop() under load
        if self._leading and self.holds():
            vacant = LeaderRecord("", self._epoch, "", time.time())
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.period_s * 2):
                    await self._kv.update(LEADER_KEY, vacant.encode(), last=self._revision)
                log.info("fleet %s: leader lease released (epoch %d)", self.instance, self._epoch)
        self._set_leading(False)

    async def _run(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.period_s)
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the lease task die: the next turn tries again
                log.exception("fleet %s: leader lease step failed", self.instance)

    async def _step(self) -> None:
        if self._leading:
            await self._renew()
        else:
            await self._look()

    def _set_leading(self, leading: bool) -> None:
        if leading != self._leading:
            self._leading = leading
            self.changed.set()

    # -- leader ----------------------------------------------------------------------------
    async def _renew(self) -> None:
        started = time.monotonic()
        record = LeaderRecord(self.instance, self._epoch, self._url(), self._since)
        try:
            async with asyncio.timeout(max(0.01, self._valid_until - started)):
                revision = await self._kv.update(LEADER_KEY, record.encode(), last=self._revision)
        except KeyWrongLastSequenceError:
            if await self._own_renewal_landed(record):
                return
            log.warning("fleet %s: another instance took the leader lease; standing by", self.instance)
            self._depose()
            return
        except Exception as exc:
            if time.monotonic() >= self._valid_until:
                log.warning(
                    "fleet %s: leader lease not renewed for %.1f s (%r); standing by",
                    self.instance,
                    time.monotonic() - (self._valid_until - (self.lease_s - self.period_s)),
                    exc,
                )
                self._depose()
            return
        self._revision = self._written = int(revision)
        self.record = record
        self._valid_until = started + self.lease_s - self.period_s

    async def _own_renewal_landed(self, record: LeaderRecord) -> bool:
        """After a lost compare-and-set: True when the stored lease is this instance's own
        (an earlier renewal was stored but its answer lost); its revision is taken then."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(max(0.01, self._valid_until - time.monotonic())):
                entry = await self._kv.get(LEADER_KEY)
            stored = LeaderRecord.decode(entry.value)
            if stored is not None and (stored.instance, stored.epoch) == (record.instance, record.epoch):
                self._revision = int(entry.revision)  # renewed at the next turn
                return True
        return False

    def _depose(self) -> None:
        self._valid_until = 0.0
        self._seen_at = time.monotonic()  # a standby from now: count a whole lease from here
        self._set_leading(False)

    # -- standby ---------------------------------------------------------------------------
    async def _look(self) -> None:
        now = time.monotonic()
        try:
            entry = await self._kv.get(LEADER_KEY)
        except KeyNotFoundError:
            entry = None
        first, self._first_look = self._first_look, False
        if entry is None or entry.value is None:
            await self._acquire(None, epoch=1)
            return
        record = LeaderRecord.decode(entry.value)
        revision = int(entry.revision)
        if revision != self._revision:
            self._revision, self._seen_at = revision, now
            if record is not None and record != self.record and record.instance:
                log.info(
                    "fleet %s: the leader is %s (epoch %d)", self.instance, record.instance, record.epoch
                )
        self.record = record
        epoch = (record.epoch if record is not None else 0) + 1
        if record is None or not record.instance:
            await self._acquire(revision, epoch=epoch)
        elif record.instance == self.instance and (
            first or revision == self._written or record.epoch == self._epoch
        ):
            # at start (a restart), or nobody wrote since this instance's last renewal (it
            # stood down for want of the broker), or what was written since is one of its own
            # renewals of this epoch (stored, but its answer lost with the broker; a take-over
            # writes epoch + 1): the compare-and-set proves no one took over
            log.info(
                "fleet %s: taking back this instance's own lease (epoch %d)", self.instance, record.epoch
            )
            await self._acquire(revision, epoch=epoch)
        elif now - self._seen_at >= self.lease_s:
            log.warning(
                "fleet %s: leader %s did not renew its lease for %.1f s; taking over",
                self.instance,
                record.instance,
                now - self._seen_at,
            )
            await self._acquire(revision, epoch=epoch)

    async def _acquire(self, revision: int | None, *, epoch: int) -> None:
        """Write this instance as leader: create (``revision`` None) or compare-and-set."""
        started = time.monotonic()
        since = time.time()
        record = LeaderRecord(self.instance, epoch, self._url(), since)
        try:
            if revision is None:
                written = await self._kv.create(LEADER_KEY, record.encode())
            else:
                written = await self._kv.update(LEADER_KEY, record.encode(), last=revision)
        except KeyWrongLastSequenceError:
            return  # another instance was faster: the next look sees it
        self._revision, self._epoch, self._since = int(written), epoch, since
        self._written = self._revision
        self.record = record
        self._valid_until = started + self.lease_s - self.period_s
        log.info("fleet %s: leading (epoch %d)", self.instance, epoch)
        self._set_leading(True)
