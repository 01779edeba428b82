"""Transient-local messages over ``max_payload`` (maps): one JetStream Object Store object per topic.

The latched stream (``_latched.py``) keeps the last message of a transient-local topic,
but a message over the server's ``max_payload`` travels in chunks, and a stream keeping one
message per subject would keep only the last chunk. So a publisher of such a message:

1. puts the encoded message into the Object Store bucket ``RFOS_<root>_<domain>_LARGE``,
   object name = the topic's subject, the publisher's headers (plus ``rfos-msgid``) as the
   object's headers; putting it again replaces it (KEEP_LAST 1; deeper histories of
   oversized messages are refused);
2. publishes the chunks live, as for any topic (live subscribers assemble them);
3. publishes a small *marker* on the topic, stored in the latched stream after the chunks:
   the publisher's headers plus ``rfos-chunk: <msgid> stored``.

A transient-local subscription that joins later reads the marker from the stream first and
fetches the object; a subscriber that already assembled message ``<msgid>`` from its live
chunks ignores the marker. When the bucket cannot be used (no JetStream, or an identity
without the right), the message is only sent live and the publisher logs it once.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Final

from nats import errors as nats_errors
from nats.js import api
from nats.js import errors as js_errors

from robotfleet_nodes.transport._ratelimit import OnceLogger
from robotfleet_nodes.transport.nats._replicas import stream_replicas

__all__ = ["H_MSGID", "LargeLatched", "bucket_name"]

log = logging.getLogger(__name__)

_BAD = re.compile(r"[^A-Za-z0-9_-]")
#: Object header: the message id the publisher gave the stored message.
H_MSGID: Final = "rfos-msgid"
#: Room left in each object chunk for the chunk's own headers.
_CHUNK_HEADROOM: Final = 4096


def bucket_name(root: str, domain: str) -> str:
    """``RFOS_<root>_<domain>_LARGE`` with characters buckets forbid replaced by ``_``."""
    return _BAD.sub("_", f"RFOS_{root}_{domain}_LARGE")


class LargeLatched:
    """The Object Store bucket of oversized transient-local messages of one root and domain."""

    def __init__(self, nc: Any, root: str, domain: str) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=10.0)
        self.name = bucket_name(root, domain)
        self._store: Any = None
        self._lock = asyncio.Lock()
        self._once = OnceLogger(log)

    async def _bucket(self, *, create: bool) -> Any:
        if self._store is not None:
            return self._store
        async with self._lock:
            if self._store is None:
                try:
                    self._store = await self._js.object_store(self.name)
                except (js_errors.NotFoundError, js_errors.BucketNotFoundError):
                    if not create:
                        return None
                    config = api.ObjectStoreConfig(
                        bucket=self.name, storage=api.StorageType.FILE, replicas=stream_replicas(self._nc)
                    )
                    self._store = await self._js.create_object_store(self.name, config=config)
        return self._store

    async def put(self, subject: str, headers: dict[str, str], payload: bytes) -> bool:
        """Store ``payload`` as the object of ``subject`` (replacing it); False when we cannot."""
        try:
            store = await self._bucket(create=True)
            chunk = max(64 * 1024, int(self._nc.max_payload) - _CHUNK_HEADROOM)
            meta = api.ObjectMeta(
                name=subject, headers=dict(headers), options=api.ObjectMetaOptions(max_chunk_size=chunk)
            )
            await store.put(subject, payload, meta=meta)
        except (nats_errors.Error, js_errors.Error, TimeoutError) as exc:
            self._once.log(
                subject,
                logging.WARNING,
                "%s: cannot keep an oversized transient-local message in Object Store bucket %s (%s); "
                "late subscribers will not get it (give this identity JetStream rights on the bucket)",
                subject,
                self.name,
                exc or type(exc).__name__,
            )
            return False
        return True

    async def get(self, subject: str) -> tuple[dict[str, str], bytes] | None:
        """(headers, payload) of the object of ``subject``; ``None`` when there is none."""
        try:
            store = await self._bucket(create=False)
            if store is None:
                return None
            result = await store.get(subject)
        except js_errors.ObjectNotFoundError:
            return None
        except (nats_errors.Error, js_errors.Error, TimeoutError) as exc:
            self._once.log(
                ("get", subject),
                logging.WARNING,
                "%s: cannot read the stored message from Object Store bucket %s: %s",
                subject,
                self.name,
                exc or type(exc).__name__,
            )
            return None
        headers = dict(result.info.headers or {})
        return {k: v if isinstance(v, str) else str(v[0] if v else "") for k, v in headers.items()}, bytes(
            result.data
        )
