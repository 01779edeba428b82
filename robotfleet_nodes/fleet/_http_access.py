"""The fleet API's access routes and rules: login sessions, API tokens, the audit trail.

:func:`security_from_config` makes the :class:`~robotfleet_nodes.web.ApiSecurity` of the
fleet's ``http:`` section (and ``RFOS_INSECURE``); :func:`add_access_routes` adds
``/api/session``, ``/api/login``, ``/api/logout`` (public), ``/api/tokens`` and
``/api/audit`` (admin) to the app :func:`~robotfleet_nodes.fleet.http_api.build_app`
builds; :func:`command` audits one state-changing request (docs/fleet.md, "Audit").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from robotfleet_nodes.config.models import HttpConfig
from robotfleet_nodes.fleet._audit import ACTIONS, AuditLog, Command, read_audit
from robotfleet_nodes.fleet._submissions import RETRY_AFTER_S
from robotfleet_nodes.fleet.protocol import nats_transport_of
from robotfleet_nodes.fleet.service import FleetService
from robotfleet_nodes.security.tokens import NAME_RE, TokenError, TokenInfo, TokenStore
from robotfleet_nodes.web import (
    ANONYMOUS,
    ApiSecurity,
    App,
    HostPolicy,
    HttpError,
    Principal,
    Request,
    Response,
    json_response,
    query_model,
    read_model,
)

__all__ = ["INSECURE_ENV", "add_access_routes", "audited", "caller_of", "security_from_config"]

log = logging.getLogger(__name__)

#: ``RFOS_INSECURE=1``: API authentication off (development), with a warning.
INSECURE_ENV = "RFOS_INSECURE"


class SessionOut(BaseModel):
    """``GET /api/session`` answer: does the API need a login, and who is logged in."""

    auth: bool = Field(description="True when the API needs a token (false: open API)")
    authenticated: bool
    name: str | None
    role: str | None


class LoginIn(BaseModel):
    """``POST /api/login`` body."""

    model_config = ConfigDict(extra="forbid")
    token: StrictStr = Field(description="An API token (rfos security token create)")


class LoginOut(BaseModel):
    """``POST /api/login`` answer (the session is in the ``rfos_session`` cookie)."""

    name: str
    role: str
    expires: str


class LogoutOut(BaseModel):
    """``POST /api/logout`` answer."""

    logged_out: bool


_RETRY = {"Retry-After": str(RETRY_AFTER_S)}
_ROLE = Literal["viewer", "operator", "admin"]


class NewToken(BaseModel):
    """``POST /api/tokens`` body."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[StrictStr, Field(pattern=NAME_RE.pattern, description="Unique name, e.g. ci-bot")]
    role: _ROLE


class TokenOut(BaseModel):
    """A token as listed (never the token itself)."""

    name: str
    role: _ROLE
    created: str
    revoked: str | None


class TokenCreated(TokenOut):
    """``POST /api/tokens`` answer: the only time the token is shown."""

    token: str


_TOKEN = r"^[A-Za-z0-9_-]{1,64}$"


class AuditQuery(BaseModel):
    """``GET /api/audit`` query."""

    after: int = Field(0, ge=0, description="Stream sequence to continue after (next_after)")
    limit: int = Field(100, ge=1, le=1000)
    actor: Annotated[str, Field(pattern=_TOKEN)] | None = None
    action: Annotated[str, Field(pattern=_TOKEN)] | None = None
    since: dt.datetime | None = Field(None, description="ISO 8601 time (UTC if no offset)")


class AuditPageOut(BaseModel):
    """``GET /api/audit`` answer, oldest first."""

    items: list[dict[str, Any]]
    next_after: int
    more: bool


