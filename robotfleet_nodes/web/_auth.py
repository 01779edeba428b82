"""Who may call a route: API tokens, login sessions, roles, and the request-shape rules.

:class:`ApiSecurity` is what an :class:`~robotfleet_nodes.web.App` built with one checks:

- every request (:class:`HostCheck`, outermost): ``Host`` and ``Origin`` by its
  :class:`~._hosts.HostPolicy` (403 otherwise);
- every route (:meth:`ApiSecurity.admit`): the route's ``access`` (``public``, ``viewer``,
  ``operator``, ``admin``) against the caller's role, from ``Authorization: Bearer <token>``
  or the ``rfos_session`` cookie a ``POST /api/login`` set (401 without or with a bad one,
  ``WWW-Authenticate: Bearer``; 403 for a role below the route's); and, for POST, PUT, PATCH
  and DELETE, a body only as ``application/json`` (415 otherwise: an HTML form can send
  ``text/plain`` cross-site, never JSON).

Without a token store (``tokens=None``) the API is open: every caller is ``anonymous``
with the ``admin`` role, and only the Host/Origin and content-type rules hold. Tokens
never appear in logs or answers; sessions keep the token's hash, so revoking the token
ends its sessions too.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Final, Literal

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from robotfleet_nodes.security.tokens import ROLES, TokenInfo, TokenStore, hash_token, role_allows

from ._errors import HttpError
from ._hosts import HostPolicy
from ._response import json_bytes

__all__ = [
    "ACCESS_LEVELS",
    "ANONYMOUS",
    "SESSION_COOKIE",
    "Access",
    "ApiSecurity",
    "HostCheck",
    "Principal",
    "SessionStore",
]

log = logging.getLogger(__name__)

Access = Literal["public", "viewer", "operator", "admin"]
#: Every access level a route may declare, weakest first.
ACCESS_LEVELS: Final[tuple[Access, ...]] = ("public", *ROLES)
#: The cookie holding a login session's id (never the token).
SESSION_COOKIE: Final = "rfos_session"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="rfos"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: a token's name and role (``via`` "token" or "session"), or
    ``anonymous``/``admin`` when the API is open (``via`` "open")."""

    name: str
    role: str
    via: Literal["token", "session", "open"]


#: The caller of an open API.
ANONYMOUS: Final = Principal("anonymous", "admin", "open")


@dataclass(slots=True)
class _Session:
    name: str
    role: str
    token_hash: str
    expires: float  # time.time()


class SessionStore:
    """Login sessions in memory: a random id (the cookie) -> token name, role, hash, expiry.

    Only the id's SHA-256 is kept. At most ``max_sessions``; the oldest goes first.
    """

    def __init__(self, ttl_s: float, *, max_sessions: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._sessions: dict[str, _Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, info: TokenInfo, token_hash: str) -> tuple[str, float]:
        """A new session for ``info``; returns (session id, expiry as a UNIX time)."""
        now = time.time()
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]
        while len(self._sessions) >= self.max_sessions:
            del self._sessions[next(iter(self._sessions))]
        sid = secrets.token_urlsafe(32)
        expires = now + self.ttl_s
        self._sessions[_key(sid)] = _Session(info.name, info.role, token_hash, expires)
        return sid, expires

    def get(self, sid: str) -> _Session | None:
        """The live session with id ``sid``, or None (unknown or expired: then dropped)."""
        key = _key(sid)
        session = self._sessions.get(key)
        if session is not None and session.expires <= time.time():
            del self._sessions[key]
            return None
        return session

    def delete(self, sid: str) -> bool:
        """End session ``sid``; True if it existed."""
        return self._sessions.pop(_key(sid), None) is not None


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()


