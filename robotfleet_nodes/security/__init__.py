"""Identities and secrets: NATS credentials (``.creds`` files), TLS settings, URL redaction."""

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

__all__ = [
    "ENV_CREDS",
    "ENV_INSECURE",
    "ENV_TLS_CA",
    "ENV_TLS_CERT",
    "ENV_TLS_KEY",
    "ClientSecurity",
    "Credentials",
    "client_security",
    "insecure",
    "jwt_claims",
    "read_creds",
    "redact_url",
]
