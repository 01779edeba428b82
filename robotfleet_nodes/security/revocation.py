"""Revoke and re-issue identities, and push the account JWT to a running nats-server.

``revoke(out, "robot-7")``: robot-7's key goes into the application account's
``revocations``; every container identity holding robot-7 is re-issued (new key, without
robot-7's subjects) and its old key revoked too; the account JWT is re-signed, written to
the resolver directory and the server configuration, and, given a server URL, sent with
the system user (``sys.creds``) on ``$SYS.REQ.CLAIMS.UPDATE``. The server then closes the
connections of the revoked keys and refuses them from then on. ``reissue`` gives the
identity a new key (the old one stays revoked) and puts it back into its containers.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robotfleet_nodes.errors import ConfigError, TransportError
from robotfleet_nodes.security.deployment import SECRETS_DIR, refresh_server_config
from robotfleet_nodes.security.identities import IdentityStore
from robotfleet_nodes.security.topology import Topology

__all__ = ["CLAIMS_UPDATE", "RevocationResult", "push_account", "reissue", "revoke"]

log = logging.getLogger(__name__)

#: Where the system account takes account JWT updates (full resolver).
CLAIMS_UPDATE = "$SYS.REQ.CLAIMS.UPDATE"


@dataclass(frozen=True)
class RevocationResult:
    """What :func:`revoke` / :func:`reissue` changed."""

    name: str
    reissued: list[str]
    """Identities given new credentials (containers, or the identity itself on reissue)."""
    pushed: bool
    """Whether a running server took the new account JWT."""


def _tls_context(secrets: Path, ca: str | os.PathLike[str] | None) -> ssl.SSLContext | None:
    path = Path(ca) if ca else secrets / "ca.pem"
    if not path.exists():
        return None
    ctx = ssl.create_default_context(cafile=str(path))
    cert, key = secrets / "client-cert.pem", secrets / "client-key.pem"
    if cert.exists() and key.exists():
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


async def push_account(
    account_jwt: str,
    url: str,
    *,
    sys_creds: Path,
    ca: str | os.PathLike[str] | None = None,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Send ``account_jwt`` to the server at ``url`` as the system user; the server's answer.

    Raises:
        TransportError: the server cannot be reached, refuses the system user, or rejects
            the JWT (the message says why).
    """
    import nats

    secrets = sys_creds.parent
    try:
        nc = await nats.connect(
            servers=[u.strip() for u in url.split(",") if u.strip()],
            user_credentials=str(sys_creds),
            tls=_tls_context(secrets, ca),
            allow_reconnect=False,
            connect_timeout=timeout,
            max_reconnect_attempts=0,
        )
    except Exception as exc:  # nats-py raises several unrelated types
        raise TransportError(f"cannot connect to {url} as the system user ({exc})") from None
    try:
        msg = await nc.request(CLAIMS_UPDATE, account_jwt.encode("ascii"), timeout=timeout)
    except Exception as exc:
        raise TransportError(f"{url}: no answer to the account update ({exc})") from None
    finally:
        await nc.close()
    answer: dict[str, Any] = json.loads(msg.data or b"{}")
    if "error" in answer:
        raise TransportError(f"{url}: the server refused the account update: {answer['error']}")
    return answer


def _open(out_dir: str | os.PathLike[str]) -> tuple[IdentityStore, Topology]:
    out = Path(out_dir)
    secrets = out / SECRETS_DIR
    if not (secrets / "identities.json").exists():
        raise ConfigError(f"{secrets}: no identities here; run `rfos security init --out {out}` first")
    store = IdentityStore(secrets).open()
    root, domain = store.subjects()
    return store, Topology.from_deployment(out, root=root, domain=domain)


async def _finish(
    store: IdentityStore, name: str, before: dict[str, str], url: str | None, ca: str | None
) -> RevocationResult:
    store.save()
    refresh_server_config(store)
    changed = sorted(n for n, e in store.identities.items() if before.get(n) != e.get("key") and n != name)
    pushed = False
    if url:
        await push_account(store.current_account_jwt(), url, sys_creds=store.dir / "sys.creds", ca=ca)
        pushed = True
    return RevocationResult(name=name, reissued=changed, pushed=pushed)


async def revoke(
    out_dir: str | os.PathLike[str],
    name: str,
    *,
    url: str | None = None,
    ca: str | None = None,
    containers: int | None = None,
    zone_containers: int | None = None,
) -> RevocationResult:
    """Revoke identity ``name`` of the deployment in ``out_dir`` (see the module docstring).

    Raises:
        ConfigError: no such identity or deployment.
        TransportError: ``url`` given and the server did not take the update.
    """
    store, topology = _open(out_dir)
    before = {n: str(e.get("key")) for n, e in store.identities.items()}
    store.mark_revoked(name)
    store.sync(topology, **_split(store, containers, zone_containers))
    return await _finish(store, name, before, url, ca)


async def reissue(
    out_dir: str | os.PathLike[str],
    name: str,
    *,
    url: str | None = None,
    ca: str | None = None,
    containers: int | None = None,
    zone_containers: int | None = None,
) -> RevocationResult:
    """Give identity ``name`` new credentials (new key); undo its revocation in containers."""
    store, topology = _open(out_dir)
    before = {n: str(e.get("key")) for n, e in store.identities.items()}
    store.unmark_revoked(name)
    if store.identities[name].get("kind") == "node":
        entry = store.identities[name]
        store.issue(name, "node", _node_perms(topology, name, entry), extra={"node": entry.get("node", {})})
    store.sync(topology, **_split(store, containers, zone_containers))
    result = await _finish(store, name, before, url, ca)
    return RevocationResult(name=name, reissued=[name, *result.reissued], pushed=result.pushed)


def _node_perms(topology: Topology, name: str, entry: dict[str, Any]) -> Any:
    from robotfleet_nodes.security.permissions import PermissionTables

    return PermissionTables(topology).user_node(name, **entry.get("node", {}))


def _split(store: IdentityStore, containers: int | None, zone_containers: int | None) -> dict[str, int]:
    """The container split of the last generation, unless given."""
    kinds = [e.get("kind") for e in store.identities.values()]
    return {
        "containers": kinds.count("robots") if containers is None else containers,
        "zone_containers": kinds.count("zones") if zone_containers is None else zone_containers,
    }
