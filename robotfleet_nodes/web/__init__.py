"""A small asyncio HTTP/1.1 server with routing, validation, OpenAPI, SSE and metrics.

No web framework dependency: :class:`HttpServer` runs on ``asyncio.start_server`` and
serves an :class:`App` of typed async handlers::

    app = App()

    @app.get("/api/work-orders/{id}", summary="One work order", response_model=WorkOrder)
    async def get_order(req: Request) -> Response:
        return json_response(store[req.path_params["id"]])

    async with HttpServer(app, port=8080):
        ...
"""

from __future__ import annotations

from ._errors import HttpError, RouteError
from ._request import Headers, Request, validation_details
from ._response import Response, file_response, guess_content_type, json_response, text_response
from ._routing import App, Handler, Route, RouteOptions
from ._server import HttpServer, ServerLimits
from ._sse import Broadcaster, EventStream, ServerSentEvent, SseResponse, Subscription
from .metrics import Counter, Gauge, Histogram, Registry, metrics_response

__all__ = [
    "App",
    "Broadcaster",
    "Counter",
    "EventStream",
    "Gauge",
    "Handler",
    "Headers",
    "Histogram",
    "HttpError",
    "HttpServer",
    "Registry",
    "Request",
    "Response",
    "Route",
    "RouteError",
    "RouteOptions",
    "ServerLimits",
    "ServerSentEvent",
    "SseResponse",
    "Subscription",
    "file_response",
    "guess_content_type",
    "json_response",
    "metrics_response",
    "text_response",
    "validation_details",
]
