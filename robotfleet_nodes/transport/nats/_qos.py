"""QoS on the wire: a compact code in the ``rfos-qos`` header, and the subscriber's check.

The code is built once per publisher (``r,v,a`` = reliable, volatile, automatic
liveliness; ``d0.5`` deadline; ``l2`` lease; ``s1`` lifespan, which transient-local
subscriptions apply to stored messages). A subscription checks each distinct code it
sees once against its own profile with :func:`incompatibilities` and caches the answer,
so the per-message cost is one dict lookup.
"""

from __future__ import annotations

from robotfleet_nodes.qos import Durability, Liveliness, QoSProfile, Reliability

__all__ = ["decode_qos", "encode_qos"]


def encode_qos(qos: QoSProfile) -> str:
    """The header value announcing what a publisher offers."""
    parts = [
        "r" if qos.reliability is Reliability.RELIABLE else "b",
        "t" if qos.durability is Durability.TRANSIENT_LOCAL else "v",
        "a" if qos.liveliness is Liveliness.AUTOMATIC else "m",
    ]
    if qos.deadline is not None:
        parts.append(f"d{qos.deadline:g}")
    if qos.liveliness_lease_duration is not None:
        parts.append(f"l{qos.liveliness_lease_duration:g}")
    if qos.lifespan is not None:
        parts.append(f"s{qos.lifespan:g}")
    return ",".join(parts)


def decode_qos(code: str) -> QoSProfile:
    """Inverse of :func:`encode_qos`; raises ``ValueError`` on a malformed code."""
    tokens = code.split(",")
    if len(tokens) < 3:
        raise ValueError(f"malformed QoS code {code!r}")
    deadline: float | None = None
    lease: float | None = None
    lifespan: float | None = None
    for token in tokens[3:]:
        if token.startswith("d"):
            deadline = float(token[1:])
        elif token.startswith("l"):
            lease = float(token[1:])
        elif token.startswith("s"):
            lifespan = float(token[1:])
    return QoSProfile(
        reliability=Reliability.RELIABLE if tokens[0] == "r" else Reliability.BEST_EFFORT,
        durability=Durability.TRANSIENT_LOCAL if tokens[1] == "t" else Durability.VOLATILE,
        liveliness=Liveliness.AUTOMATIC if tokens[2] == "a" else Liveliness.MANUAL_BY_TOPIC,
        deadline=deadline,
        liveliness_lease_duration=lease,
        lifespan=lifespan,
    )
