"""``App``: a route table with documentation metadata, built into a starlette application.

starlette does the routing, static files (``ETag``/``304``), gzip and the ASGI plumbing;
this module adds what the fleet API needs on top: routes registered with their pydantic
models and descriptions (for :mod:`._openapi`), one JSON error shape for every 4xx/5xx
(``{"error": message, ...}``), ``405`` with the full ``Allow`` list, and literal segments
winning over parameters whatever the registration order.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, compile_path
from starlette.routing import Route as StarletteRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ._auth import Access, ApiSecurity, HostCheck
from ._errors import HttpError, RouteError
from ._response import json_response

__all__ = [
    "App",
    "ErrorMapper",
    "Handler",
    "Route",
    "RouteOptions",
    "error_response",
    "internal_error_response",
]

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
"""An HTTP handler: ``async def handler(request: Request) -> Response``."""

ErrorMapper = Callable[[BaseException], HttpError]
"""Turns an exception a handler raised into the :class:`HttpError` to answer (:meth:`App.map_error`)."""

HandlerT = TypeVar("HandlerT", bound=Handler)

_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
#: Every method reaches the dispatcher, which answers 405 with the path's whole ``Allow`` list.
_ALL_METHODS = sorted({*_METHODS, "HEAD", "TRACE", "CONNECT"})
#: Responses smaller than this are sent uncompressed.
GZIP_MIN_BYTES = 1024


class RouteOptions(TypedDict, total=False):
    """Documentation and validation options of a route (all keyword-only)."""

    summary: str
    description: str
    request_model: type[BaseModel]
    response_model: Any
    query_model: type[BaseModel]
    responses: Mapping[int, str]
    tags: list[str]
    operation_id: str
    include_in_schema: bool
    access: Access
    """Who may call the route (``public``, ``viewer``, ``operator``, ``admin``): checked when
    the :class:`App` has an :class:`ApiSecurity`, which then requires it on every route."""


@dataclass(frozen=True, slots=True)
class Route:
    """A registered route; the documentation fields feed :meth:`App.openapi`."""

    method: str
    template: str
    handler: Handler
    options: RouteOptions = field(default_factory=RouteOptions)

    @property
    def openapi_path(self) -> str:
        """The template as OpenAPI writes it (``{name:path}`` becomes ``{name}``)."""
        return compile_path(self.template)[1]

    @property
    def param_names(self) -> list[str]:
        """Names of the path parameters, in order."""
        return list(compile_path(self.template)[2])

    @property
    def literal_count(self) -> int:
        """How specific the route is: literal segments win over parameters."""
        return sum("{" not in part for part in self.template.split("/"))


def _check_template(template: str) -> str:
    """The template's shape key (parameters blanked); RouteError if it is malformed."""
    if not template.startswith("/"):
        raise RouteError(f"route path must start with '/': {template!r}")
    try:
        _, path_format, params = compile_path(template)
    except (AssertionError, ValueError) as exc:  # starlette: unknown convertor / duplicate name
        raise RouteError(f"route {template!r}: {exc}") from None
    parts = template.split("/")
    for i, part in enumerate(parts):
        if part.count("{") != part.count("}") or (("{" in part) and not part.startswith("{")):
            raise RouteError(f"route {template!r}: segment {part!r} is not a literal or a {{name}} parameter")
        if part.endswith(":path}") and i != len(parts) - 1:
            raise RouteError(f"route {template!r}: {part} must be the last segment")
    key = path_format
    for name in params:
        key = key.replace("{" + name + "}", "{}")
    return key


def error_response(exc: HttpError) -> Response:
    """The JSON response for an :class:`HttpError`."""
    return json_response(exc.payload(), exc.status, headers=exc.headers)


def internal_error_response(exc: BaseException, request: Request | None) -> Response:
    """Log ``exc`` with traceback and an id; answer ``500 {"error": "internal error", "id"}``."""
    error_id = str(uuid.uuid4())
    where = f"{request.method} {request.url.path}" if request is not None else "request"
    logger.error("handler for %s failed (error id %s)", where, error_id, exc_info=exc)
    return json_response({"error": "internal error", "id": error_id}, 500)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpError)
    return error_response(exc)


