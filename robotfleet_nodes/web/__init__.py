"""The fleet's HTTP layer: starlette routing and uvicorn serving, with our limits on top.

starlette does routing, static files, gzip and the ASGI plumbing; uvicorn (httptools) parses
HTTP. What no library does lives here: routes documented with pydantic models for OpenAPI,
one JSON error shape, the limits uvicorn leaves open (body size, request-head size, count
and time), server-sent events fed by a coalescing :class:`Broadcaster`, Prometheus
metrics per service, and who may call what (:class:`ApiSecurity`: bearer tokens and login
sessions, a role per route, ``Host``/``Origin`` checks, JSON-only bodies)::

    app = App()

    @app.get("/api/work-orders/{id}", summary="One work order", response_model=WorkOrder)
    async def get_order(request: Request) -> Response:
        return json_response(store[request.path_params["id"]])

    async with HttpServer(app, port=8080):
        ...
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ._auth import ANONYMOUS, SESSION_COOKIE, Access, ApiSecurity, Principal, SessionStore
from ._errors import HttpError, RouteError
from ._hosts import HostPolicy
from ._request import query_model, read_json, read_model, validation_details
from ._response import json_bytes, json_response, json_text, text_response
from ._routing import App, ErrorMapper, Handler, Route, RouteOptions
from ._server import HttpPortInUse, HttpServer, ServerLimits
from ._sse import Broadcaster, ServerSentEvent, SseResponse, Subscription
from .metrics import metrics_response, new_registry

__all__ = [
    "ANONYMOUS",
    "SESSION_COOKIE",
    "Access",
    "ApiSecurity",
    "App",
    "Broadcaster",
    "ErrorMapper",
    "FileResponse",
    "Handler",
    "HostPolicy",
    "HttpError",
    "HttpPortInUse",
    "HttpServer",
    "Principal",
    "Request",
    "Response",
    "Route",
    "RouteError",
    "RouteOptions",
    "ServerLimits",
    "ServerSentEvent",
    "SessionStore",
    "SseResponse",
    "Subscription",
    "json_bytes",
    "json_response",
    "json_text",
    "metrics_response",
    "new_registry",
    "query_model",
    "read_json",
    "read_model",
    "text_response",
    "validation_details",
]
