"""Reading a vehicle's retained ``connection`` message through MQTT (:func:`read_retained`).

nats-server keeps retained MQTT messages in JetStream and hands them to new *MQTT*
subscriptions only: the edge's NATS subscription, made after the vehicle connected, never
sees the ``connection`` message the vehicle published when it came ONLINE. So at start the
driver connects to the MQTT listener with a short-lived client (clean session), subscribes
the vehicle's ``connection`` topic, takes what arrives, and disconnects.

When is "what arrives" complete? The client subscribes the topic a second time after the
first SUBACK. The server handles one connection's packets in order and queues the retained
messages of the first SUBSCRIBE before it answers the second: once the second SUBACK is in,
every retained message of the first is in the client's queue too (and the second may add a
duplicate, which the caller's newest-wins rule absorbs). No waiting on a timer.

Edges start together by the thousand: at most :data:`MAX_CONCURRENT_READS` reads run at once
per event loop, and a read that fails (broker not there yet, refused) is retried with
exponential backoff by :func:`read_retained_forever`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiomqtt

from robotfleet_nodes.errors import Vda5050ConfigError

if TYPE_CHECKING:
    from robotfleet_nodes.config import Vda5050DriverConfig

__all__ = ["MAX_CONCURRENT_READS", "MqttEndpoint", "endpoint_for", "read_retained", "read_retained_forever"]

log = logging.getLogger(__name__)

#: How many retained reads run at once per event loop (1000 edges start together).
MAX_CONCURRENT_READS = 32
_READ_TIMEOUT_S = 10.0
_BACKOFF_FIRST_S = 0.5
_BACKOFF_MAX_S = 15.0

_LIMITS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _limit() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    sem = _LIMITS.get(loop)
    if sem is None:
        sem = _LIMITS[loop] = asyncio.Semaphore(MAX_CONCURRENT_READS)
    return sem


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Where and as whom the edge reads retained messages (see :meth:`parse`)."""

    host: str
    port: int
    tls: bool
    client_id: str
    username: str
    password: str | None = None
    tls_ca: str | None = None

    @classmethod
    def parse(
        cls, url: str, *, client_id: str, username: str, password: str | None, tls_ca: str | None
    ) -> MqttEndpoint:
        """``mqtt://host:port`` or ``mqtts://host:port`` (default ports 1883 / 8883).

        Raises:
            Vda5050ConfigError: another scheme or no host.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise Vda5050ConfigError(
                f"vda5050.mqtt_url {url!r}: expected mqtt://host:port or mqtts://host:port"
            )
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            client_id=client_id,
            username=username,
            password=password,
            tls_ca=tls_ca,
        )

    @property
    def url(self) -> str:
        """The endpoint as a URL (no credentials)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def endpoint_for(
    config: Vda5050DriverConfig, robot_id: str, nats_url: str | None, tls_ca: str | None
) -> MqttEndpoint:
    """Where the master of ``robot_id`` reads: ``config.mqtt_url``, else the NATS broker's host
    on port 1883 (``mqtts`` when the edge has a CA); as client ``<robot_id>-master`` (no
    ``.``: nats-server refuses it in a client id), user ``robot_id``, password the JWT of
    ``config.mqtt_credentials`` (nats-server takes a bearer user JWT as the MQTT password).

    Raises:
        Vda5050ConfigError: a URL that is not mqtt:// or mqtts://.
        CredentialsError: an unreadable ``.creds`` file.
    """
    url = config.mqtt_url
    if url is None:
        host = urlsplit((nats_url or "nats://127.0.0.1:4222").split(",")[0]).hostname or "127.0.0.1"
        url = f"{'mqtts' if tls_ca else 'mqtt'}://{host}:1883"
    password = None
    if config.mqtt_credentials:
        from robotfleet_nodes.security.creds import read_creds

        password = read_creds(config.mqtt_credentials).jwt
    return MqttEndpoint.parse(
        url,
        client_id=f"{robot_id}-master".replace(".", "_"),
        username=robot_id,
        password=password,
        tls_ca=tls_ca,
    )


def _client(endpoint: MqttEndpoint) -> aiomqtt.Client:
    context: ssl.SSLContext | None = None
    if endpoint.tls:
        context = ssl.create_default_context(cafile=endpoint.tls_ca)
    return aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        identifier=endpoint.client_id,
        username=endpoint.username,
        password=endpoint.password,
        clean_session=True,
        tls_context=context,
        timeout=_READ_TIMEOUT_S,
    )


async def read_retained(endpoint: MqttEndpoint, topic: str) -> list[bytes]:
    """The retained messages of ``topic`` (none: an empty list), read as the module says.

    Raises:
        aiomqtt.MqttError, OSError, TimeoutError: the broker could not be reached or refused.
    """
    async with _limit(), asyncio.timeout(_READ_TIMEOUT_S), _client(endpoint) as client:
        await client.subscribe(topic, qos=1)
        await client.subscribe(topic, qos=1)  # its SUBACK comes after the first's retained messages
        found: list[bytes] = []
        pending = len(client.messages)
        if pending:
            async for message in client.messages:
                payload = message.payload
                if isinstance(payload, bytes | bytearray):
                    found.append(bytes(payload))
                pending -= 1
                if pending <= 0:
                    break
        return found


async def read_retained_forever(endpoint: MqttEndpoint, topic: str, what: str) -> list[bytes]:
    """:func:`read_retained`, retried with exponential backoff until it succeeds (or is cancelled)."""
    delay = _BACKOFF_FIRST_S
    failures = 0
    while True:
        try:
            return await read_retained(endpoint, topic)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            failures += 1
            log_fn = log.warning if failures == 1 or failures % 10 == 0 else log.debug
            log_fn(
                "%s: could not read the retained %s from %s (%s); retrying in %.1f s",
                what,
                topic,
                endpoint.url,
                exc,
                delay,
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, _BACKOFF_MAX_S)