def security_from_config(http: HttpConfig, environ: Mapping[str, str] | None = None) -> ApiSecurity:
    """The API's request rules from ``http:`` (and ``RFOS_INSECURE``); see docs/fleet.md."""
    env = os.environ if environ is None else environ
    hosts = HostPolicy(bind_host=http.host, public_url=http.public_url, allowed_hosts=http.allowed_hosts)
    tokens = TokenStore(Path(http.tokens_file)) if http.tokens_file else None
    if env.get(INSECURE_ENV, "").strip().lower() in ("1", "true", "yes"):
        log.warning(
            "%s=1: the HTTP API accepts every request without a token (development only)", INSECURE_ENV
        )
        tokens = None
    elif tokens is None:
        log.warning(
            "HTTP API without authentication (no http.tokens_file): anyone who reaches %s:%d may "
            "submit and cancel orders",
            http.host,
            http.port,
        )
    return ApiSecurity(
        tokens=tokens, hosts=hosts, session_ttl_s=http.session_ttl_s, secure_cookies=http.tls_cert is not None
    )


def caller_of(req: Request) -> Principal:
    """The caller of ``req`` (set by the app's :class:`ApiSecurity`; :data:`ANONYMOUS` if none)."""
    principal = getattr(req.state, "principal", None)
    return principal if isinstance(principal, Principal) else ANONYMOUS


def _source(req: Request) -> str:
    client = req.client
    if client is None:
        return ""
    host = f"[{client.host}]" if ":" in client.host else client.host
    return f"{host}:{client.port}"


def audited(audit: AuditLog, req: Request, action: str, target: str = "", **params: Any) -> Command:
    """Audit one state-changing request of the caller when the ``with`` block ends."""
    caller = caller_of(req)
    return Command(
        audit, action, actor=caller.name, role=caller.role, source=_source(req), target=target, params=params
    )


def _token_out(info: TokenInfo) -> dict[str, Any]:
    return {"name": info.name, "role": info.role, "created": info.created, "revoked": info.revoked}


def add_access_routes(app: App, service: FleetService, security: ApiSecurity) -> None:
    """Add the login, token and audit routes to ``app``; audit token changes made by others."""
    _add_auth_routes(app, security)
    _add_admin_routes(app, service, security)
    if security.tokens is not None:
        security.tokens.on_change = _file_changes_audited(service.audit, security.tokens.path)


