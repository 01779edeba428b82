"""The fleet's HTTP API (docs/fleet.md, "HTTP API"): ``build_app(service, static_dir=...)``."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from robotfleet_nodes.config.models import HttpConfig
from robotfleet_nodes.errors import BrokerUnavailable
from robotfleet_nodes.fleet._audit import ACTIONS, AuditLog, Command, read_audit
from robotfleet_nodes.fleet.orders import MAX_COORDINATE, TASK_RE
from robotfleet_nodes.fleet.protocol import ORDER_ID_RE, STATE_VALUES, nats_transport_of
from robotfleet_nodes.fleet.service import RETRY_AFTER_S, FleetService, SubmitError, order_json
from robotfleet_nodes.security.tokens import NAME_RE, TokenError, TokenInfo, TokenStore
from robotfleet_nodes.web import (
    ANONYMOUS,
    ApiSecurity,
    App,
    FileResponse,
    HostPolicy,
    HttpError,
    Principal,
    Request,
    Response,
    ServerSentEvent,
    SseResponse,
    json_response,
    metrics_response,
    query_model,
    read_model,
    text_response,
)

__all__ = ["API_VERSION", "INSECURE_ENV", "NewWorkOrder", "Target", "build_app", "security_from_config"]

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
#: ``RFOS_INSECURE=1``: API authentication off (development), with a warning.
INSECURE_ENV = "RFOS_INSECURE"

OrderState = Literal["PENDING", "DISPATCHED", "ASSIGNED", "EXECUTING", "COMPLETED", "FAILED", "CANCELLED"]
RobotState = Literal["IDLE", "EXECUTING", "CHARGING", "ERROR", "OFFLINE"]

_NO_DASHBOARD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>RobotFleetOS</title></head>
<body><h1>RobotFleetOS fleet</h1>
<p>The dashboard is not installed (no <code>robotfleet_nodes/fleet/static/index.html</code>).
The API is up: see <a href="/openapi.json">/openapi.json</a>,
<a href="/api/fleet">/api/fleet</a> and <a href="/healthz">/healthz</a>.</p>
</body></html>
"""


_COORDINATE = f"[m], finite, -{MAX_COORDINATE:g}..{MAX_COORDINATE:g}"


class Target(BaseModel):
    """A target position in the area's map frame [m]."""

    model_config = ConfigDict(extra="forbid")
    x: StrictFloat | StrictInt = Field(description=_COORDINATE)
    y: StrictFloat | StrictInt = Field(description=_COORDINATE)


class NewWorkOrder(BaseModel):
    """``POST /api/work-orders`` body."""

    model_config = ConfigDict(extra="forbid")
    area_id: StrictStr = Field(description="Area that must do the work, e.g. area-1")
    task: StrictStr = Field(  # checked by check_submission (shared with /fleet/submit)
        "move", description="e.g. move, pick, drop", json_schema_extra={"pattern": TASK_RE.pattern}
    )
    priority: StrictInt = Field(5, ge=0, le=9, description="0 (lowest) .. 9 (highest)")
    id: Annotated[StrictStr, Field(pattern=ORDER_ID_RE.pattern)] | None = Field(
        None, description="Client-chosen id; resubmitting it returns the stored order"
    )
    target: Target | None = None


class OrderQuery(BaseModel):
    """``GET /api/work-orders`` query."""

    state: OrderState | None = None
    area_id: str | None = None
    limit: int = Field(100, ge=1, le=1000)


class ZoneQuery(BaseModel):
    """``GET /api/zones`` query."""

    area_id: str | None = None


class RobotQuery(BaseModel):
    """``GET /api/robots`` query."""

    zone_id: str | None = None
    state: RobotState | None = None


class HistoryEntry(BaseModel):
    """One state transition of an order."""

    state: OrderState
    at: str | None
    by: str
    note: str


class OrderOut(BaseModel):
    """A work order as the API returns it."""

    id: str
    state: OrderState
    area_id: str
    zone_id: str
    robot_id: str
    task: str
    priority: int
    target: Target | None
    attempts: int
    error: str
    created: str | None
    updated: str | None
    history: list[HistoryEntry]


class OrderList(BaseModel):
    """``GET /api/work-orders`` answer."""

    items: list[OrderOut]
    total: int


class FleetOut(BaseModel):
    """``GET /api/fleet`` answer."""

    areas: int
    zones: int
    robots: int
    robots_online: int
    work_orders: dict[str, int]


class AreaOut(BaseModel):
    """One entry of ``GET /api/areas``."""

    id: str
    zones: list[str]
    robots: int
    robots_online: int
    capacity: int
    silent_zones: list[str]


class ZoneOut(BaseModel):
    """One entry of ``GET /api/zones``."""

    id: str
    area_id: str
    robots: int
    robots_online: int
    idle: int
    busy: int
    charging: int
    error: int
    queued: int
    active: int
    battery_mean: float


