"""Security: NATS identities (operator / account / user JWTs signed with nkeys), the
permissions derived from the topology, TLS material, the server configuration and
revocation; reading ``.creds`` files, client TLS settings, URL redaction; API tokens
(``robotfleet_nodes.security.tokens``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robotfleet_nodes._lazy import lazy_attributes
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

if TYPE_CHECKING:
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

# The identity machinery (nkeys, cryptography, permission tables) loads on first use: the
# transport imports ``security.creds`` and must not pull in the deployment generator.
_WHERE = {
    "SECRETS_DIR": "deployment",
    "SecretsSummary": "deployment",
    "refresh_server_config": "deployment",
    "write_secrets": "deployment",
    "IdentityInfo": "identities",
    "IdentityStore": "identities",
    "JwtError": "jwt",
    "decode_jwt": "jwt",
    "encode_jwt": "jwt",
    "Permissions": "permissions",
    "PermissionTables": "permissions",
    "Topology": "topology",
}

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

__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
