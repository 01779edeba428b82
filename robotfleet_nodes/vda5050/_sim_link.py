"""A simulated vehicle's MQTT session: connect with the last will, stamp headers, publish, drop.

Built on aiomqtt. :meth:`MqttLink.drop` must close the socket without an MQTT DISCONNECT (so the
broker sends the last will); aiomqtt has no public way to do that, so it reaches the paho client
behind it (``Client._client``, checked when the link is made; aiomqtt is pinned).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from robotfleet_nodes.errors import Vda5050ConfigError
from robotfleet_nodes.vda5050 import SCHEMA_VERSION, errors
from robotfleet_nodes.vda5050.topics import VehicleTopics

__all__ = ["MqttLink", "parse_mqtt_url", "timestamp"]

_log = logging.getLogger(__name__)


def timestamp() -> str:
    """Now as ISO 8601 UTC with milliseconds (``2026-12-05T22:15:28.123Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_mqtt_url(url: str) -> tuple[str, int, bool]:
    """``mqtt://host:port`` / ``mqtts://host:port`` -> (host, port, tls)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl", "tls"):
        raise Vda5050ConfigError(f"MQTT URL {url!r}: expected mqtt://host:port or mqtts://host:port")
    tls = parts.scheme in ("mqtts", "ssl", "tls")
    try:
        port = parts.port
    except ValueError:
        raise Vda5050ConfigError(f"MQTT URL {url!r}: the port is not a number") from None
    return parts.hostname or "127.0.0.1", port or (8883 if tls else 1883), tls


class MqttLink:
    """One vehicle's MQTT client: header ids per topic, its will, and JSON publishing."""

    def __init__(
        self,
        topics: VehicleTopics,
        *,
        mqtt_url: str,
        client_id: str,
        username: str | None,
        password: str | None,
        tls_ca: str | None,
        validate: bool,
    ) -> None:
        self.topics = topics
        self.url = mqtt_url
        self._host, self._port, tls = parse_mqtt_url(mqtt_url)
        self._tls: ssl.SSLContext | None = ssl.create_default_context(cafile=tls_ca) if tls else None
        self._client_id = client_id
        self._username = username if username is not None or password is None else client_id
        self._password = password
        self._validate = validate
        self._header_ids: dict[str, int] = {}
        self._online_header = 0
        self.client: aiomqtt.Client | None = None
        self.sent = 0
        self.invalid_sent = 0

    def _message(self, topic: str, body: dict[str, Any], header: int | None = None) -> dict[str, Any]:
        if header is None:
            header = self._header_ids.get(topic, -1) + 1
            self._header_ids[topic] = header
        return {
            "headerId": header,
            "timestamp": timestamp(),
            "version": SCHEMA_VERSION,
            "manufacturer": self.topics.manufacturer,
            "serialNumber": self.topics.serial_number,
            **body,
        }

    def _encode(self, topic: str, body: dict[str, Any], header: int | None = None) -> bytes:
        message = self._message(topic, body, header)
        if self._validate:
            problems = errors(topic, message)
            if problems:
                self.invalid_sent += 1
                _log.error("%s: own %s message breaks the schema: %s", self._client_id, topic, problems[0])
        return json.dumps(message, separators=(",", ":")).encode()

    def make_client(self) -> aiomqtt.Client:
        """A new aiomqtt client whose will is ``connection`` CONNECTIONBROKEN (QoS 1, retained).

        The will's headerId is the one after the ONLINE message :meth:`publish_online` sends
        next, so a master that drops older headerIds still takes the will.
        """
        online = self._header_ids.get("connection", -1) + 1
        self._header_ids["connection"] = online + 1  # the will's
        self._online_header = online
        will = aiomqtt.Will(
            self.topics.topic("connection"),
            self._encode("connection", {"connectionState": "CONNECTIONBROKEN"}, online + 1),
            qos=1,
            retain=True,
        )
        client = aiomqtt.Client(
            self._host,
            self._port,
            identifier=self._client_id,
            username=self._username,
            password=self._password,
            tls_context=self._tls,
            will=will,
            clean_session=True,
            keepalive=30,
            timeout=10,
        )
        if not hasattr(client, "_client"):  # see the module docstring
            raise RuntimeError("aiomqtt changed: Client._client is gone; pin aiomqtt as constraints.txt says")
        self.client = client
        return client

    async def publish_online(self) -> None:
        """``connection`` ONLINE (QoS 1, retained), right after connecting."""
        await self.publish(
            "connection", {"connectionState": "ONLINE"}, qos=1, retain=True, header=self._online_header
        )

    async def publish(
        self,
        topic: str,
        body: dict[str, Any],
        *,
        qos: int = 0,
        retain: bool = False,
        header: int | None = None,
    ) -> None:
        """Publish ``body`` (plus header) on the vehicle's ``topic``; nothing if not connected."""
        client = self.client
        if client is None:
            return
        payload = self._encode(topic, body, header)
        try:
            await client.publish(self.topics.topic(topic), payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as exc:
            _log.debug("%s: %s not sent: %s", self._client_id, topic, exc)
            return
        self.sent += 1

    def drop(self) -> None:
        """Close the socket without a DISCONNECT: the broker publishes the last will."""
        client = self.client
        if client is None:
            return
        sock = client._client.socket()  # see the module docstring
        if isinstance(sock, socket.socket):  # ssl.SSLSocket is one too
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
