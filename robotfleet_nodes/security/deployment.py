"""Everything ``<out>/secrets/`` holds for one deployment, written in one call.

:func:`write_secrets` is what ``rfos fleet gen-config`` and ``rfos security init`` call:
identities for the topology (kept when unchanged), TLS material, the server configuration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from robotfleet_nodes.security._files import write_secret
from robotfleet_nodes.security.cluster_config import write_cluster_config
from robotfleet_nodes.security.identities import IdentityStore
from robotfleet_nodes.security.server_config import write_mqtt_config, write_server_config
from robotfleet_nodes.security.tls import ensure_ca, issue_certificate, server_hosts
from robotfleet_nodes.security.topology import Topology

__all__ = [
    "ADMIN_TOKEN",
    "SECRETS_DIR",
    "SecretsSummary",
    "ensure_admin_token",
    "refresh_server_config",
    "write_secrets",
]

log = logging.getLogger(__name__)

#: The secrets directory's name inside a deployment directory.
SECRETS_DIR = "secrets"
#: The plain admin API token, next to the token store ``api-tokens.json``.
ADMIN_TOKEN = "api-admin.token"


@dataclass(frozen=True)
class SecretsSummary:
    """What :func:`write_secrets` did."""

    secrets: Path
    server_config: Path
    identities: int
    written: int
    """Creds files (re)written this time (0 on a re-run with nothing changed)."""
    account: str = ""
    """The application account's public key (what a leaf remote in operator mode binds to)."""


def refresh_server_config(store: IdentityStore, *, tls: bool = True, mutual_tls: bool | None = None) -> Path:
    """Rewrite ``nats-server.conf`` from the store's current JWTs (after a revocation too)."""
    _, account, system = store.trust()
    secrets = store.dir
    if mutual_tls is None:
        mutual_tls = (secrets / "client-cert.pem").exists()
    largest = max((p.stat().st_size for p in secrets.glob("*.creds")), default=0)
    accounts = {
        key: store.account_jwt_path(key).read_text(encoding="ascii").strip()
        for key in (system.public_key, account.public_key)
    }
    return write_server_config(
        secrets,
        operator_jwt=(secrets / "operator.jwt").read_text(encoding="ascii").strip(),
        system_account=system.public_key,
        accounts=accounts,
        largest_user_jwt=largest,
        tls=tls,
        mutual_tls=mutual_tls,
    )


def write_secrets(
    out_dir: str | os.PathLike[str],
    topology: Topology,
    *,
    containers: int = 4,
    zone_containers: int = 0,
    hosts: Sequence[str] = (),
    mutual_tls: bool = False,
) -> SecretsSummary:
    """Write (or bring up to date) ``<out_dir>/secrets/`` for ``topology``.

    Identities: every robot, zone, area, ``fleet``, ``operator``, ``viewer``, edge
    containers ``robots-<a>-<b>`` (``containers`` parts of robots.csv) and zone containers
    ``zones-<a>-<b>`` (``zone_containers`` parts), user nodes added earlier. TLS: a CA and
    a server certificate for localhost and ``hosts`` (and a client certificate when
    ``mutual_tls``). The server configuration ``nats-server.conf``, and the route TLS of a
    NATS cluster of these hosts, ``nats-cluster.conf`` (with its route certificate).
    """
    secrets = Path(out_dir) / SECRETS_DIR
    store = IdentityStore(secrets).open()
    written = store.sync(topology, containers=containers, zone_containers=zone_containers)
    store.save()
    ensure_ca(secrets)
    issue_certificate(secrets, "server", common_name="nats-server", hosts=server_hosts(hosts))
    if mutual_tls:
        issue_certificate(secrets, "client", common_name="rfos-client", client=True)
    config = refresh_server_config(store, mutual_tls=mutual_tls)
    write_mqtt_config(secrets)
    write_cluster_config(secrets, hosts=hosts)
    log.info("secrets: %d identities (%d written) in %s", len(store.identities), written, secrets)
    return SecretsSummary(
        secrets=secrets,
        server_config=config,
        identities=len(store.identities),
        written=written,
        account=store.trust()[1].public_key,
    )


def ensure_admin_token(secrets: Path) -> Path:
    """``<secrets>/api-admin.token`` (plain, 0600) with a matching admin entry in
    ``api-tokens.json``, unless it exists."""
    from robotfleet_nodes.security import tokens

    path = secrets / ADMIN_TOKEN
    if path.exists():
        return path
    store = secrets / "api-tokens.json"
    if any(t.name == "admin" and t.revoked is None for t in tokens.list_tokens(store)):
        tokens.revoke_token(store, "admin")  # its plain text was lost with api-admin.token
    write_secret(path, tokens.create_token(store, "admin", "admin") + "\n")
    return path
