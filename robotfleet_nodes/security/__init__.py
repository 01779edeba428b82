"""Security: NATS identities (operator / account / user JWTs signed with nkeys), the
permissions derived from the topology, TLS material, the server configuration and
revocation; reading ``.creds`` files, client TLS settings, URL redaction.
"""

from __future__ import annotations

from robotfleet_nodes.security.creds import (
    ENV_CREDS,
    ENV_INSECURE,
    ENV_TLS_CA,
    ENV_TLS_CERT,
    ENV_TLS_KEY,
    ClientSecurity,
    Credentials,
    client_security,
    insecure,
    jwt_claims,
    read_creds,
    redact_url,
)
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
    "ENV_CREDS",
    "ENV_INSECURE",
    "ENV_TLS_CA",
    "ENV_TLS_CERT",
    "ENV_TLS_KEY",
    "SECRETS_DIR",
    "ClientSecurity",
    "Credentials",
    "IdentityInfo",
    "IdentityStore",
    "JwtError",
    "PermissionTables",
    "Permissions",
    "SecretsSummary",
    "Topology",
    "client_security",
    "decode_jwt",
    "encode_jwt",
    "insecure",
    "jwt_claims",
    "read_creds",
    "redact_url",
    "refresh_server_config",
    "write_secrets",
]
