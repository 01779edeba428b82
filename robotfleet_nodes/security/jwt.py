"""NATS JWT v2: encode, sign and decode operator, account and user claims.

Layout (as nats-io/jwt v2 writes it, and as nats-server reads it)::

    base64url({"typ":"JWT","alg":"ed25519-nkey"}) . base64url(claims) . base64url(signature)

The signature is the issuer nkey's ed25519 signature of the first two parts joined by
``.``; all three parts are unpadded base64url. ``claims`` holds the standard fields
(``jti``, ``iat``, ``iss``, ``name``, ``sub``) and a ``nats`` object with the role's
fields and ``type`` / ``version: 2``.

``jti`` is the unpadded base32 SHA-512/256 of the claims serialized without it. NATS
hashes only the standard fields, so two account JWTs signed within one second get the
same ``jti``, and the server's JWT store silently keeps the older one of two JWTs with
the same ``jti``: a revocation pushed in the second after a re-issue would be lost. We
hash the whole claims, so any change of content changes the ``jti``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.security._nkeys import PUBLIC_LETTER, KeyPair, verify_signature

__all__ = [
    "ALGORITHM",
    "JwtError",
    "decode_jwt",
    "encode_jwt",
    "jwt_id",
]

#: The ``alg`` of NATS JWT v2 (v1 used ``ed25519``; the server refuses it for v2 claims).
ALGORITHM = "ed25519-nkey"
_HEADER = {"typ": "JWT", "alg": ALGORITHM}
#: Which role issues each claim type (issuer public key's first letter).
_ISSUER = {"operator": "operator", "account": "operator", "user": "account"}
_SUBJECT = {"operator": "operator", "account": "account", "user": "user"}


class JwtError(RobotFleetError, ValueError):
    """A JWT is malformed, badly signed or of the wrong type."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def jwt_id(claims: Mapping[str, Any]) -> str:
    """The ``jti`` of ``claims``: base32 (unpadded) SHA-512/256 of them without ``jti``."""
    body = {k: v for k, v in claims.items() if k != "jti"}
    digest = hashlib.new("sha512_256", _dumps(body)).digest()
    return base64.b32encode(digest).rstrip(b"=").decode("ascii")


def encode_jwt(
    kind: str,
    subject: str,
    nats: Mapping[str, Any],
    issuer: KeyPair,
    *,
    name: str = "",
    issued_at: int | None = None,
) -> str:
    """Sign a ``kind`` (``operator``, ``account``, ``user``) JWT about ``subject``.

    ``nats`` holds the role's fields (permissions, limits, revocations...); ``type`` and
    ``version`` are added. ``issuer`` must be the operator for operator and account
    claims, the account for user claims (the operator's own JWT is self-signed).

    Raises:
        JwtError: the issuer or subject key is not of the role the claim needs.
    """
    if kind not in _ISSUER:
        raise JwtError(f"unknown claim type {kind!r}: use operator, account or user")
    if issuer.role != _ISSUER[kind]:
        raise JwtError(f"a {kind} JWT is signed by an {_ISSUER[kind]} key, not {issuer!r}")
    if not subject.startswith(PUBLIC_LETTER[_SUBJECT[kind]]):
        raise JwtError(f"the subject of a {kind} JWT is a {_SUBJECT[kind]} public key, got {subject[:1]}...")
    claims: dict[str, Any] = {
        "iat": int(time.time()) if issued_at is None else issued_at,
        "iss": issuer.public_key,
        "sub": subject,
    }
    if name:
        claims["name"] = name
    claims["nats"] = {**nats, "type": kind, "version": 2}
    claims = {"jti": jwt_id(claims), **claims}
    signing_input = f"{_b64(_dumps(_HEADER))}.{_b64(_dumps(claims))}"
    return f"{signing_input}.{_b64(issuer.sign(signing_input.encode('ascii')))}"


def decode_jwt(token: str, *, kind: str | None = None, verify: bool = True) -> dict[str, Any]:
    """The claims of ``token``, after checking its header and (``verify``) its signature.

    The signature is checked against the ``iss`` public key only: whether that issuer is
    trusted is the caller's (and the server's) decision. ``kind`` checks ``nats.type``.

    Raises:
        JwtError: not three base64url parts, not JSON, wrong header, bad signature or type.
    """
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JwtError("a JWT has three parts separated by '.'")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, UnicodeError) as exc:
        raise JwtError(f"not a JWT: {exc}") from None
    if (
        not isinstance(header, dict)
        or header.get("alg") != ALGORITHM
        or str(header.get("typ")).upper() != "JWT"
    ):
        raise JwtError(f"not a NATS v2 JWT (header {header!r}; expected {_HEADER})")
    if not isinstance(claims, dict) or not isinstance(claims.get("nats"), dict):
        raise JwtError("not a NATS JWT: the claims have no 'nats' object")
    if verify and not verify_signature(
        str(claims.get("iss", "")), f"{parts[0]}.{parts[1]}".encode("ascii"), signature
    ):
        raise JwtError("bad signature: the JWT was not signed by its issuer (iss) or was altered")
    if kind is not None and claims["nats"].get("type") != kind:
        raise JwtError(f"expected a {kind} JWT, got a {claims['nats'].get('type')!r} JWT")
    return claims
