"""The fleet's HTTP API (docs/fleet.md, "HTTP API"): ``build_app(service, static_dir=...)``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from robotfleet_nodes.errors import BrokerUnavailable
from robotfleet_nodes.fleet._http_access import (
    INSECURE_ENV,
    add_access_routes,
    audited,
    caller_of,
    security_from_config,
)
from robotfleet_nodes.fleet._leader import NotLeader
from robotfleet_nodes.fleet.orders import MAX_COORDINATE, TASK_RE
from robotfleet_nodes.fleet.protocol import ORDER_ID_RE, STATE_VALUES
from robotfleet_nodes.fleet.service import RETRY_AFTER_S, FleetService, SubmitError, order_json
from robotfleet_nodes.web import (
    ApiSecurity,
    App,
    FileResponse,
    HttpError,
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

API_VERSION = "1.0.0"
#: Seconds between two checks that an event stream's token or session is still valid.
STREAM_RECHECK_S = 2.0

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


Role = Literal["leader", "standby"]


class FleetOut(BaseModel):
    """``GET /api/fleet`` answer."""

    areas: int
    zones: int
    robots: int
    robots_online: int
    robot_kinds: dict[str, int] = Field(
        default_factory=dict, description="Robots per kind (sim, dds, vda5050) in the zones' robot tables"
    )
    work_orders: dict[str, int]
    instance: str = Field(description="This fleet instance's id (failover.instance_id)")
    role: Role = Field(description="leader: dispatches and takes writes; standby: reads only")
    leader: str | None = Field(description="The leading instance's id (null: none known)")
    leader_url: str | None = Field(description="Its HTTP API, as it advertises it (null: unknown)")


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
    state: Literal["CONNECTED", "DISCONNECTED"] = "CONNECTED"
    """DISCONNECTED: no summary for the area's ``zone_silence_timeout_s`` (the last one is shown)."""


class RobotOut(BaseModel):
    """One entry of ``GET /api/robots``."""

    id: str
    zone_id: str
    kind: str = Field(
        "sim",
        description="What the robot is: sim, dds (ROS 2 behind the DDS bridge), vda5050 (an AGV over MQTT)",
    )
    x: float
    y: float
    theta: float
    battery: float
    state: RobotState
    order_id: str
    progress: float
    stale: bool = False
    """True while the robot's zone is DISCONNECTED: the last known state, not offline."""


class FactsheetOut(BaseModel):
    """``GET /api/robots/{robot_id}/factsheet`` answer."""

    robot_id: str
    received: str = Field(description="When the robot's edge received it (UTC, ISO 8601)")
    factsheet: dict[str, Any] = Field(
        description="The factsheet as the vehicle sent it (VDA 5050 2.1.0 factsheet)"
    )


class Health(BaseModel):
    """``GET /healthz`` answer."""

    status: str
    broker: str
    instance: str
    role: Role
    leader: str | None
    leader_url: str | None


def _order_or_404(service: FleetService, order_id: str) -> Any:
    order = service.get(order_id)
    if order is None:
        raise HttpError(404, f"unknown work order {order_id!r}")
    return order


def _unavailable(exc: BaseException) -> HttpError:
    return HttpError(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_S)}, retry_after_s=RETRY_AFTER_S)


def _standby(exc: BaseException) -> HttpError:
    """A write on a standby instance: 503, naming the leader (``leader``, ``leader_url``)."""
    assert isinstance(exc, NotLeader)
    return HttpError(
        503,
        str(exc),
        headers={"Retry-After": str(RETRY_AFTER_S)},
        retry_after_s=RETRY_AFTER_S,
        leader=exc.leader,
        leader_url=exc.leader_url,
    )


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
    app.map_error(NotLeader, _standby)  # a write on a standby: 503 naming the leader
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
            503: (
                "Queue full, the broker unreachable, or this instance is a standby (the body names "
                "the leader: `leader`, `leader_url`): retry after Retry-After seconds, with the same id"
            ),
        },
        tags=tags,
        access="operator",
    )
    async def submit_order(req: Request) -> Response:
        with audited(audit, req, "submit") as command:
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
            503: "Broker unreachable, or a standby (the body names the leader): retry after Retry-After s",
        },
        tags=tags,
        access="operator",
    )
    async def cancel_order(req: Request) -> Response:
        order_id = req.path_params["id"]
        with audited(audit, req, "cancel", order_id) as command:
            _order_or_404(service, order_id)
            caller = caller_of(req)
            result = await service.cancel(order_id, f"cancelled via the HTTP API by {caller.name}")
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
        "/api/robots/{robot_id}/factsheet",
        summary="A robot's factsheet (what a VDA 5050 vehicle says of itself)",
        response_model=FactsheetOut,
        responses={
            200: "The factsheet as the vehicle sent it, and when its edge received it",
            404: "Unknown robot, or one that sent no factsheet (simulated and ROS 2 robots send none)",
            503: "Broker unreachable: retry after Retry-After s",
        },
        tags=["fleet"],
        access="viewer",
    )
    async def get_factsheet(req: Request) -> Response:
        robot_id = req.path_params["robot_id"]
        body = await service.factsheet(robot_id)
        if body is not None:
            return Response(body, 200, {}, "application/json")
        if not service.robot_known(robot_id):
            raise HttpError(404, f"unknown robot {robot_id!r}: no zone lists it (see /api/robots)")
        raise HttpError(
            404,
            f"robot {robot_id!r} has sent no factsheet (VDA 5050 vehicles send theirs after they "
            "connect; simulated and ROS 2 robots have none)",
        )

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
        checked = time.monotonic()

        def revoked() -> bool:  # the token or session ended (revoked, logged out, expired)
            nonlocal checked
            if not security.enabled or time.monotonic() - checked < STREAM_RECHECK_S:
                return False
            checked = time.monotonic()
            return security.identify(req) is None

        async def source() -> AsyncIterator[ServerSentEvent]:
            sub = subscription
            while True:
                async with sub:
                    # After the subscription: every change since is queued behind this snapshot.
                    for event in service.snapshot_events():
                        yield event
                    async for event in sub:
                        if revoked():
                            return  # the browser reconnects, gets 401 and shows its login
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
        role = service.role_json()  # a standby is healthy too (it serves reads)
        if service.connected:
            return json_response({"status": "ok", "broker": "connected", **role})
        return json_response(
            {"status": "degraded", "broker": "disconnected", **role},
            503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.get("/metrics", summary="Prometheus metrics", tags=["ops"], access="viewer")
    async def metrics(req: Request) -> Response:
        return metrics_response(service.metrics)

    add_access_routes(app, service, security)
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