async def _starlette_error(request: Request, exc: Exception) -> Response:
    """starlette's own 404/405 (unknown path, static file methods) in our JSON shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no route for {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return json_response({"error": message}, exc.status_code, headers=exc.headers)


async def _unhandled(request: Request, exc: Exception) -> Response:
    return internal_error_response(exc, request)


class _StaticFiles(StaticFiles):
    """starlette's static files (ETag, 304, no traversal) with a ``Cache-Control`` header."""

    def __init__(self, directory: Path, cache_control: str) -> None:
        super().__init__(directory=directory, html=True)
        self._cache_control = cache_control

    def file_response(
        self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = self._cache_control
        return response


class _GzipWhenAccepted:
    """starlette's gzip, for the requests that accept it; the others go straight through.

    ``GZipMiddleware`` wraps every response, also for a client that does not accept gzip
    (to pass it through unchanged): measured ~25 % of a small POST's server time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=GZIP_MIN_BYTES, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(
            name == b"accept-encoding" and b"gzip" in value for name, value in scope["headers"]
        ):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class App:
    """Routes requests to typed async handlers; :meth:`build` makes the ASGI application.

    ``{name}`` in a path matches one segment, ``{name:path}`` the rest of the path.
    Unknown paths answer 404, a known path with the wrong method 405 with ``Allow``.
    GET routes also answer HEAD. A handler's :class:`HttpError` becomes its JSON, an
    exception registered with :meth:`map_error` the ``HttpError`` its mapper makes; any other
    exception a logged ``500 {"error": "internal error", "id": ...}``.

    With ``security`` (:class:`ApiSecurity`), every request's ``Host``/``Origin`` is checked,
    every route must declare its ``access`` (a route without one is a :class:`RouteError` at
    :meth:`build`: deny by default) and the caller is put in ``request.state.principal``.

    With ``check_responses`` (tests), every 2xx JSON body of a route with a
    ``response_model`` must be exactly what the model validates and dumps it to (no
    missing, extra or mistyped field); a body that is not becomes a logged 500.
    """

    def __init__(self, *, check_responses: bool = False, security: ApiSecurity | None = None) -> None:
        self.check_responses = check_responses
        #: the request rules (Host/Origin, tokens, roles, JSON bodies); None: none checked
        self.security = security
        #: (certificate, key) PEM files to serve HTTPS with (read by :class:`HttpServer`)
        self.tls: tuple[str, str] | None = None
        self._routes: list[Route] = []
        self._keys: set[tuple[str, str]] = set()
        self._mounts: list[BaseRoute] = []
        self._error_maps: list[tuple[type[BaseException], ErrorMapper]] = []

    def map_error(self, exc_type: type[BaseException], mapper: ErrorMapper) -> None:
        """Answer every handler's ``exc_type`` (or subclass) with the :class:`HttpError` ``mapper`` makes.

        One place for an error many routes can meet, e.g. a lost backend connection as
        ``503`` with ``Retry-After``, instead of a ``try`` in each handler. The first
        registered type that matches wins.
        """
        self._error_maps.append((exc_type, mapper))

    @property
    def routes(self) -> list[Route]:
        """The registered routes in registration order."""
        return list(self._routes)

    def add_route(self, method: str, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> Route:
        """Register ``handler`` for ``method`` and ``path``; refuses duplicates."""
        method = method.upper()
        if method not in _METHODS:
            raise RouteError(f"unsupported method {method!r}; use one of {sorted(_METHODS)}")
        key = (method, _check_template(path))
        if key in self._keys:
            raise RouteError(f"route {method} {path} is already registered")
        self._keys.add(key)
        route = Route(method, path, handler, options)
        self._routes.append(route)
        return route

    def route(
        self, method: str, path: str, **options: Unpack[RouteOptions]
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator form of :meth:`add_route`."""

        def decorator(handler: HandlerT) -> HandlerT:
            self.add_route(method, path, handler, **options)
            return handler

        return decorator

    def get(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a GET (and HEAD) handler."""
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a POST handler."""
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a PUT handler."""
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a PATCH handler."""
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[HandlerT], HandlerT]:
        """Register a DELETE handler."""
        return self.route("DELETE", path, **options)

    def mount_static(
        self, prefix: str, directory: str | Path, *, cache_control: str = "public, max-age=300"
    ) -> None:
        """Serve files under ``directory`` at ``prefix/...`` (GET/HEAD, ETag/304, index.html)."""
        self._mounts.append(Mount(prefix.rstrip("/"), _StaticFiles(Path(directory), cache_control)))

    def openapi(self, title: str, version: str, *, description: str | None = None) -> dict[str, Any]:
        """An OpenAPI 3.1 document built from the routes' models and descriptions."""
        from ._openapi import build_openapi

        return build_openapi(self._routes, title=title, version=version, description=description)

    def add_openapi_route(
        self,
        path: str = "/openapi.json",
        *,
        title: str,
        version: str,
        description: str | None = None,
        access: Access = "public",
    ) -> None:
        """Serve :meth:`openapi` at ``path`` (built on first request, rebuilt after route changes)."""
        cache: dict[int, dict[str, Any]] = {}

        async def openapi(request: Request) -> Response:
            key = len(self._routes)
            if key not in cache:
                cache.clear()
                cache[key] = self.openapi(title, version, description=description)
            return json_response(cache[key])

        self.add_route(
            "GET", path, openapi, include_in_schema=False, summary="OpenAPI document", access=access
        )

    def build(self) -> Starlette:
        """The starlette application serving every route, mount and error shape."""
        by_path: dict[str, dict[str, Route]] = {}
        if self.security is not None:
            missing = [f"{r.method} {r.template}" for r in self._routes if "access" not in r.options]
            if missing:
                raise RouteError(f"routes without an access rule (add access=...): {', '.join(missing)}")
        for route in self._routes:
            by_path.setdefault(route.template, {})[route.method] = route
        ordered = sorted(by_path.items(), key=lambda item: -next(iter(item[1].values())).literal_count)
        routes: list[BaseRoute] = [
            StarletteRoute(
                path,
                _dispatcher(methods, self.check_responses, self._error_maps, self.security),
                methods=_ALL_METHODS,
            )
            for path, methods in ordered
        ]
        routes.extend(self._mounts)
        middleware = [Middleware(_GzipWhenAccepted)]
        if self.security is not None:
            middleware.insert(0, Middleware(HostCheck, policy=self.security.hosts))
        return Starlette(
            routes=routes,
            middleware=middleware,
            exception_handlers={
                HttpError: _http_error,
                HTTPException: _starlette_error,
                Exception: _unhandled,
            },
        )


def _check_response(route: Route, response: Response) -> None:
    """Raise ``ValueError`` unless the JSON body is exactly its route's response model."""
    model = route.options.get("response_model")
    if model is None or not 200 <= response.status_code < 300 or response.media_type != "application/json":
        return
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    body = json.loads(bytes(response.body))
    try:
        dumped = adapter.dump_python(adapter.validate_python(body), mode="json")
    except ValidationError as exc:
        raise ValueError(
            f"{route.method} {route.template} answered a body that is not {model}: {exc}"
        ) from None
    if dumped != body:
        raise ValueError(f"{route.method} {route.template} answered {body!r}, its model gives {dumped!r}")


def _dispatcher(
    methods: dict[str, Route],
    check: bool,
    error_maps: list[tuple[type[BaseException], ErrorMapper]],
    security: ApiSecurity | None,
) -> Callable[[Request], Awaitable[Response]]:
    allowed = sorted({*methods, *(["HEAD"] if "GET" in methods else [])})

    async def dispatch(request: Request) -> Response:
        method = request.method
        route = methods.get("GET" if method == "HEAD" else method)
        if route is None:
            raise HttpError(
                405,
                f"method {method} is not allowed on {request.url.path}",
                headers={"Allow": ", ".join(allowed)},
                allowed=allowed,
            )
        if security is not None:
            request.state.principal = security.admit(request, route.options["access"])
        try:
            response = await route.handler(request)
            if check:
                _check_response(route, response)
            return response
        except HttpError:
            raise
        except Exception as exc:
            for exc_type, mapper in error_maps:
                if isinstance(exc, exc_type):
                    return error_response(mapper(exc))
            return internal_error_response(exc, request)

    return dispatch
