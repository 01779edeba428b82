"""The headers every RobotFleetOS message carries, so any tool can decode it cold.

========== ==================================================================
header     value
========== ==================================================================
rfos-type  full ROS type name: ``std_msgs/msg/String``
rfos-hash  REP-2011 type hash: ``RIHS01_...``
rfos-enc   payload encoding: ``json`` or ``cdr``
rfos-gid   participant (transport instance) that sent it; topics only
rfos-qos   what the publisher offers (see ``_qos.py``); topics only
rfos-error a service handler failed: ``ExceptionType: message`` (empty payload)
rfos-probe a ``wait_for_service`` probe; answered without calling the handler
rfos-chunk ``<msgid> <index>/<count>``: one chunk of a message over ``max_payload`` (``_chunks.py``)
========== ==================================================================

A message with an empty payload and headers on a topic is a liveliness heartbeat. Each
publisher, server and client encodes its header block once (``encode_block``); see
``_client.py`` for what that saves.
"""

from __future__ import annotations

__all__ = [
    "H_CHUNK",
    "H_ENC",
    "H_ERROR",
    "H_GID",
    "H_HASH",
    "H_PROBE",
    "H_QOS",
    "H_TYPE",
    "decode_block",
    "encode_block",
]

H_TYPE = "rfos-type"
H_HASH = "rfos-hash"
H_ENC = "rfos-enc"
H_GID = "rfos-gid"
H_QOS = "rfos-qos"
H_ERROR = "rfos-error"
H_PROBE = "rfos-probe"
H_CHUNK = "rfos-chunk"


def encode_block(headers: dict[str, str]) -> bytes:
    """The NATS header block (``NATS/1.0`` + lines + blank line) for ``headers``."""
    lines = "".join(f"{key}: {value}\r\n" for key, value in headers.items())
    for key, value in headers.items():
        if "\r" in value or "\n" in value or ":" in key or " " in key:
            raise ValueError(f"header {key!r}: {value!r} cannot be sent")
    return f"NATS/1.0\r\n{lines}\r\n".encode()


def decode_block(block: bytes) -> dict[str, str]:
    """The headers of a block made by :func:`encode_block` (the inverse, for nats-py's public API)."""
    headers: dict[str, str] = {}
    for line in block.decode().split("\r\n")[1:]:
        if line:
            key, _, value = line.partition(": ")
            headers[key] = value
    return headers
