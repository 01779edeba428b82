"""Security: NATS identities (operator / account / user JWTs signed with nkeys), the
permissions derived from the topology, TLS material, the server configuration and
revocation. See ``docs/security.md``.
"""

from __future__ import annotations

from robotfleet_nodes.security.deployment import (
    SECRETS_DIR,
    SecretsSummary,
    refresh_server_config,
    write_secrets,
)
from robotfleet_nodes.security.identities import IdentityInfo, IdentityStore
from robotfleet_nodes.security.jwt import JwtError, decode_jwt, encode_jwt
from robotfleet_nodes.security.permissions import Permissions, PermissionTables
from robotfleet_nodes.security.topology import Topology

__all__ = [
    "SECRETS_DIR",
    "IdentityInfo",
    "IdentityStore",
    "JwtError",
    "PermissionTables",
    "Permissions",
    "SecretsSummary",
    "Topology",
    "decode_jwt",
    "encode_jwt",
    "refresh_server_config",
    "write_secrets",
]
