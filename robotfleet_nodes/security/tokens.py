"""API tokens of the fleet's HTTP API: created once, stored only as SHA-256 hashes.

The tokens file (``http.tokens_file``, e.g. ``<deploy>/secrets/api-tokens.json``, mode
0600, written atomically) is a JSON document::

    {"version": 1, "tokens": [
        {"name": "admin", "role": "admin", "sha256": "<hex>",
         "created": "2026-12-05T10:00:00Z", "revoked": null}]}

A token is ``rfos_`` + 43 URL-safe characters (32 random bytes); it is shown once, by
:func:`create_token`, and never stored. Roles are ``viewer`` < ``operator`` < ``admin``.
A name is unique among the tokens that are not revoked (a revoked token's name may be
given to a new token, which replaces the revoked entry).

:class:`TokenStore` is what the fleet authenticates with: it re-reads the file when it
changed (one ``stat`` per lookup) and finds a token by its hash in a dict.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from robotfleet_nodes.errors import RobotFleetError

__all__ = [
    "ROLES",
    "TOKEN_PREFIX",
    "Role",
    "TokenError",
    "TokenInfo",
    "TokenStore",
    "create_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
    "role_allows",
]

log = logging.getLogger(__name__)

Role = Literal["viewer", "operator", "admin"]
#: The roles, weakest first: each may do what the ones before it may.
ROLES: Final[tuple[Role, ...]] = ("viewer", "operator", "admin")
#: Every token starts with this (recognisable in a leaked log or a secret scanner).
TOKEN_PREFIX: Final = "rfos_"
#: Token names: usable as a NATS subject token and in a URL path.
NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_VERSION = 1
_UNREAD = object()


class TokenError(RobotFleetError, ValueError):
    """A token operation cannot be done (bad name or role, unknown name, unreadable file)."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One token as listed: never the token itself, nor its hash."""

    name: str
    role: Role
    created: str
    revoked: str | None = None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked is None