class RobotOut(BaseModel):
    """One entry of ``GET /api/robots``."""

    id: str
    zone_id: str
    x: float
    y: float
    theta: float
    battery: float
    state: RobotState
    order_id: str
    progress: float


class Health(BaseModel):
    """``GET /healthz`` answer."""

    status: str
    broker: str


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


def _who(req: Request) -> Principal:
    principal = getattr(req.state, "principal", None)
    return principal if isinstance(principal, Principal) else ANONYMOUS


def _source(req: Request) -> str:
    client = req.client
    if client is None:
        return ""
    host = f"[{client.host}]" if ":" in client.host else client.host
    return f"{host}:{client.port}"


def _command(audit: AuditLog, req: Request, action: str, target: str = "", **params: Any) -> Command:
    who = _who(req)
    return Command(
        audit, action, actor=who.name, role=who.role, source=_source(req), target=target, params=params
    )


def _token_out(info: TokenInfo) -> dict[str, Any]:
    return {"name": info.name, "role": info.role, "created": info.created, "revoked": info.revoked}


def _order_or_404(service: FleetService, order_id: str) -> Any:
    order = service.get(order_id)
    if order is None:
        raise HttpError(404, f"unknown work order {order_id!r}")
    return order


def _unavailable(exc: BaseException) -> HttpError:
    return HttpError(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_S)}, retry_after_s=RETRY_AFTER_S)


