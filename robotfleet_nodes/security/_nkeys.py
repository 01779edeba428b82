"""A typed wrapper over the ``nkeys`` package: ed25519 key pairs with NATS's role prefixes.

``nkeys`` has no type information and no key generator; this module gives both (a new
seed is 32 random bytes encoded with the role's prefix, as ``nk -gen`` does).
"""

from __future__ import annotations

import os
from typing import Literal

import nkeys  # type: ignore[import-untyped]

__all__ = ["KeyPair", "Role", "key_from_seed", "new_key", "verify_signature"]

Role = Literal["operator", "account", "user"]

_PREFIX: dict[str, int] = {
    "operator": nkeys.PREFIX_BYTE_OPERATOR,
    "account": nkeys.PREFIX_BYTE_ACCOUNT,
    "user": nkeys.PREFIX_BYTE_USER,
}
#: The first letter of a public key of each role.
PUBLIC_LETTER: dict[str, str] = {"operator": "O", "account": "A", "user": "U"}


class KeyPair:
    """An nkey: its seed (secret), public key and signing."""

    __slots__ = ("_kp", "public_key", "role", "seed")

    def __init__(self, seed: str) -> None:
        try:
            self._kp = nkeys.from_seed(seed.encode("ascii"))
            public = self._kp.public_key.decode("ascii")
        except (nkeys.NkeysError, ValueError, UnicodeError) as exc:
            raise ValueError(f"not an nkey seed ({type(exc).__name__})") from None
        self.seed: str = seed
        self.public_key: str = public
        roles = {letter: role for role, letter in PUBLIC_LETTER.items()}
        if public[0] not in roles:
            raise ValueError("not an operator, account or user nkey seed")
        self.role: str = roles[public[0]]

    def sign(self, data: bytes) -> bytes:
        """The ed25519 signature of ``data``."""
        signature: bytes = self._kp.sign(data)
        return signature

    def __repr__(self) -> str:
        return f"KeyPair({self.role} {self.public_key})"


def new_key(role: Role) -> KeyPair:
    """A fresh random key pair of ``role``."""
    seed: bytes = nkeys.encode_seed(os.urandom(32), _PREFIX[role])
    return KeyPair(seed.decode("ascii"))


def key_from_seed(seed: str) -> KeyPair:
    """The key pair of an encoded seed (``SO...``, ``SA...``, ``SU...``)."""
    return KeyPair(seed.strip())


def verify_signature(public_key: str, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s ed25519 signature of ``data``."""
    import base64

    import nacl.exceptions
    import nacl.signing

    try:
        raw = base64.b32decode(public_key + "=" * (-len(public_key) % 8))
    except ValueError:
        return False
    if len(raw) != 35:
        return False
    try:
        nacl.signing.VerifyKey(raw[1:33]).verify(data, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True