def role_allows(role: str, needed: str) -> bool:
    """True when ``role`` may do what ``needed`` may (``admin`` allows ``operator``...)."""
    if role not in ROLES or needed not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def hash_token(token: str) -> str:
    """The hex SHA-256 of ``token`` (what the file stores)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TokenError(
            f"token name {name!r} is not valid: use 1 to 64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise TokenError(f"token role {role!r} is not valid: use one of {', '.join(ROLES)}")
    return role


# -- the file ------------------------------------------------------------------------------
def _parse(text: str, source: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(text) if text.strip() else {"version": _VERSION, "tokens": []}
    except json.JSONDecodeError as exc:
        raise TokenError(f"{source}: not a tokens file (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
        raise TokenError(f'{source}: not a tokens file (expected {{"version": 1, "tokens": [...]}})')
    entries: list[dict[str, Any]] = []
    for i, entry in enumerate(data["tokens"]):
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and entry.get("role") in ROLES
            and isinstance(entry.get("sha256"), str)
            and len(entry["sha256"]) == 64
            and isinstance(entry.get("created"), str)
            and (entry.get("revoked") is None or isinstance(entry.get("revoked"), str))
        )
        if not ok:
            need = "name, role (viewer|operator|admin), sha256, created"
            raise TokenError(f"{source}: tokens[{i}] needs {need}")
        entries.append(entry)
    return entries


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TokenError(f"{path}: cannot read the tokens file: {exc}") from None
    return _parse(text, path)


def _write(path: Path, entries: list[dict[str, Any]]) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``entries``."""
    text = json.dumps({"version": _VERSION, "tokens": entries}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of ``path`` between processes (the CLI and the fleet)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    lock = path.with_name(f".{path.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _info(entry: dict[str, Any]) -> TokenInfo:
    return TokenInfo(entry["name"], entry["role"], entry["created"], entry.get("revoked"))


# -- public API ------------------------------------------------------------------------------
def create_token(tokens_file: Path, name: str, role: str) -> str:
    """Create a token ``name`` with ``role`` in ``tokens_file``; return the token (shown once).

    Raises :class:`TokenError` for a bad name or role, or a name an active token holds.
    """
    _check_name(name)
    checked = _check_role(role)
    path = Path(tokens_file)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with _locked(path):
        entries = _read(path)
        if any(e["name"] == name and e.get("revoked") is None for e in entries):
            raise TokenError(f"a token named {name!r} exists: revoke it first or choose another name")
        entries = [e for e in entries if e["name"] != name]
        entries.append(
            {"name": name, "role": checked, "sha256": hash_token(token), "created": _now(), "revoked": None}
        )
        _write(path, entries)
    log.info("API token %r (%s) created in %s", name, checked, path)
    return token


def list_tokens(tokens_file: Path) -> list[TokenInfo]:
    """Every token in ``tokens_file`` (revoked ones too), in creation order; ``[]`` if none."""
    return [_info(e) for e in _read(Path(tokens_file))]


def revoke_token(tokens_file: Path, name: str) -> None:
    """Revoke the active token ``name``; :class:`TokenError` if there is none."""
    path = Path(tokens_file)
    with _locked(path):
        entries = _read(path)
        for entry in entries:
            if entry["name"] == name and entry.get("revoked") is None:
                entry["revoked"] = _now()
                break
        else:
            raise TokenError(f"no active token named {name!r} in {path}")
        _write(path, entries)
    log.info("API token %r revoked in %s", name, path)


class TokenStore:
    """The tokens file as the fleet reads it: :meth:`authenticate` a presented token.

    The file is read again when its inode, size or modification time changed (one ``stat``
    per call), so a token created or revoked by ``rfos security token`` counts at once. A
    file that became unreadable or invalid keeps the last good contents (logged once per
    change); at construction, :class:`TokenError`. A missing file means no token is valid.
    """

    def __init__(self, tokens_file: Path) -> None:
        self.path = Path(tokens_file)
        self._lock = threading.Lock()
        self._stamp: object = _UNREAD
        self._by_hash: dict[str, dict[str, Any]] = {}
        self._entries: list[dict[str, Any]] = []
        #: called with ``[("create" | "revoke", TokenInfo), ...]`` when the file changed under
        #: the store (another process: ``rfos security token``), not for its own create/revoke
        self.on_change: Callable[[list[tuple[str, TokenInfo]]], None] | None = None
        self.refresh()

    def refresh(self) -> None:
        """Re-read the file if it changed since the last read."""
        self._refresh(frozenset())

    def _refresh(self, ours: frozenset[tuple[str, str]]) -> None:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        except OSError as exc:
            log.warning("tokens file %s: %s", self.path, exc)
            return
        if stamp == self._stamp:
            return
        with self._lock:
            try:
                entries = _read(self.path) if stamp is not None else []
            except TokenError as exc:
                if self._stamp is _UNREAD:
                    raise  # at start: the fleet must not run with a tokens file it cannot read
                if stamp != self._stamp:
                    log.error("%s; the tokens read before stay in use", exc)  # noqa: TRY400 - no traceback
                self._stamp = stamp
                return
            if stamp is None and self._stamp not in (None, _UNREAD):
                log.warning("tokens file %s is gone: no API token is valid", self.path)
            first = self._stamp is _UNREAD
            before = self._by_hash
            self._stamp = stamp
            self._entries = entries
            self._by_hash = {e["sha256"]: e for e in entries if e.get("revoked") is None}
        if not first and self.on_change is not None:
            self._notify(before, ours)

    def _notify(self, before: dict[str, dict[str, Any]], ours: frozenset[tuple[str, str]]) -> None:
        every = {e["sha256"]: e for e in self._entries}
        changes = [("create", _info(e)) for h, e in self._by_hash.items() if h not in before]
        for digest, old in before.items():
            if digest not in self._by_hash:  # revoked, or taken out of the file
                changes.append(("revoke", _info(every.get(digest) or {**old, "revoked": "removed"})))
        changes = [(kind, info) for kind, info in changes if (kind, info.name) not in ours]
        if changes and self.on_change is not None:
            try:
                self.on_change(changes)
            except Exception:
                log.exception("tokens file %s: the change listener failed", self.path)

    def authenticate(self, token: str) -> TokenInfo | None:
        """The active token's info, or None for an unknown or revoked token."""
        self.refresh()
        digest = hash_token(token)
        entry = self._by_hash.get(digest)
        if entry is None or not hmac.compare_digest(entry["sha256"], digest):
            return None
        return _info(entry)

    def active_hash(self, digest: str) -> TokenInfo | None:
        """The active token whose hash is ``digest`` (sessions keep the hash, not the token)."""
        self.refresh()
        entry = self._by_hash.get(digest)
        return _info(entry) if entry is not None else None

    def tokens(self) -> list[TokenInfo]:
        """Every token (as :func:`list_tokens`), from the current contents."""
        self.refresh()
        return [_info(e) for e in self._entries]

    def create(self, name: str, role: str) -> str:
        """:func:`create_token` in this store's file, then re-read it."""
        token = create_token(self.path, name, role)
        self._refresh(frozenset({("create", name)}))
        return token

    def revoke(self, name: str) -> None:
        """:func:`revoke_token` in this store's file, then re-read it."""
        revoke_token(self.path, name)
        self._refresh(frozenset({("revoke", name)}))