def build_app(
    service: FleetService,
    *,
    static_dir: Path | None,
    check_responses: bool = False,
    security: ApiSecurity | None = None,
) -> App:
    """Every route of docs/fleet.md's HTTP API, plus ``/openapi.json`` and the dashboard.

    ``check_responses`` (tests) turns every answer that does not match its declared
    response model into a 500 (see :class:`~robotfleet_nodes.web.App`). ``security``:
    the request rules (default: :func:`security_from_config` of the fleet's ``http:``);
    every route declares who may call it (``access``).
    """
    http = service.config.http
    security = security if security is not None else security_from_config(http)
    app = App(check_responses=check_responses, security=security)
    if http.tls_cert is not None and http.tls_key is not None:
        app.tls = (http.tls_cert, http.tls_key)
    app.map_error(BrokerUnavailable, _unavailable)  # any route: 503, never a 500
    audit = service.audit
    tags = ["work orders"]

    @app.post(
        "/api/work-orders",
        summary="Submit a work order",
        request_model=NewWorkOrder,
        response_model=OrderOut,
        responses={
            201: "Created",
            200: "Already submitted: the stored order",
            503: "Queue full or the broker unreachable: retry after Retry-After seconds, with the same id",
        },
        tags=tags,
        access="operator",
    )
    async def submit_order(req: Request) -> Response:
        with _command(audit, req, "submit") as command:
            body = await read_model(req, NewWorkOrder)
            command.target = body.id or ""
            command.params = {"area_id": body.area_id, "task": body.task, "priority": body.priority}
            if body.target is not None:
                command.params["target"] = [body.target.x, body.target.y]
            try:
                order, created = await service.submit(
                    area_id=body.area_id,
                    task=body.task,
                    priority=body.priority,
                    order_id=body.id or "",
                    target=(body.target.x, body.target.y) if body.target else None,
                )
            except SubmitError as exc:
                if exc.retry:
                    raise HttpError(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_S)}) from None
                detail = {"loc": exc.field, "msg": str(exc), "type": "value_error"}
                raise HttpError(422, "request body is invalid", details=[detail]) from None
            command.target, command.status = order.id, 201 if created else 200
        return json_response(order_json(order), command.status)

    @app.get(
        "/api/work-orders",
        summary="List work orders, newest first",
        query_model=OrderQuery,
        response_model=OrderList,
        tags=tags,
        access="viewer",
    )
    async def list_orders(req: Request) -> Response:
        query = query_model(req, OrderQuery)
        state = STATE_VALUES[query.state] if query.state else None
        items, total = service.list_orders(state=state, area_id=query.area_id, limit=query.limit)
        return json_response({"items": [order_json(o) for o in items], "total": total})

    @app.get(
        "/api/work-orders/{id}",
        summary="One work order with its history",
        response_model=OrderOut,
        responses={200: "The order", 404: "Unknown id"},
        tags=tags,
        access="viewer",
    )
    async def get_order(req: Request) -> Response:
        return json_response(order_json(_order_or_404(service, req.path_params["id"])))

    @app.post(
        "/api/work-orders/{id}/cancel",
        summary="Cancel a work order",
        response_model=OrderOut,
        responses={
            200: "Cancelled",
            404: "Unknown id",
            409: "Already final",
            503: "Broker unreachable: retry after Retry-After seconds",
        },
        tags=tags,
        access="operator",
    )
    async def cancel_order(req: Request) -> Response:
        order_id = req.path_params["id"]
        with _command(audit, req, "cancel", order_id) as command:
            _order_or_404(service, order_id)
            who = _who(req)
            result = await service.cancel(order_id, f"cancelled via the HTTP API by {who.name}")
            if result.order is None:
                raise HttpError(404, result.error)
            if not result.accepted:
                raise HttpError(409, result.error, order=order_json(result.order))
            command.status = 200
        return json_response(order_json(result.order))

    @app.get(
        "/api/fleet",
        summary="The whole fleet at a glance",
        response_model=FleetOut,
        tags=["fleet"],
        access="viewer",
    )
    async def get_fleet(req: Request) -> Response:
        return json_response(service.fleet())

    @app.get("/api/areas", summary="Areas", response_model=list[AreaOut], tags=["fleet"], access="viewer")
    async def get_areas(req: Request) -> Response:
        return json_response(service.areas())

    @app.get(
        "/api/zones",
        summary="Zones",
        query_model=ZoneQuery,
        response_model=list[ZoneOut],
        tags=["fleet"],
        access="viewer",
    )
    async def get_zones(req: Request) -> Response:
        query = query_model(req, ZoneQuery)
        return json_response(service.zones(query.area_id))

    @app.get(
        "/api/robots",
        summary="Robots (from the zones' robot tables)",
        query_model=RobotQuery,
        response_model=list[RobotOut],
        tags=["fleet"],
        access="viewer",
    )
    async def get_robots(req: Request) -> Response:
        query = query_model(req, RobotQuery)
        return json_response(service.robots(zone_id=query.zone_id, state=query.state))

    @app.get(
        "/api/events",
        summary="Server-Sent Events: order, fleet, zones, robots, resync",
        description=(
            "The stream starts with `fleet`, `zones` and one full `robots` event per zone. Then: "
            "`order` (an order) on every change; `fleet` and `zones` about 1 Hz; `robots` per zone "
            "about 1 Hz, only when something changed: `{zone_id, full: false, robots: [changed or "
            "new rows], removed: [robot ids]}` (apply to that zone's rows), or `{zone_id, full: true, "
            "robots: [...]}` (replace that zone's rows: a new zone, or deltas coalesced for a slow "
            "client). `resync` (`{}`): the client fell too far behind and events were dropped; full "
            "`fleet`, `zones` and `robots` follow at once, orders must be fetched again."
        ),
        tags=["fleet"],
        access="viewer",
    )
    async def events(req: Request) -> Response:
        subscription = service.events.subscribe()  # subscribed now: nothing after this is missed

        async def source() -> AsyncIterator[ServerSentEvent]:
            sub = subscription
            while True:
                async with sub:
                    # After the subscription: every change since is queued behind this snapshot.
                    for event in service.snapshot_events():
                        yield event
                    async for event in sub:
                        yield event
                if not sub.overflowed:
                    return
                # Fell behind (its queue was dropped): start again from a full snapshot rather
                # than losing robot deltas or disconnecting the dashboard.
                sub = service.events.subscribe()
                yield ServerSentEvent({}, event="resync")

        return SseResponse(source())

    @app.get(
        "/healthz",
        summary="Liveness and broker connection",
        response_model=Health,
        tags=["ops"],
        access="public",
    )
    async def healthz(req: Request) -> Response:
        if service.connected:
            return json_response({"status": "ok", "broker": "connected"})
        return json_response(
            {"status": "degraded", "broker": "disconnected"},
            503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.get("/metrics", summary="Prometheus metrics", tags=["ops"], access="viewer")
    async def metrics(req: Request) -> Response:
        return metrics_response(service.metrics)

    _add_auth_routes(app, security)
    _add_admin_routes(app, service, security)
    app.add_openapi_route(
        access="viewer",
        title="RobotFleetOS fleet API",
        version=API_VERSION,
        description="Work orders for a fleet of robots: fleet -> area -> zones -> robots (docs/fleet.md).",
    )
    _add_dashboard(app, static_dir)
    return app


def _add_dashboard(app: App, static_dir: Path | None) -> None:
    index = static_dir / "index.html" if static_dir is not None else None

    async def dashboard(req: Request) -> Response:
        if index is not None and await asyncio.to_thread(index.is_file):
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return text_response(_NO_DASHBOARD, content_type="text/html; charset=utf-8")

    app.add_route("GET", "/", dashboard, include_in_schema=False, access="public")
    if static_dir is None:
        return
    app.mount_static("/static", static_dir)
    root = static_dir

    async def root_asset(req: Request) -> Response:  # index.html may say "app.js" relatively
        path = root / req.url.path.lstrip("/")
        if not await asyncio.to_thread(path.is_file):
            raise HttpError(404, f"no file {req.url.path!r}")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=300"})

    for name in ("app.js", "app.css"):
        app.add_route("GET", f"/{name}", root_asset, include_in_schema=False, access="public")


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
        with _command(audit, req, "token_create") as command:
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
        with _command(audit, req, "token_revoke", name) as command:
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