class _Every:
    """At most one log line per ``period`` seconds (bad clients must not flood the log)."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._next = 0.0
        self.suppressed = 0

    def ready(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            self.suppressed += 1
            return False
        self._next = now + self.period
        return True


class ApiSecurity:
    """The request rules of one API (see the module docstring).

    Args:
        tokens: the token store; None: the API is open (every caller is :data:`ANONYMOUS`).
        hosts: the ``Host``/``Origin`` policy.
        session_ttl_s: how long a login lasts.
        secure_cookies: mark the session cookie ``Secure`` (served over HTTPS).
    """

    def __init__(
        self,
        *,
        tokens: TokenStore | None,
        hosts: HostPolicy,
        session_ttl_s: float = 8 * 3600.0,
        secure_cookies: bool = False,
    ) -> None:
        self.tokens = tokens
        self.hosts = hosts
        self.sessions = SessionStore(session_ttl_s)
        self.secure_cookies = secure_cookies
        self._log_refusal = _Every(5.0)

    @property
    def enabled(self) -> bool:
        """True when callers must authenticate."""
        return self.tokens is not None

    # -- per request ----------------------------------------------------------------------
    def admit(self, request: Request, access: Access) -> Principal:
        """The caller, if it may use a route of ``access``; else :class:`HttpError` 401/403/415."""
        principal = self.identify(request) if access != "public" else self._optional(request)
        if access != "public":
            if principal is None:
                self._refused(request, 401, "no valid token")
                raise HttpError(
                    401,
                    "authentication required: send Authorization: Bearer <token> or log in (POST /api/login)",
                    headers=_CHALLENGE,
                )
            if not role_allows(principal.role, access):
                self._refused(request, 403, f"{principal.name} ({principal.role}) needs {access}")
                raise HttpError(
                    403,
                    f"token {principal.name!r} has role {principal.role}; this needs {access} or above",
                    role=principal.role,
                    needs=access,
                )
        if request.method in _UNSAFE:
            check_json_body(request)
        return principal or ANONYMOUS

    def identify(self, request: Request) -> Principal | None:
        """The caller by its bearer token or session cookie; None if neither is valid."""
        if self.tokens is None:
            return ANONYMOUS
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            info = self.tokens.authenticate(token.strip())
            return Principal(info.name, info.role, "token") if info is not None else None
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            session = self.sessions.get(sid)
            if session is not None and self.tokens.active_hash(session.token_hash) is not None:
                return Principal(session.name, session.role, "session")
        return None

    def _optional(self, request: Request) -> Principal | None:
        try:
            return self.identify(request)
        except Exception:  # a public route answers whatever the credentials look like
            return None

    def _refused(self, request: Request, status: int, why: str) -> None:
        if self._log_refusal.ready():
            client = request.client.host if request.client else "?"
            log.warning(
                "HTTP %d for %s %s from %s: %s (%d more not logged)",
                status,
                request.method,
                request.url.path,
                client,
                why,
                self._log_refusal.suppressed,
            )
            self._log_refusal.suppressed = 0

    # -- login ----------------------------------------------------------------------------
    def login(self, token: str) -> tuple[TokenInfo, str, float]:
        """Start a session for ``token``: (its info, session id, expiry); 401 if it is not valid."""
        if self.tokens is None:
            raise HttpError(409, "the API is open (no http.tokens_file): there is nothing to log in to")
        info = self.tokens.authenticate(token)
        if info is None:
            log.warning("dashboard login refused: unknown or revoked token")
            raise HttpError(401, "unknown or revoked token", headers=_CHALLENGE)
        sid, expires = self.sessions.create(info, hash_token(token))
        log.info("dashboard login: token %r (%s)", info.name, info.role)
        return info, sid, expires

    def session_cookie(self, sid: str, max_age: int) -> str:
        """The ``Set-Cookie`` value for session ``sid`` (``max_age`` 0 deletes it)."""
        cookie = f"{SESSION_COOKIE}={sid}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
        return cookie + "; Secure" if self.secure_cookies else cookie

    def logout(self, request: Request) -> bool:
        """End the session the request's cookie names; True if there was one."""
        sid = request.cookies.get(SESSION_COOKIE)
        return bool(sid) and self.sessions.delete(sid or "")


def check_json_body(request: Request) -> None:
    """415 unless the request's body, if any, is declared ``application/json``.

    A request with neither a body nor a ``Content-Type`` passes (``POST .../cancel``); an
    HTML form always sends a ``Content-Type`` (and its ``Origin``).
    """
    content_type = request.headers.get("content-type")
    if content_type is None:
        has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
        if not has_body:
            return
        raise HttpError(415, "send the body as Content-Type: application/json")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise HttpError(415, f"Content-Type {media or '(empty)'} is not accepted here; send application/json")


class HostCheck:
    """ASGI middleware: 403 for a ``Host`` or ``Origin`` the :class:`HostPolicy` refuses."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy
        self._log = _Every(5.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = origin = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
        message = None
        if not self.policy.host_ok(host):
            message = f"Host {host!r} is not this server's: add it to http.allowed_hosts or http.public_url"
        elif origin is not None and not self.policy.origin_ok(origin, host, scope.get("scheme", "http")):
            message = f"Origin {origin!r} may not call this server (cross-site request refused)"
        if message is None:
            await self.app(scope, receive, send)
            return
        if self._log.ready():
            log.warning("HTTP 403 for %s %s: %s", scope["method"], scope["path"], message)
        body = json_bytes({"error": message})
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
