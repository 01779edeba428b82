"""Credential revocations and re-issues in the audit trail (docs/fleet.md, "Audit").

``rfos security revoke NAME`` / ``reissue NAME`` run as their own process on the fleet's
host: they change ``<secrets>/identities.json`` and push the account to the server, and
never talk to the fleet. The fleet notices the change on its summary tick (one ``stat``
per tick, the file read only when it changed) and records ``credential_revoke`` /
``credential_reissue`` with actor ``file`` (as tokens changed by the CLI are), so the audit
trail, which only the fleet identity may write, holds them too.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from robotfleet_nodes.fleet._audit import AuditLog

__all__ = ["CredentialWatch"]

log = logging.getLogger(__name__)

#: The identity manifest `rfos security` keeps in the secrets directory.
MANIFEST = "identities.json"


class CredentialWatch:
    """Diffs the revoked identities of ``<secrets>/identities.json`` between polls."""

    def __init__(self, audit: AuditLog, secrets: Path) -> None:
        self._audit = audit
        self.path = secrets / MANIFEST
        self._stamp: tuple[int, int] | None = None
        self._revoked: dict[str, str] | None = None  # name -> kind; None until first read

    def poll(self) -> None:
        """Record what changed since the last poll (nothing on the first: the baseline)."""
        try:
            stat = self.path.stat()
        except OSError:
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            identities: dict[str, Any] = json.loads(self.path.read_text()).get("identities", {})
        except (OSError, ValueError, AttributeError) as exc:  # half-written: read it next tick
            self._stamp = None
            log.debug("%s not readable now (%r)", self.path, exc)
            return
        revoked = {
            name: str(entry.get("kind", ""))
            for name, entry in identities.items()
            if isinstance(entry, dict) and entry.get("revoked")
        }
        if self._revoked is not None:
            for name in sorted(revoked.keys() - self._revoked.keys()):
                self._record("credential_revoke", name, revoked[name])
            for name in sorted(self._revoked.keys() - revoked.keys()):
                if name in identities:  # re-issued (a forgotten identity is not a re-issue)
                    self._record("credential_reissue", name, self._revoked[name])
        self._revoked = revoked

    def _record(self, action: str, name: str, kind: str) -> None:
        self._audit.record(
            action, actor="file", target=name, params={"kind": kind}, source=str(self.path), via="file"
        )
