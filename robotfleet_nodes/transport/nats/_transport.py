"""The NATS transport: one nats-py connection shared by every node of a process.

This module holds the connection; :class:`NatsTransport`'s entity, raw and graph methods
are mixins in ``_transport_entities.py``, ``_transport_raw.py`` and ``_transport_graph.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import ssl
import time
import uuid
from typing import Any, ClassVar

from nats import errors as nats_errors
from nats.js import errors as js_errors

from robotfleet_nodes.broker import ENV_URL, messaging_url_from_env
from robotfleet_nodes.errors import BrokerUnavailable, JetStreamUnavailable, TransportError
from robotfleet_nodes.security.creds import ClientSecurity, Credentials, client_security, redact_url
from robotfleet_nodes.transport._base import (
    NodeInfo,
    Transport,
)
from robotfleet_nodes.transport._connection import (
    ConnectionEvents,
    ConnectionListener,
    ConnectionListenerHandle,
    ConnectionState,
)
from robotfleet_nodes.transport._encoding import AUTO, EncodingOption, parse_encoding
from robotfleet_nodes.transport._limits import ENV_ENCODING, max_message_size_from
from robotfleet_nodes.transport._ratelimit import RateLimitedLog
from robotfleet_nodes.transport.nats._chunks import ChunkCounter
from robotfleet_nodes.transport.nats._client import RfosClient, is_refusal
from robotfleet_nodes.transport.nats._fastclient import new_client
from robotfleet_nodes.transport.nats._latched import LatchedStore
from robotfleet_nodes.transport.nats._objects import LargeLatched
from robotfleet_nodes.transport.nats._publisher import NatsPublisher
from robotfleet_nodes.transport.nats._refusals import Refusals, is_permission_violation
from robotfleet_nodes.transport.nats._replicas import in_cluster
from robotfleet_nodes.transport.nats._subjects import SubjectMapper
from robotfleet_nodes.transport.nats._transport_entities import NatsEntityMethods
from robotfleet_nodes.transport.nats._transport_graph import NatsGraphMethods
from robotfleet_nodes.transport.nats._transport_raw import NatsRawMethods

__all__ = ["DEFAULT_RECONNECT_BUFFER", "NatsTransport"]

log = logging.getLogger(__name__)

#: Bytes of outgoing messages kept while reconnecting (beyond it, publish fails or drops).
DEFAULT_RECONNECT_BUFFER = 8 * 1024 * 1024
#: Longest wait between two reconnection attempts (seconds).
_MAX_RECONNECT_WAIT = 5.0
#: Seconds :meth:`NatsTransport.require_jetstream` waits for a cluster's JetStream leader.
CLUSTER_JETSTREAM_WAIT_S = 30.0
#: JetStream's "JetStream system temporarily unavailable" (a cluster without a meta leader).
_JS_CLUSTER_NOT_AVAILABLE = 10008


class NatsTransport(NatsEntityMethods, NatsRawMethods, NatsGraphMethods, Transport):
    """Nodes on a NATS server: core NATS for topics and services, JetStream for latched topics.

    ``url`` defaults to ``MESSAGING_URL`` (several comma-separated URLs form a pool). The
    connection reconnects forever: at once, then after ``reconnect_wait`` seconds, doubling
    up to 5 s, with jitter; publishes made while disconnected are buffered up to
    ``reconnect_buffer_bytes`` and nats-py restores subscriptions.

    ``encoding`` (default ``MESSAGING_ENCODING``, else ``"auto"``): ``"auto"`` (per message
    type, CDR for types with bulk numeric data such as images, point clouds and maps, JSON
    otherwise; see :mod:`robotfleet_nodes.transport._encoding`), or ``json`` / ``cdr`` for every message
    and service call. A publisher may choose its own (``create_publisher(encoding=...)``);
    readers decode by each message's ``rfos-enc`` header whatever the choice.

    ``max_message_size`` (bytes or ``"64MiB"``; default ``MESSAGING_MAX_MESSAGE_SIZE``, else
    256 MiB): a bigger encoded message raises :class:`~robotfleet_nodes.errors.MessageTooLarge`
    on publish. Messages above the server's ``max_payload`` travel in chunks
    (``docs/subjects.md``).

    ``fast_path=False`` keeps the connection on nats-py's public API (slower; to rule the
    fast client out when diagnosing). It is also what happens, with a warning, when the
    installed nats-py lacks an internal the fast client needs (see ``docs/architecture.md``).

    Identity and TLS: ``credentials`` (a NATS ``.creds`` file), ``tls_ca`` (CA the server's
    certificate is verified with), ``tls_cert``/``tls_key`` (mutual TLS) default to
    ``MESSAGING_CREDS``, ``MESSAGING_TLS_CA``, ``MESSAGING_TLS_CERT``, ``MESSAGING_TLS_KEY``
    (ignored with ``RFOS_INSECURE=1``); ``tls`` is a ready ``ssl.SSLContext`` instead of the
    files. nats-py reads the ``.creds`` file on every (re)connect, so a re-issued file is
    used from the next attempt. With credentials, every inbox (request replies, graph
    queries, JetStream consumers) is under ``_INBOX.<identity>``, the identity being the
    JWT's ``name``: the only inbox that identity may subscribe to.

    ``jetstream_replicas``: replicas of the streams and buckets this connection creates
    (``messaging.jetstream_replicas``); ``None``: 3 on a cluster of 3 or more servers, else 1
    (:meth:`stream_replicas`).
    """

    kind: ClassVar[str] = "nats"

    def __init__(
        self,
        url: str | None = None,
        *,
        mapper: SubjectMapper | None = None,
        encoding: EncodingOption | str | None = None,
        max_message_size: int | str | None = None,
        name: str = "",
        reconnect_buffer_bytes: int = DEFAULT_RECONNECT_BUFFER,
        reconnect_wait: float = 1.0,
        connect_timeout: float = 2.0,
        fast_path: bool = True,
        credentials: str | os.PathLike[str] | None = None,
        tls_ca: str | os.PathLike[str] | None = None,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        tls: ssl.SSLContext | None = None,
        jetstream_replicas: int | None = None,
    ) -> None:
        self.url = url
        self._jetstream_replicas = jetstream_replicas
        self.security: ClientSecurity = client_security(
            credentials=credentials, tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key
        )
        self._tls = tls
        self._credentials: Credentials | None = None
        self.mapper = mapper if mapper is not None else SubjectMapper()
        self.encoding: EncodingOption = parse_encoding(
            encoding if encoding is not None else os.environ.get(ENV_ENCODING, "").strip() or AUTO
        )
        #: Largest encoded message publish accepts (``MessageTooLarge`` beyond it).
        self.max_message_size = max_message_size_from(max_message_size)
        #: Message ids of chunked messages (``_chunks.py``).
        self.chunk_ids = ChunkCounter()
        self.name = name or f"rfos-{os.getpid()}"
        self.gid = uuid.uuid4().hex
        self.started_at = time.time()
        self._reconnect_buffer = reconnect_buffer_bytes
        self._reconnect_wait = reconnect_wait
        self._connect_timeout = connect_timeout
        self._fast_path = fast_path
        self._nc: RfosClient | None = None
        self._connect_lock = asyncio.Lock()
        self._connection = ConnectionEvents()
        self._jetstream_checked = False
        self._entities: set[Any] = set()
        self._nodes: list[NodeInfo] = []
        self._self_chunks: list[bytes] = []
        self._node_json_cache: dict[int, tuple[NodeInfo, bytes]] = {}
        self._graph_sub: Any = None
        self._errors = RateLimitedLog(log)
        self._refusals = Refusals(log)
        self.latched: LatchedStore | None = None
        #: Oversized transient-local messages (``_objects.py``).
        self.large: LargeLatched | None = None
        self._closed = False
        self._attempts = 0
        self._settling: asyncio.Future[None] | None = None  # the round trip callers may still join
        self._tasks: set[asyncio.Task[None]] = set()
        self._connect_errors: list[BaseException] = []  # what went wrong in the first connection
        self._connect_scope: asyncio.Timeout | None = None  # the first connection's time limit

    # -- connection ------------------------------------------------------------------
    @property
    def client(self) -> RfosClient:
        """The nats-py connection, for the transport's own entities.

        Other code uses the raw methods below (``jetstream()``, ``request()``,
        ``subscribe_raw()``, ``raw_publisher()``, ...), which keep working whichever client
        (fast or public-API) the transport runs on.
        """
        if self._nc is None:
            raise TransportError("the NATS transport is not connected: call connect() first")
        return self._nc

    @property
    def connected(self) -> bool:
        """True while the connection is up (False while reconnecting or closed)."""
        return self._nc is not None and bool(self._nc.is_connected)

    @property
    def connection_state(self) -> ConnectionState:
        """Where the connection stands now (see :meth:`add_connection_listener`)."""
        return self._connection.state

    def add_connection_listener(self, listener: ConnectionListener) -> ConnectionListenerHandle:
        """Call ``listener`` on every :class:`ConnectionState` change (see :class:`Transport`).

        ``DISCONNECTED`` comes as soon as nats-py notices the loss (a read error, or two
        missed pings), ``RECONNECTED`` once subscriptions are restored on the new connection.
        """
        return self._connection.add(listener)

    @property
    def server_url(self) -> str:
        """The URL of the server connected to now (else the configured URL); never with a password."""
        if self._nc is not None and self._nc.connected_url is not None:
            return redact_url(str(self._nc.connected_url.geturl()))
        return redact_url(self.url or messaging_url_from_env() or "?")

    @property
    def identity(self) -> str | None:
        """The NATS identity connected as (the ``.creds`` JWT's ``name``); ``None`` without credentials."""
        return self._credentials.name if self._credentials is not None else None

    @property
    def permission_violations(self) -> int:
        """Publishes and subscriptions the server refused (NATS permissions); each was logged."""
        return self._refusals.permission_violations

    @property
    def credential_refusals(self) -> int:
        """Times the server refused or dropped this connection because of its credentials."""
        return self._refusals.credential_refusals

    @property
    def inbox_prefix(self) -> str:
        """Where replies to this connection go: ``_INBOX.<identity>`` with credentials, else ``_INBOX``."""
        return self._credentials.inbox_prefix if self._credentials is not None else "_INBOX"

    async def connect(self) -> None:
        """Connect to the server; idempotent. Raises ``TransportError`` saying what to do."""
        async with self._connect_lock:
            if self._nc is not None:
                return
            if self._closed:
                raise TransportError("this NATS transport was closed; create a new one")
            url = self.url or messaging_url_from_env()
            if url is None:
                raise TransportError(
                    f"no NATS server configured: set {ENV_URL} (e.g. nats://localhost:4222), "
                    "or start one with `rfos broker`"
                )
            creds = self.security.read_credentials()  # ConfigError: the file is missing or bad
            tls = self._tls if self._tls is not None else self.security.ssl_context()
            auth: dict[str, Any] = {}
            if creds is not None:
                auth["user_credentials"] = str(creds.path)
                auth["inbox_prefix"] = creds.inbox_prefix
            if tls is not None:
                auth["tls"] = tls
            nc = new_client(fast=self._fast_path)
            nc.rfos_max_message_size = self.max_message_size
            nc.rfos_jetstream_replicas = self._jetstream_replicas
            self._connect_errors = []
            servers = [u.strip() for u in url.split(",") if u.strip()]
            # nats-py hangs closing a socket whose TLS handshake failed (an unknown CA, say):
            # _on_error ends the wait at the first TLS error; the bound is a safety net.
            bound = len(servers) * 2 * (3 * self._connect_timeout + self._reconnect_wait) + 1.0
            try:
                async with asyncio.timeout(bound) as scope:
                    self._connect_scope = scope
                    await self._first_connect(nc, servers, auth)
            except (TimeoutError, OSError, nats_errors.Error) as exc:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(nc.close(), self._connect_timeout)
                errors, self._connect_errors = [*self._connect_errors, exc], []
                for cause in errors:  # a refusal is followed by the socket closing: say the refusal
                    refused = _refusal(cause, creds)
                    if refused is not None:
                        raise TransportError(f"the NATS server at {redact_url(url)} {refused}") from exc
                cause = (
                    errors[0] if errors[0] is not exc and isinstance(exc, nats_errors.NoServersError) else exc
                )
                raise BrokerUnavailable(
                    f"no NATS server answers at {redact_url(url)} ({_describe(cause)}); "
                    f"start one with `rfos broker` (or `nats-server -js`), or set {ENV_URL}"
                ) from exc
            finally:
                self._connect_scope = None
            nc.options["max_reconnect_attempts"] = -1
            self._credentials = creds
            self._nc = nc
            self.latched = LatchedStore(nc, self.mapper.root, self.mapper.domain)
            self.large = LargeLatched(nc, self.mapper.root, self.mapper.domain)
            self._self_chunks = self._participant_chunks()
            self._graph_sub = await nc.subscribe(self.mapper.graph("query"), cb=self._on_graph_query)
            log.info(
                "connected to NATS at %s as %s (%s%s)",
                redact_url(url),
                self.name,
                self.gid,
                f", identity {creds.name}" if creds is not None else "",
            )
            self._connection.set(ConnectionState.CONNECTED)

    async def _first_connect(self, nc: RfosClient, servers: list[str], auth: dict[str, Any]) -> None:
        await nc.connect(
            servers=servers,
            name=self.name,
            **auth,
            allow_reconnect=True,
            # nats-py applies this to the first connection too: with -1 a wrong
            # URL would hang forever. Fail fast now, reconnect forever once up.
            max_reconnect_attempts=1,
            reconnect_time_wait=self._reconnect_wait,  # type: ignore[arg-type]
            reconnect_to_server_handler=self._next_server,
            pending_size=self._reconnect_buffer,
            connect_timeout=self._connect_timeout,  # type: ignore[arg-type]
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
            closed_cb=self._on_closed,
            error_cb=self._on_error,
        )

    async def close(self) -> None:
        """Close every entity and the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        for entity in list(self._entities):
            await entity.close()
        nc = self._nc
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(nats_errors.Error):
                await nc.publish(
                    self.mapper.graph("changed"), json.dumps({"gid": self.gid, "event": "left"}).encode()
                )
            # AttributeError: nats-py flushes into a TLS transport the server already closed
            # (asyncio's SSL protocol is gone): the connection is over either way.
            with contextlib.suppress(nats_errors.Error, TimeoutError, OSError, AttributeError):
                await nc.close()
        self._connection.set(ConnectionState.CLOSED)

    async def require_jetstream(self, purpose: str) -> None:
        """Raise :class:`JetStreamUnavailable` unless the server offers JetStream to us.

        ``purpose`` says what needs it (``"the work orders"``); it ends up in the
        message. One ``$JS.API.INFO`` round trip, only until it first succeeds. On a
        cluster still electing its JetStream leader (servers starting together), it waits
        up to :data:`CLUSTER_JETSTREAM_WAIT_S` for the election.
        """
        if self._jetstream_checked:
            return
        nc = await self._connected_client()
        try:
            await self._cluster_jetstream(nc)
        except (js_errors.ServiceUnavailableError, nats_errors.NoRespondersError):
            raise JetStreamUnavailable(
                f"the NATS server at {self.server_url} has JetStream off, and {purpose} need it: "
                "restart the server with `nats-server -js` (or run `rfos broker`, which has it on)"
            ) from None
        except js_errors.APIError as exc:  # e.g. JetStream on, but not for this account
            raise JetStreamUnavailable(
                f"JetStream on the NATS server at {self.server_url} refuses this connection "
                f"({exc.description or exc}), and {purpose} need it: enable JetStream for the account "
                "(`nats-server -js`, or `jetstream: enabled` in the account's config)"
            ) from None
        except (nats_errors.Error, TimeoutError) as exc:
            raise JetStreamUnavailable(
                f"JetStream on the NATS server at {self.server_url} did not answer "
                f"({exc or type(exc).__name__}), and {purpose} need it: check the server's log "
                "(is it started with `-js`?)"
            ) from None
        self._jetstream_checked = True

    async def _cluster_jetstream(self, nc: RfosClient) -> None:
        """``$JS.API.INFO``; while a cluster's JetStream has no leader yet (error 10008, or no
        answer from a server in a cluster), ask again for up to :data:`CLUSTER_JETSTREAM_WAIT_S`."""
        js = nc.jetstream(timeout=self._connect_timeout)
        deadline = time.monotonic() + CLUSTER_JETSTREAM_WAIT_S
        while True:
            try:
                await js.account_info()
                return
            except (js_errors.ServiceUnavailableError, nats_errors.TimeoutError, TimeoutError) as exc:
                electing = getattr(exc, "err_code", None) == _JS_CLUSTER_NOT_AVAILABLE or (
                    not isinstance(exc, js_errors.APIError) and in_cluster(nc)
                )
                if not electing or time.monotonic() > deadline:
                    raise
                log.info("JetStream of the NATS cluster at %s has no leader yet; waiting", self.server_url)
                await asyncio.sleep(0.25)

    def _next_server(self, servers: list[Any], info: dict[str, Any]) -> tuple[Any, float]:
        """Reconnect policy: round-robin over the pool, exponential backoff with jitter."""
        attempt = self._attempts
        self._attempts += 1
        if attempt == 0:
            return servers[0], 0.0
        delay = min(self._reconnect_wait * 2 ** (attempt - 1), _MAX_RECONNECT_WAIT)
        return servers[attempt % len(servers)], delay * random.uniform(0.8, 1.2)

    async def _on_disconnected(self) -> None:
        if self._closed or self._nc is None:  # closing, or a first connection that failed
            return
        log.warning("disconnected from NATS; reconnecting (buffering up to %d bytes)", self._reconnect_buffer)
        self._connection.set(ConnectionState.DISCONNECTED)

    async def _on_reconnected(self) -> None:
        self._attempts = 0
        for entity in list(self._entities):  # the new server may allow another max_payload
            if isinstance(entity, NatsPublisher):
                entity.refresh_limits()
        url = self._nc.connected_url if self._nc is not None else None
        log.info("reconnected to NATS at %s", redact_url(url.geturl()) if url is not None else "?")
        self._connection.set(ConnectionState.RECONNECTED)

    async def _on_closed(self) -> None:
        if self._nc is None:  # a first connection that failed: connect() reports it
            return
        last = self._nc.last_error
        if not self._closed and last is not None and is_refusal(last):
            log.error(
                "NATS closed the connection for good: the server refused our credentials (%s) and "
                "this nats-py client cannot reconnect after that; re-issue them and restart the process",
                last,
            )
        else:
            log.info("NATS connection closed")
        self._connection.set(ConnectionState.CLOSED)

    async def _on_error(self, exc: Exception) -> None:
        if self._nc is None:  # the first connection: connect() reports the failure itself
            log.debug("NATS error while connecting: %s", exc or type(exc).__name__)
            if len(self._connect_errors) < 8:
                self._connect_errors.append(exc)
            if isinstance(exc, ssl.SSLError) and self._connect_scope is not None:
                self._connect_scope.reschedule(asyncio.get_running_loop().time())  # give up now
            return
        if is_permission_violation(exc):
            self._refusals.permission(exc, self.identity)
        elif is_refusal(exc):
            creds = self._credentials
            self._refusals.credentials(creds.path if creds is not None else None, self.identity)
        else:
            self._errors.log(logging.WARNING, "NATS error: %s", exc or type(exc).__name__)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _refusal(exc: BaseException, creds: Credentials | None) -> str | None:
    """What to say when the server refused us (credentials or TLS), else ``None``."""
    text = _describe(exc).lower()
    if "authorization violation" in text or "authentication" in text:
        if creds is None:
            return (
                f"refused the connection ({_describe(exc)}): it requires credentials; set "
                "messaging.credentials in the YAML or MESSAGING_CREDS to this identity's .creds "
                "file (`rfos fleet gen-config` writes them into <deployment>/secrets/), or "
                "RFOS_INSECURE=1 only for an open development broker"
            )
        return (
            f"refused our credentials ({creds.path}): revoked or unknown; re-issue with "
            f"`rfos security reissue {creds.name}`"
        )
    if isinstance(exc, ssl.SSLError) or "certificate" in text or "ssl" in text or "tls" in text:
        return (
            f"failed the TLS handshake ({_describe(exc)}): set messaging.tls_ca or MESSAGING_TLS_CA to "
            "the deployment's CA (secrets/ca.pem); for mutual TLS also messaging.tls_cert/tls_key"
        )
    return None