def _file_changes_audited(audit: AuditLog, path: Path) -> Callable[[list[tuple[str, TokenInfo]]], None]:
    """A token listener recording tokens created or revoked in the file by another process
    (``rfos security token``): actor ``file``, seen at the next request that reads the file."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None

    def record(changes: list[tuple[str, TokenInfo]]) -> None:
        for kind, info in changes:
            when = {"created": info.created} if kind == "create" else {"revoked": info.revoked}
            audit.record(
                f"token_{kind}",
                actor="file",
                target=info.name,
                params={"role": info.role, **when},
                source=str(path),
                via="file",
            )

    def listener(changes: list[tuple[str, TokenInfo]]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None or loop is None:
            record(changes)
        else:  # read in a worker thread (asyncio.to_thread): the queue is the loop's
            loop.call_soon_threadsafe(record, changes)

    return listener


def _add_auth_routes(app: App, security: ApiSecurity) -> None:
    """``/api/session``, ``/api/login``, ``/api/logout``: the dashboard's login."""
    tags = ["auth"]

    @app.get(
        "/api/session",
        summary="Whether the API needs a login, and who is logged in",
        response_model=SessionOut,
        tags=tags,
        access="public",
    )
    async def session(req: Request) -> Response:
        who = security.identify(req)
        return json_response(
            {
                "auth": security.enabled,
                "authenticated": who is not None,
                "name": who.name if who else None,
                "role": who.role if who else None,
            }
        )

    @app.post(
        "/api/login",
        summary="Log in with an API token: sets the HttpOnly session cookie",
        request_model=LoginIn,
        response_model=LoginOut,
        responses={200: "Logged in", 401: "Unknown or revoked token", 409: "The API is open"},
        tags=tags,
        access="public",
    )
    async def login(req: Request) -> Response:
        body = await read_model(req, LoginIn)
        info, sid, expires = security.login(body.token)
        ttl = max(1, int(expires - dt.datetime.now(dt.UTC).timestamp()))
        at = dt.datetime.fromtimestamp(expires, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return json_response(
            {"name": info.name, "role": info.role, "expires": at},
            headers={"Set-Cookie": security.session_cookie(sid, ttl), "Cache-Control": "no-store"},
        )

    @app.post(
        "/api/logout",
        summary="End the session of the cookie",
        response_model=LogoutOut,
        tags=tags,
        access="public",
    )
    async def logout(req: Request) -> Response:
        ended = security.logout(req)
        return json_response({"logged_out": ended}, headers={"Set-Cookie": security.session_cookie("", 0)})


def _tokens_or_409(security: ApiSecurity) -> TokenStore:
    tokens = security.tokens
    if tokens is None:
        raise HttpError(409, "API tokens are off (no http.tokens_file, or RFOS_INSECURE=1)")
    return tokens


def _add_admin_routes(app: App, service: FleetService, security: ApiSecurity) -> None:
    """``/api/tokens`` and ``/api/audit`` (role admin)."""
    audit = service.audit

    @app.get(
        "/api/tokens",
        summary="API tokens (names, roles, dates; never the tokens)",
        response_model=list[TokenOut],
        tags=["admin"],
        access="admin",
    )
    async def list_api_tokens(req: Request) -> Response:
        tokens = _tokens_or_409(security)
        return json_response([_token_out(t) for t in await asyncio.to_thread(tokens.tokens)])

    @app.post(
        "/api/tokens",
        summary="Create an API token: the answer is the only time it is shown",
        request_model=NewToken,
        response_model=TokenCreated,
        responses={201: "Created", 409: "Name taken, or tokens are off"},
        tags=["admin"],
        access="admin",
    )
    async def create_api_token(req: Request) -> Response:
        with audited(audit, req, "token_create") as command:
            body = await read_model(req, NewToken)
            command.target, command.params = body.name, {"role": body.role}
            tokens = _tokens_or_409(security)
            try:
                token = await asyncio.to_thread(tokens.create, body.name, body.role)
            except TokenError as exc:
                raise HttpError(409, str(exc)) from None
            info = next(t for t in tokens.tokens() if t.name == body.name and t.active)
            command.status = 201
        return json_response({**_token_out(info), "token": token}, 201, headers={"Cache-Control": "no-store"})

    @app.delete(
        "/api/tokens/{name}",
        summary="Revoke an API token (its sessions end too)",
        response_model=TokenOut,
        responses={200: "Revoked", 404: "No active token with that name"},
        tags=["admin"],
        access="admin",
    )
    async def revoke_api_token(req: Request) -> Response:
        name = req.path_params["name"]
        with audited(audit, req, "token_revoke", name) as command:
            tokens = _tokens_or_409(security)
            try:
                await asyncio.to_thread(tokens.revoke, name)
            except TokenError as exc:
                raise HttpError(404, str(exc)) from None
            info = [t for t in tokens.tokens() if t.name == name][-1]
            command.status = 200
        return json_response(_token_out(info))

    @app.get(
        "/api/audit",
        summary="The audit trail, oldest first, paginated by stream sequence",
        description=(
            f"Actions: {', '.join(ACTIONS)}. Continue with `after=<next_after>` while `more` is true. "
            "Filters: `actor` (token name, `nats` or `anonymous`), `action`, `since` (ISO 8601)."
        ),
        query_model=AuditQuery,
        response_model=AuditPageOut,
        responses={200: "A page", 503: "The audit stream cannot be read now"},
        tags=["admin"],
        access="admin",
    )
    async def get_audit(req: Request) -> Response:
        query = query_model(req, AuditQuery)
        since = query.since
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        if not audit.stream:
            raise HttpError(
                503, "the audit trail is not open yet", headers={"Retry-After": str(RETRY_AFTER_S)}
            )
        js = service.context.transport

        try:
            page = await read_audit(
                nats_transport_of(js).jetstream(),
                audit.stream,
                audit.prefix,
                after=query.after,
                limit=query.limit,
                actor=query.actor,
                action=query.action,
                since=since,
            )
        except Exception as exc:  # the stream or the broker: never a 500 for the caller
            log.warning("GET /api/audit: the audit stream could not be read: %r", exc)
            raise HttpError(503, "the audit stream cannot be read now; retry", headers=_RETRY) from None
        return json_response(page.as_json())
